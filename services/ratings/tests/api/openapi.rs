//! The checked-in OpenAPI document is the one the code generates: change a
//! route and this fails until `services/ratings/openapi.json` is updated.
//! Regenerate it with
//! `ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-ratings --test api openapi`,
//! which writes the generated document instead of comparing (as does
//! `cargo run -p eshop -- openapi ratings > services/ratings/openapi.json`).

use std::path::Path;

#[test]
fn the_checked_in_openapi_document_matches_the_routes() {
    let generated = serde_json::to_string_pretty(&eshop_ratings::openapi()).expect("serializes");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("ESHOP_WRITE_OPENAPI").is_some_and(|value| value == "1") {
        std::fs::write(&path, format!("{generated}\n")).expect("writing openapi.json");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated.trim() == checked_in.trim(),
        "services/ratings/openapi.json is out of date; regenerate it with \
         `ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-ratings --test api openapi`"
    );
}

#[test]
fn every_endpoint_is_documented_with_its_error_shape_and_security() {
    let document = serde_json::to_value(eshop_ratings::openapi()).expect("serializes");
    let paths = document["paths"].as_object().expect("paths");
    for (path, methods) in [
        ("/v1/products/{sku}/rating", &["get", "put", "delete"][..]),
        ("/v1/products/{sku}/ratings", &["get"][..]),
        ("/v1/ratings", &["get"][..]),
        ("/v1/products/{sku}/reviews", &["get"][..]),
    ] {
        for method in methods {
            assert!(
                paths[path][method].is_object(),
                "{method} {path} is not documented"
            );
        }
    }
    for method in ["get", "put", "delete"] {
        assert_eq!(
            paths["/v1/products/{sku}/rating"][method]["security"],
            serde_json::json!([{"bearer": []}]),
            "{method} needs a user's token"
        );
    }
    assert!(document["components"]["schemas"]["ErrorBody"].is_object());
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}
