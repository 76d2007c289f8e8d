//! The checked-in OpenAPI document is the one the code generates: change a
//! route and this fails until `services/dispatch/openapi.json` is
//! regenerated.
//!
//! To regenerate it, run this test with `ESHOP_WRITE_OPENAPI=1`:
//! `ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-dispatch --test api openapi`
//! writes the generated document to `services/dispatch/openapi.json`
//! instead of comparing.

use std::path::Path;

#[test]
fn the_checked_in_openapi_document_matches_the_routes() {
    let generated = serde_json::to_string_pretty(&eshop_dispatch::openapi()).expect("serializes");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("ESHOP_WRITE_OPENAPI").is_some_and(|value| value == "1") {
        std::fs::write(&path, format!("{generated}\n")).expect("writing openapi.json");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated.trim() == checked_in.trim(),
        "services/dispatch/openapi.json is out of date; regenerate it with \
         `ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-dispatch --test api openapi`"
    );
}

#[test]
fn every_endpoint_is_documented_with_its_security_and_error_shape() {
    let document = serde_json::to_value(eshop_dispatch::openapi()).expect("serializes");
    let paths = document["paths"].as_object().expect("paths");
    for path in [
        "/internal/shipments/{order_id}",
        "/internal/shipments/summary",
    ] {
        let operation = &paths[path]["get"];
        assert!(operation.is_object(), "GET {path} is not documented");
        assert_eq!(
            operation["security"][0]["internal_token"],
            serde_json::json!([]),
            "GET {path} does not say who may call it"
        );
        assert!(
            operation["responses"]["401"]["content"]["application/json"].is_object(),
            "GET {path} does not document its 401"
        );
    }
    let schemas = &document["components"]["schemas"];
    for schema in ["ErrorBody", "Shipment", "ShipmentStatus", "ShipmentSummary"] {
        assert!(schemas[schema].is_object(), "{schema} is not described");
    }
    assert!(document["components"]["securitySchemes"]["internal_token"].is_object());
}
