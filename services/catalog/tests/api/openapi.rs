//! The checked-in OpenAPI document is the one the code generates: change a
//! route and this fails until `services/catalog/openapi.json` is updated with
//! `cargo run -p eshop -- openapi catalog > services/catalog/openapi.json`.

#[test]
fn the_checked_in_openapi_document_matches_the_routes() {
    let generated = serde_json::to_string_pretty(&eshop_catalog::openapi()).expect("serializes");
    let checked_in = include_str!("../../openapi.json");
    assert!(
        generated.trim() == checked_in.trim(),
        "services/catalog/openapi.json is out of date; regenerate it with \
         `cargo run -p eshop -- openapi catalog > services/catalog/openapi.json`"
    );
}

#[test]
fn every_endpoint_is_documented_with_its_error_shape() {
    let document = serde_json::to_value(eshop_catalog::openapi()).expect("serializes");
    let paths = document["paths"].as_object().expect("paths");
    for path in [
        "/v1/categories",
        "/v1/products",
        "/v1/products/{sku}",
        "/v1/products/{sku}/image.svg",
        "/internal/products/{sku}",
        "/internal/reservations/{id}",
        "/internal/reservations/{id}/commit",
        "/internal/reservations/{id}/release",
    ] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    assert!(document["components"]["schemas"]["ErrorBody"].is_object());
}
