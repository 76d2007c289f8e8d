//! The checked-in OpenAPI document is the one the code generates: change a
//! route and this fails until `services/wallet/openapi.json` is regenerated
//! with
//!
//! ```sh
//! ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-wallet --test api openapi
//! ```
//!
//! which writes the generated document there instead of comparing.

use std::path::Path;

#[test]
fn the_checked_in_openapi_document_matches_the_routes() {
    let generated = serde_json::to_string_pretty(&eshop_wallet::openapi()).expect("serializes");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("ESHOP_WRITE_OPENAPI").is_some_and(|value| value == "1") {
        std::fs::write(&path, format!("{generated}\n")).expect("writing openapi.json");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated.trim() == checked_in.trim(),
        "services/wallet/openapi.json is out of date; regenerate it with \
         `ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-wallet --test api openapi`"
    );
}

#[test]
fn every_endpoint_is_documented_with_its_security_and_error_shape() {
    let document = serde_json::to_value(eshop_wallet::openapi()).expect("serializes");
    let paths = document["paths"].as_object().expect("paths");
    for (path, method, scheme) in [
        ("/v1/wallet", "get", "bearer"),
        ("/v1/wallet/top-ups", "post", "bearer"),
        ("/internal/charges", "post", "internal_token"),
        ("/internal/charges/{id}", "get", "internal_token"),
        ("/internal/refunds", "post", "internal_token"),
        ("/internal/ledger", "get", "internal_token"),
    ] {
        let operation = &paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not documented"))[method];
        assert!(
            operation["security"][0].get(scheme).is_some(),
            "{method} {path} does not name {scheme}"
        );
        assert!(
            operation["responses"]["401"].is_object(),
            "{method} {path} does not document 401"
        );
    }
    let top_up_parameters = &paths["/v1/wallet/top-ups"]["post"]["parameters"];
    assert_eq!(top_up_parameters[0]["name"], "Idempotency-Key");
    assert_eq!(top_up_parameters[0]["in"], "header");
    let components = &document["components"];
    assert!(components["schemas"]["ErrorBody"].is_object());
    assert!(components["securitySchemes"]["bearer"].is_object());
    assert!(components["securitySchemes"]["internal_token"].is_object());
}
