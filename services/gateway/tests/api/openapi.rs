//! The checked-in OpenAPI document is the one the code generates: change a
//! route and this fails until `services/gateway/openapi.json` is updated.
//! Regenerate it with
//! `ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-gateway --test api openapi`,
//! which writes the generated document instead of comparing.

use std::path::Path;

#[test]
fn the_checked_in_openapi_document_matches_the_routes() {
    let generated = serde_json::to_string_pretty(&eshop_gateway::openapi()).expect("serializes");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("ESHOP_WRITE_OPENAPI").is_some_and(|value| value == "1") {
        std::fs::write(&path, format!("{generated}\n")).expect("writing openapi.json");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated.trim() == checked_in.trim(),
        "services/gateway/openapi.json is out of date; regenerate it with \
         `ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-gateway --test api openapi`"
    );
}

#[test]
fn every_endpoint_is_documented_with_its_security() {
    let document = serde_json::to_value(eshop_gateway::openapi()).expect("serializes");
    let paths = document["paths"].as_object().expect("paths");
    for (path, method, secured) in [
        ("/api/categories", "get", false),
        ("/api/products", "get", false),
        ("/api/products/{sku}", "get", false),
        ("/api/products/{sku}/image.svg", "get", false),
        ("/api/products/{sku}/rating", "put", true),
        ("/api/cart", "get", false),
        ("/api/cart/items", "post", false),
        ("/api/cart/items/{sku}", "put", false),
        ("/api/users", "post", false),
        ("/api/sessions", "post", false),
        ("/api/me", "get", true),
        ("/api/wallet/top-ups", "post", true),
        ("/api/cities", "get", false),
        ("/api/quotes", "post", false),
        ("/api/orders", "get", true),
        ("/api/orders/{id}/invoice", "get", true),
        ("/api/checkouts", "post", true),
    ] {
        let operation = &paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not documented"))[method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        assert_eq!(
            operation["security"][0]["bearer"].is_array(),
            secured,
            "{method} {path}"
        );
    }
    assert!(document["components"]["schemas"]["ErrorBody"].is_object());
}
