//! The `Idempotency-Key` header: a key the caller chooses, the same on
//! every retry, so that a retried request that moves money or stock is not
//! done twice. Every service that takes one parses it here, so the rules
//! and the errors are the same everywhere: 1 to [`MAX_KEY_LENGTH`]
//! printable ASCII characters, and a missing or malformed key is 422
//! naming the header.

use axum::{extract::FromRequestParts, http::request::Parts};

use crate::error::ApiError;

/// The header that carries the key.
pub const KEY_HEADER: &str = "Idempotency-Key";
/// The longest key, in characters.
pub const MAX_KEY_LENGTH: usize = 100;

/// A caller-chosen key: 1 to 100 printable ASCII characters, without
/// leading or trailing spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The key in `text`, or 422 naming `field`.
    pub fn parse(field: &str, text: &str) -> Result<Self, ApiError> {
        let text = text.trim();
        let printable = text.bytes().all(|byte| (b' '..=b'~').contains(&byte));
        if text.is_empty() || text.len() > MAX_KEY_LENGTH || !printable {
            return Err(ApiError::invalid(
                field,
                format!("an idempotency key is 1 to {MAX_KEY_LENGTH} printable ASCII characters"),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The `Idempotency-Key` header, required.
impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let value = parts.headers.get(KEY_HEADER).ok_or_else(|| {
            ApiError::invalid(
                KEY_HEADER,
                "send a key of your choosing, the same on every retry, so a retry is not done twice",
            )
        })?;
        let text = value.to_str().map_err(|_| {
            ApiError::invalid(
                KEY_HEADER,
                format!("an idempotency key is 1 to {MAX_KEY_LENGTH} printable ASCII characters"),
            )
        })?;
        Self::parse(KEY_HEADER, text)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, Request, StatusCode};

    use super::*;

    async fn extract(value: Option<HeaderValue>) -> Result<IdempotencyKey, ApiError> {
        let mut request = Request::builder().uri("/");
        if let Some(value) = value {
            request = request.header(KEY_HEADER, value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        IdempotencyKey::from_request_parts(&mut parts, &()).await
    }

    #[tokio::test]
    async fn a_key_is_required_bounded_and_printable_ascii_and_each_fault_names_the_header() {
        let key = extract(Some(HeaderValue::from_static(" abc-1 ")))
            .await
            .unwrap();
        assert_eq!(key.as_str(), "abc-1");
        let longest = "k".repeat(MAX_KEY_LENGTH);
        assert!(IdempotencyKey::parse(KEY_HEADER, &longest).is_ok());
        let faults = [
            None,
            Some(HeaderValue::from_static("")),
            Some(HeaderValue::from_str(&"k".repeat(MAX_KEY_LENGTH + 1)).unwrap()),
            Some(HeaderValue::from_bytes("clé".as_bytes()).unwrap()),
        ];
        for fault in faults {
            let error = extract(fault.clone()).await.unwrap_err();
            assert_eq!(
                (error.status(), error.code(), error.field()),
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_field",
                    Some(KEY_HEADER)
                ),
                "{fault:?}"
            );
        }
        let not_ascii = extract(Some(HeaderValue::from_bytes("clé".as_bytes()).unwrap()))
            .await
            .unwrap_err();
        assert!(
            not_ascii.message().contains("printable ASCII"),
            "a non-ASCII key is invalid, not missing: {}",
            not_ascii.message()
        );
    }
}
