//! Liveness and readiness: `/healthz` answers 200 while the process serves;
//! `/readyz` answers 200 only when the service's stores respond, and 503
//! with the failing checks otherwise, so Kubernetes routes traffic only to
//! pods that can serve it.

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
    for check in checks.iter() {
        let outcome = tokio::time::timeout(CHECK_TIMEOUT, check.check())
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {CHECK_TIMEOUT:?}")));
        if let Err(reason) = outcome {
            failing.insert(check.name().to_owned(), reason.into());
        }
    }
    if failing.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "failing": failing })),
        )
    }
}
