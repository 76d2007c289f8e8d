//! Logs and request ids.
//!
//! Logs are JSON lines, on stdout for a service (`eshop serve`) and on
//! stderr for a command that talks to a person on stdout (`eshop up`).
//! Every request gets an id: the caller's
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

/// Where the log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    Stdout,
    Stderr,
}

/// Starts JSON logging with `filter` (e.g. `info,eshop_catalog=debug`) to
/// `output`. Later calls, as in tests that start several services, change
/// nothing.
pub fn init(filter: &str, output: LogOutput) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match output {
        LogOutput::Stdout => registry.with(layer).try_init(),
        LogOutput::Stderr => registry.with(layer.with_writer(std::io::stderr)).try_init(),
    };
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
