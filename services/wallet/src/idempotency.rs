//! Idempotency by a caller-chosen key: the same key with the same request
//! gets the first answer, byte for byte; the same key with another request
//! is refused.
//!
//! Every operation that moves money runs under a [`Claim`]: its key, the
//! scope the key lives in (a user's top-ups, or the saga's charges or
//! refunds) and a fingerprint of the validated request. The store takes the
//! claim in the same transaction that moves the money and keeps the answer
//! (status and body) with it, so a retry, however concurrent and whether or
//! not the service restarted in between, can neither move the money twice
//! nor see another answer.
//!
//! Answers the service decided on are kept: successes and refusals such as
//! a declined card or insufficient funds. Answers that say nothing happened
//! are not: invalid input, an unknown charge, and a bank that failed to
//! answer (`processing_error`), which a retry with the same key may get
//! past.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use eshop_platform::{
    error::{ApiError, ErrorBody, ErrorDetail},
    idempotency::IdempotencyKey,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The header that marks an answer as a replay of the first one.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Where a key lives: keys of different scopes never meet.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// A user's top-ups: users pick keys independently of each other.
    TopUp(Uuid),
    /// The saga's charges.
    Charge,
    /// The saga's refunds.
    Refund,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TopUp(user) => write!(f, "top_up/{user}"),
            Self::Charge => f.write_str("charge"),
            Self::Refund => f.write_str("refund"),
        }
    }
}

/// A key taken for one request.
#[derive(Debug, Clone)]
pub struct Claim {
    pub scope: String,
    pub key: String,
    /// SHA-256 (hex) of the validated request: two requests that mean the
    /// same (e.g. a card number with or without spaces) match.
    pub fingerprint: String,
    /// The field that names the key, for the error when it is reused.
    key_field: &'static str,
}

impl Claim {
    pub fn new(
        scope: Scope,
        key: &IdempotencyKey,
        key_field: &'static str,
        request: &impl Serialize,
    ) -> Self {
        let canonical = serde_json::to_vec(request).expect("requests serialize to JSON");
        let fingerprint = Sha256::digest(&canonical)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Self {
            scope: scope.to_string(),
            key: key.as_str().to_owned(),
            fingerprint,
            key_field,
        }
    }

    /// 422: the key was used before for another request.
    pub fn reused(&self) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this idempotency key was used for a different request; use a new key",
        )
        .with_field(self.key_field)
    }
}

/// An answer as it is sent and kept: status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
}

/// An answer decided now, with the outcome it is counted under.
#[derive(Debug, Clone)]
pub struct Decision {
    pub answer: Answer,
    /// `succeeded`, or the code of the refusal.
    pub outcome: String,
}

impl Decision {
    /// 201 with `body`.
    pub fn created(body: &impl Serialize) -> Self {
        Self {
            answer: Answer {
                status: StatusCode::CREATED,
                body: serde_json::to_string(body).expect("answers serialize to JSON"),
            },
            outcome: "succeeded".to_owned(),
        }
    }

    /// The refusal `error`, in the shared error shape.
    pub fn refused(error: &ApiError) -> Self {
        let body = ErrorBody {
            error: ErrorDetail {
                code: error.code().to_owned(),
                message: error.message().to_owned(),
                field: error.field().map(ToOwned::to_owned),
            },
        };
        Self {
            answer: Answer {
                status: error.status(),
                body: serde_json::to_string(&body).expect("errors serialize to JSON"),
            },
            outcome: error.code().to_owned(),
        }
    }
}

/// What an idempotent request came to.
#[derive(Debug)]
pub enum Idempotent {
    /// Decided now, and kept under the key.
    Done(Decision),
    /// The key was used before for the same request: its first answer.
    Replayed(Answer),
    /// The key was used before for another request.
    KeyReused,
}

impl Idempotent {
    /// The outcome a metric counts it under.
    pub fn outcome(&self) -> &str {
        match self {
            Self::Done(decision) => &decision.outcome,
            Self::Replayed(_) => "replayed",
            Self::KeyReused => "idempotency_key_reused",
        }
    }

    /// The HTTP answer. A replayed success is 200 rather than 201 (nothing
    /// was created this time) and carries `idempotent-replayed: true`; its
    /// body, like a replayed refusal's status and body, is the first one.
    pub fn into_response(self, claim: &Claim) -> Response {
        match self {
            Self::Done(decision) => json(decision.answer),
            Self::Replayed(answer) => {
                let status = if answer.status == StatusCode::CREATED {
                    StatusCode::OK
                } else {
                    answer.status
                };
                let mut response = json(Answer { status, ..answer });
                response
                    .headers_mut()
                    .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
                response
            }
            Self::KeyReused => claim.reused().into_response(),
        }
    }
}

fn json(answer: Answer) -> Response {
    (
        answer.status,
        [(header::CONTENT_TYPE, "application/json")],
        answer.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_printable_ascii() {
        assert!(IdempotencyKey::parse("k", "checkout-1/charge").is_ok());
        assert!(IdempotencyKey::parse("k", &"k".repeat(100)).is_ok());
        for bad in ["", "tab\there", "naïve", &"k".repeat(101)] {
            let error = IdempotencyKey::parse("k", bad).unwrap_err();
            assert_eq!(error.field(), Some("k"), "{bad:?}");
        }
    }

    #[test]
    fn the_fingerprint_depends_on_the_request_and_not_the_key() {
        let key = IdempotencyKey::parse("k", "a").unwrap();
        let other_key = IdempotencyKey::parse("k", "b").unwrap();
        let claim = |key, request: (i64, &str)| Claim::new(Scope::Charge, key, "k", &request);
        assert_eq!(
            claim(&key, (1, "x")).fingerprint,
            claim(&other_key, (1, "x")).fingerprint
        );
        assert_ne!(
            claim(&key, (1, "x")).fingerprint,
            claim(&key, (2, "x")).fingerprint
        );
        assert_eq!(claim(&key, (1, "x")).fingerprint.len(), 64);
    }

    #[test]
    fn a_refusal_keeps_the_error_shape() {
        let decision = Decision::refused(&ApiError::invalid("amount_cents", "too much"));
        assert_eq!(decision.answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(decision.outcome, "invalid_field");
        let body: serde_json::Value = serde_json::from_str(&decision.answer.body).unwrap();
        assert_eq!(body["error"]["field"], "amount_cents");
    }
}
