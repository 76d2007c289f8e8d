//! The checked-in OpenAPI document is the one the code generates: change a
//! route and this fails until `services/payments/openapi.json` is updated
//! with `cargo run -p eshop -- openapi payments > services/payments/openapi.json`.

#[test]
fn the_checked_in_openapi_document_matches_the_routes() {
    let generated = serde_json::to_string_pretty(&eshop_payments::openapi()).expect("serializes");
    let checked_in = include_str!("../../openapi.json");
    assert!(
        generated.trim() == checked_in.trim(),
        "services/payments/openapi.json is out of date; regenerate it with \
         `cargo run -p eshop -- openapi payments > services/payments/openapi.json`"
    );
}
