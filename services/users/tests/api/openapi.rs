//! The checked-in OpenAPI document is the one the code generates: change a
//! route and this fails until `services/users/openapi.json` is regenerated.
//! Regenerate it with
//! `ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-users --test api openapi`,
//! which writes the document instead of comparing it (the same text as
//! `eshop openapi users` prints).

use std::path::Path;

#[test]
fn the_checked_in_openapi_document_matches_the_routes() {
    let generated = serde_json::to_string_pretty(&eshop_users::openapi()).expect("serializes");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("ESHOP_WRITE_OPENAPI").is_some_and(|value| value == "1") {
        std::fs::write(&path, format!("{generated}\n")).expect("writing openapi.json");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated.trim() == checked_in.trim(),
        "services/users/openapi.json is out of date; regenerate it with \
         `ESHOP_WRITE_OPENAPI=1 cargo test -p eshop-users --test api openapi`"
    );
}

#[test]
fn every_endpoint_is_documented_with_its_security_and_error_shape() {
    let document = serde_json::to_value(eshop_users::openapi()).expect("serializes");
    let paths = &document["paths"];
    for (path, method, security) in [
        ("/v1/users", "post", None),
        ("/v1/sessions", "post", None),
        ("/v1/users/me", "get", Some("bearer")),
        ("/v1/users/me", "patch", Some("bearer")),
        ("/v1/users/me/password", "put", Some("bearer")),
        ("/v1/users/me/addresses", "get", Some("bearer")),
        ("/v1/users/me/addresses", "post", Some("bearer")),
        ("/v1/users/me/addresses/{id}", "put", Some("bearer")),
        ("/v1/users/me/addresses/{id}", "delete", Some("bearer")),
        ("/v1/keys", "get", None),
        ("/internal/users/{id}", "get", Some("internal_token")),
    ] {
        let operation = &paths[path][method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        match security {
            Some(scheme) => assert!(
                operation["security"][0].get(scheme).is_some(),
                "{method} {path} does not say it needs {scheme}"
            ),
            None => assert!(operation.get("security").is_none(), "{method} {path}"),
        }
    }
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["internal_token"]["name"], "x-internal-token");
    assert!(document["components"]["schemas"]["ErrorBody"].is_object());
}
