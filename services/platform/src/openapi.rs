//! The security schemes the services' OpenAPI documents name, so that every
//! document spells them the same way: `internal_token`, the
//! `x-internal-token` header services send each other, and `bearer`, a
//! user's JWT. A service lists the ones it uses in
//! `#[openapi(modifiers(...))]` and names them in its paths' `security`.

use utoipa::{
    Modify,
    openapi::{
        OpenApi,
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::auth::INTERNAL_TOKEN_HEADER;

/// The `internal_token` scheme: the shop's internal credential.
#[derive(Debug)]
pub struct InternalTokenScheme;

impl Modify for InternalTokenScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        openapi
            .components
            .get_or_insert_default()
            .add_security_scheme(
                "internal_token",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(INTERNAL_TOKEN_HEADER))),
            );
    }
}

/// The `bearer` scheme: a user's token from users, as `authorization:
/// Bearer <JWT>`.
#[derive(Debug)]
pub struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        openapi
            .components
            .get_or_insert_default()
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
    }
}
