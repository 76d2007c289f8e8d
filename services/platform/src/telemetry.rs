//! Logs and request ids.
//!
//! Logs are JSON lines on stdout. Every request gets an id: the caller's
//! `x-request-id` if it sent one, a new UUID otherwise. The id is echoed on
//! the response, recorded on the request's log span, and carried on every
//! call the service makes while handling the request (see
//! [`current_request_id`]).

use axum::{extract::Request, http::HeaderValue, middleware::Next, response::Response};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// The header that carries request ids.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: HeaderValue;
}

/// Starts JSON logging with `filter` (e.g. `info,eshop_catalog=debug`).
/// Later calls, as in tests that start several services, change nothing.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false),
        )
        .try_init();
}

/// The id of the request being handled, if any.
pub fn current_request_id() -> Option<HeaderValue> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Middleware that makes the request's id current while it is handled.
pub(crate) async fn scope_request_id(request: Request, next: Next) -> Response {
    match request.headers().get(REQUEST_ID_HEADER).cloned() {
        Some(id) => REQUEST_ID.scope(id, next.run(request)).await,
        None => next.run(request).await,
    }
}
