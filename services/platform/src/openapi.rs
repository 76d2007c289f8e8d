//! What every service's OpenAPI document shares:
//!
//! - the security schemes, spelled the same way everywhere:
//!   `internal_token`, the `x-internal-token` header services send each
//!   other, and `bearer`, a user's JWT. A service lists the ones it uses in
//!   `#[openapi(modifiers(...))]` and names them in its paths' `security`;
//! - the answers the shared server layers and extractors give on any route
//!   of a given shape, which [`with_platform_responses`] documents on each
//!   operation, so that a route's own annotations list only what its
//!   handler decides.

use std::collections::BTreeMap;

use utoipa::{
    Modify, PartialSchema, ToSchema,
    openapi::{
        ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder,
        path::{Operation, ParameterIn},
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::{auth::INTERNAL_TOKEN_HEADER, error::ErrorBody};

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

/// The answers the platform gives on any route, whatever its handler does.
const EVERY_ROUTE: &[(&str, &str)] = &[
    (
        "500",
        "an unexpected failure (`internal`), logged with the request id",
    ),
    (
        "503",
        "the service is `starting` (its store is not ready yet), a store or a service it needs \
         is `unavailable`, or the request took longer than the service's limit (`timeout`); \
         retry later",
    ),
];

/// The answers of the JSON body extractor and the server's body limits.
const WITH_BODY: &[(&str, &str)] = &[
    (
        "400",
        "the body is not JSON (`malformed_json`) or could not be read (`unreadable_body`)",
    ),
    (
        "408",
        "the body did not arrive in time (`request_timeout`); the connection is closed",
    ),
    (
        "413",
        "the body is larger than this endpoint accepts (`body_too_large`)",
    ),
    (
        "415",
        "the body was not sent as `content-type: application/json` (`unsupported_media_type`)",
    ),
    (
        "422",
        "a field is missing, of the wrong type or out of range (`invalid_field`); `field` names it",
    ),
];

/// The answer of the path extractor.
const WITH_PATH_PARAMETERS: &[(&str, &str)] = &[(
    "400",
    "a path parameter is not of its type (`invalid_path`)",
)];

/// The answer of the query extractor and of the checks on its values.
const WITH_QUERY_PARAMETERS: &[(&str, &str)] = &[(
    "422",
    "a query parameter is unknown, of the wrong type or out of range (`invalid_field`); \
     `field` names it",
)];

/// The answers of the credential extractors.
const WITH_SECURITY: &[(&str, &str)] = &[(
    "401",
    "no credential, or one that is wrong or expired (`unauthorized`, `invalid_token`, \
     `token_expired`)",
)];

/// `document` with, on every operation, the answers the platform gives on
/// routes of its shape: every route can answer 500 and 503; one with a
/// JSON body 400, 408, 413, 415 and 422; one with path parameters 400; one
/// with query parameters 422; one with a credential 401. Each is an
/// [`ErrorBody`]. An answer the route documents itself is kept, and given
/// the platform's description if it has none.
pub fn with_platform_responses(mut document: OpenApi) -> OpenApi {
    document
        .components
        .get_or_insert_default()
        .schemas
        .entry(ErrorBody::name().into_owned())
        .or_insert_with(ErrorBody::schema);
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, description) in platform_responses(operation) {
                document_response(operation, status, &description);
            }
        }
    }
    document
}

/// The platform's answers on `operation`, by its shape: each status with
/// every reason for it.
fn platform_responses(operation: &Operation) -> BTreeMap<&'static str, String> {
    let has_parameters_in = |place: ParameterIn| {
        operation.parameters.iter().flatten().any(
            |parameter| matches!(parameter, RefOr::T(parameter) if parameter.parameter_in == place),
        )
    };
    let shapes = [
        (true, EVERY_ROUTE),
        (operation.request_body.is_some(), WITH_BODY),
        (has_parameters_in(ParameterIn::Path), WITH_PATH_PARAMETERS),
        (has_parameters_in(ParameterIn::Query), WITH_QUERY_PARAMETERS),
        (
            operation
                .security
                .as_ref()
                .is_some_and(|security| !security.is_empty()),
            WITH_SECURITY,
        ),
    ];
    let mut responses: BTreeMap<&str, String> = BTreeMap::new();
    for (status, reason) in shapes
        .into_iter()
        .filter(|(applies, _)| *applies)
        .flat_map(|(_, answers)| answers)
    {
        responses
            .entry(status)
            .and_modify(|reasons| {
                reasons.push_str("; or ");
                reasons.push_str(reason);
            })
            .or_insert_with(|| (*reason).to_owned());
    }
    responses
}

/// Adds `status` to `operation`'s answers as an [`ErrorBody`], or gives
/// the route's own entry `description` if it has none.
fn document_response(operation: &mut Operation, status: &str, description: &str) {
    let answers = &mut operation.responses.responses;
    match answers.get_mut(status) {
        Some(RefOr::T(response)) if response.description.is_empty() => {
            response.description = description.to_owned();
        }
        Some(_) => {}
        None => {
            let error_body = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build();
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/json", error_body)
                .build();
            answers.insert(status.to_owned(), RefOr::T(response));
        }
    }
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::{
        HttpMethod, PathItem, Paths, path::ParameterBuilder, request_body::RequestBody,
        security::SecurityRequirement,
    };

    use super::*;

    fn statuses(document: &OpenApi, path: &str) -> Vec<String> {
        document.paths.paths[path]
            .post
            .as_ref()
            .unwrap()
            .responses
            .responses
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn each_shape_of_route_gets_the_answers_the_platform_gives_it() {
        let plain = Operation::new();
        let mut with_everything = Operation::new();
        with_everything.request_body = Some(RequestBody::new().into());
        with_everything.parameters = Some(vec![
            ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .build()
                .into(),
            ParameterBuilder::new()
                .name("page")
                .parameter_in(ParameterIn::Query)
                .build()
                .into(),
        ]);
        with_everything.security = Some(vec![SecurityRequirement::new("bearer", [""; 0])]);
        let mut documented = Operation::new();
        documented.security = Some(vec![SecurityRequirement::new("bearer", [""; 0])]);
        documented
            .responses
            .responses
            .insert("401".to_owned(), RefOr::T(ResponseBuilder::new().build()));
        let mut paths = Paths::new();
        for (path, operation) in [
            ("/plain", plain),
            ("/all", with_everything),
            ("/own", documented),
        ] {
            paths
                .paths
                .insert(path.to_owned(), PathItem::new(HttpMethod::Post, operation));
        }
        let mut document = OpenApi::new(utoipa::openapi::Info::new("test", "1"), paths);

        document = with_platform_responses(document);

        assert_eq!(statuses(&document, "/plain"), ["500", "503"]);
        assert_eq!(
            statuses(&document, "/all"),
            ["400", "401", "408", "413", "415", "422", "500", "503"]
        );
        let bad_request = &document.paths.paths["/all"]
            .post
            .as_ref()
            .unwrap()
            .responses
            .responses["400"];
        let RefOr::T(bad_request) = bad_request else {
            panic!("inline")
        };
        assert!(
            bad_request.description.contains("malformed_json")
                && bad_request.description.contains("invalid_path"),
            "{}",
            bad_request.description
        );
        let own = &document.paths.paths["/own"]
            .post
            .as_ref()
            .unwrap()
            .responses
            .responses["401"];
        let RefOr::T(own) = own else { panic!("inline") };
        assert!(
            own.description.contains("unauthorized"),
            "{}",
            own.description
        );
        assert!(
            document
                .components
                .unwrap()
                .schemas
                .contains_key("ErrorBody"),
            "the answers' schema is in the document"
        );
    }
}
