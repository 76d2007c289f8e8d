//! The checked-in OpenAPI document is the one the code generates: change a
//! route and this fails until `services/orders/openapi.json` is updated.
//! Regenerate it with
//! `ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-orders --test api openapi`,
//! which writes the generated document instead of comparing.

use std::path::Path;

use serde_json::json;

#[test]
fn the_checked_in_openapi_document_matches_the_routes() {
    let generated = serde_json::to_string_pretty(&eshop_orders::openapi()).expect("serializes");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("ESHOP_WRITE_OPENAPI").is_some_and(|value| value == "1") {
        std::fs::write(&path, format!("{generated}\n")).expect("writing openapi.json");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated.trim() == checked_in.trim(),
        "services/orders/openapi.json is out of date; regenerate it with \
         `ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-orders --test api openapi`"
    );
}

#[test]
fn every_endpoint_is_documented_with_its_security() {
    let document = serde_json::to_value(eshop_orders::openapi()).expect("serializes");
    let paths = document["paths"].as_object().expect("paths");
    for (path, method, scheme) in [
        ("/v1/orders", "get", "bearer"),
        ("/v1/orders/{id}", "get", "bearer"),
        ("/v1/orders/{id}/invoice", "get", "bearer"),
        ("/v1/orders/{id}/cancel", "post", "bearer"),
        ("/v1/orders/{id}/return", "post", "bearer"),
        ("/internal/orders", "post", "internal_token"),
        (
            "/internal/orders/by-checkout/{checkout_id}",
            "get",
            "internal_token",
        ),
        ("/internal/orders/summary", "get", "internal_token"),
    ] {
        let operation = &paths[path][method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        assert_eq!(
            operation["security"],
            json!([{ scheme: [] }]),
            "{method} {path} needs {scheme}"
        );
    }
    assert!(
        paths["/v1/orders/{id}/invoice"]["get"]["responses"]["200"]["content"]["text/html"]
            .is_object(),
        "the invoice is HTML"
    );
    let components = &document["components"];
    assert!(components["schemas"]["ErrorBody"].is_object());
    assert_eq!(components["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(
        components["securitySchemes"]["internal_token"]["name"],
        "x-internal-token"
    );
}
