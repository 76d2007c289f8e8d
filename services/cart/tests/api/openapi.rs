//! The checked-in OpenAPI document is the one the code generates: change a
//! route and this fails until `services/cart/openapi.json` is regenerated.
//!
//! To regenerate it, run this test with `ESHOP_WRITE_OPENAPI=1`:
//! `ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-cart --test api openapi`
//! writes the generated document to `services/cart/openapi.json` instead of
//! comparing.

use std::path::Path;

#[test]
fn the_checked_in_openapi_document_matches_the_routes() {
    let generated = serde_json::to_string_pretty(&eshop_cart::openapi()).expect("serializes");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("ESHOP_WRITE_OPENAPI").is_some_and(|value| value == "1") {
        std::fs::write(&path, format!("{generated}\n")).expect("writing openapi.json");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated.trim() == checked_in.trim(),
        "services/cart/openapi.json is out of date; regenerate it with \
         `ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-cart --test api openapi`"
    );
}

#[test]
fn every_endpoint_is_documented_with_its_security_and_error_shape() {
    let document = serde_json::to_value(eshop_cart::openapi()).expect("serializes");
    let paths = document["paths"].as_object().expect("paths");
    for (path, methods) in [
        ("/v1/cart", &["get", "delete"][..]),
        ("/v1/cart/items", &["post"]),
        ("/v1/cart/items/{sku}", &["put", "delete"]),
        ("/v1/cart/merge", &["post"]),
        ("/internal/carts/{user_id}", &["get", "delete"]),
    ] {
        for method in methods {
            let operation = &paths[path][method];
            assert!(operation.is_object(), "{method} {path} is not documented");
            assert!(
                operation["security"].is_array(),
                "{method} {path} does not say who may call it"
            );
            assert!(
                operation["responses"]["401"]["content"]["application/json"].is_object(),
                "{method} {path} does not document its 401"
            );
        }
    }
    let schemes = &document["components"]["securitySchemes"];
    for scheme in ["bearer", "session_id", "internal_token"] {
        assert!(schemes[scheme].is_object(), "{scheme} is not described");
    }
    assert!(document["components"]["schemas"]["ErrorBody"].is_object());
    assert!(document["components"]["schemas"]["CartView"].is_object());
}
