//! The checked-in OpenAPI document is the one the code generates: change a
//! route and this fails until `services/shipping/openapi.json` is updated.
//! Regenerate it with
//! `ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-shipping --test api openapi`,
//! which writes the document instead of comparing it.

use std::path::Path;

#[test]
fn the_checked_in_openapi_document_matches_the_routes() {
    let generated = serde_json::to_string_pretty(&eshop_shipping::openapi()).expect("serializes");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("ESHOP_WRITE_OPENAPI").is_some_and(|value| value == "1") {
        std::fs::write(&path, format!("{generated}\n")).expect("writing openapi.json");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated.trim() == checked_in.trim(),
        "services/shipping/openapi.json is out of date; regenerate it with \
         `ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-shipping --test api openapi`"
    );
}

#[test]
fn every_endpoint_is_documented_with_its_error_shape() {
    let document = serde_json::to_value(eshop_shipping::openapi()).expect("serializes");
    let paths = document["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/v1/countries", "get"),
        ("/v1/cities", "get"),
        ("/v1/cities/{id}", "get"),
        ("/v1/quotes", "post"),
        ("/v1/quotes/{id}", "get"),
        ("/internal/quotes/{id}/confirm", "post"),
    ] {
        assert!(
            paths.get(path).and_then(|item| item.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    assert!(document["components"]["schemas"]["ErrorBody"].is_object());
    let confirm = &paths["/internal/quotes/{id}/confirm"]["post"];
    assert_eq!(
        confirm["security"][0]["internal_token"],
        serde_json::json!([])
    );
}
