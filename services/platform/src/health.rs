//! Liveness and readiness: `/healthz` answers 200 while the process serves;
//! `/readyz` answers 200 only when the service's stores respond, and 503
//! with the failing checks otherwise, so Kubernetes routes traffic only to
//! pods that can serve it. Checks of what a service can do without (an
//! optional downstream service) are reported under `degraded` and leave it
//! ready.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::json;

/// How long a readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Something a service needs before it can serve: a store, usually.
#[async_trait]
pub trait Readiness: Send + Sync {
    /// Its name in `/readyz` answers, e.g. `postgres`.
    fn name(&self) -> &'static str;

    /// `Ok` when it responds; otherwise why not.
    async fn check(&self) -> Result<(), String>;

    /// Whether the service cannot serve without it. An optional check that
    /// fails is reported under `degraded` and leaves the service ready.
    fn required(&self) -> bool {
        true
    }
}

/// The checks `/readyz` runs.
pub type Checks = Arc<Vec<Arc<dyn Readiness>>>;

/// `GET /healthz`.
pub(crate) async fn live() -> impl IntoResponse {
    Json(json!({ "status": "live" }))
}

/// `GET /readyz`.
pub(crate) async fn ready(State(checks): State<Checks>) -> impl IntoResponse {
    let mut failing = serde_json::Map::new();
    let mut degraded = serde_json::Map::new();
    for check in checks.iter() {
        let outcome = tokio::time::timeout(CHECK_TIMEOUT, check.check())
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {CHECK_TIMEOUT:?}")));
        if let Err(reason) = outcome {
            let report = if check.required() {
                &mut failing
            } else {
                &mut degraded
            };
            report.insert(check.name().to_owned(), reason.into());
        }
    }
    if failing.is_empty() && degraded.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else if failing.is_empty() {
        (
            StatusCode::OK,
            Json(json!({ "status": "ready", "degraded": degraded })),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "failing": failing })),
        )
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    struct Check {
        name: &'static str,
        up: bool,
        required: bool,
    }

    #[async_trait]
    impl Readiness for Check {
        fn name(&self) -> &'static str {
            self.name
        }

        async fn check(&self) -> Result<(), String> {
            if self.up {
                Ok(())
            } else {
                Err("down".to_owned())
            }
        }

        fn required(&self) -> bool {
            self.required
        }
    }

    async fn readiness(checks: Vec<Check>) -> (StatusCode, serde_json::Value) {
        let checks: Checks = Arc::new(
            checks
                .into_iter()
                .map(|check| Arc::new(check) as Arc<dyn Readiness>)
                .collect(),
        );
        let response = ready(State(checks)).await.into_response();
        let status = response.status();
        let body = to_bytes(response.into_body(), 1024).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn an_optional_check_that_fails_is_reported_but_leaves_the_service_ready() {
        let (status, body) = readiness(vec![
            Check {
                name: "catalog",
                up: true,
                required: true,
            },
            Check {
                name: "ratings",
                up: false,
                required: false,
            },
        ])
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"status": "ready", "degraded": {"ratings": "down"}})
        );

        let (status, body) = readiness(vec![
            Check {
                name: "catalog",
                up: false,
                required: true,
            },
            Check {
                name: "ratings",
                up: true,
                required: false,
            },
        ])
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["failing"], json!({"catalog": "down"}));
    }
}
