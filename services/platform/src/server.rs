//! The HTTP server every service runs.
//!
//! A service hands over its API routes, readiness checks and metrics
//! registry as a [`Service`]; [`Application::bind`] puts the shared layers
//! around the API (request ids, logs, metrics, a body limit, a timeout, JSON
//! 404/405 answers, panics turned into a JSON 500) and binds it, and binds
//! `/healthz`, `/readyz` and `/metrics` apart, on the admin address: what
//! routes the public to the API (an Ingress, a Service) never reaches them,
//! and a NetworkPolicy can open them to Prometheus alone. `/healthz`, which
//! says only that the process serves, answers on the API's address too, for
//! other services that check they can reach it. [`Application::run_until_stopped`]
//! serves until the stop signal, lets requests in flight finish, and then
//! stops the service's background workers.
//!
//! Slow clients are the client's fault and cost little: a connection that
//! has not sent a whole request head within [`HEADER_READ_TIMEOUT`] (a new
//! one, or a kept-alive one between requests) is closed, and a body that
//! has not arrived within [`BODY_READ_TIMEOUT`] is answered 408 and its
//! connection closed, before any handler runs.

use std::{future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    error_handling::HandleErrorLayer,
    extract::{DefaultBodyLimit, Request},
    http::{HeaderValue, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::Service as _;
use tower::{BoxError, ServiceBuilder, timeout::TimeoutLayer};
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    error::ApiError,
    health::{self, Readiness},
    metrics::{self, Metrics},
    settings::ServerSettings,
    stores::{self, Preparation},
    telemetry::{self, REQUEST_ID_HEADER},
};

/// Why a service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the database settings are invalid")]
    Database(#[from] sqlx::Error),
    #[error("the Redis settings are invalid")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Key(#[from] crate::auth::KeyError),
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        source: io::Error,
    },
}

impl BuildError {
    pub fn io(context: &'static str, source: io::Error) -> Self {
        Self::Io { context, source }
    }
}

/// The largest request body a service accepts unless a route says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// How long a client may take to send a request's head, and how long a
/// kept-alive connection may stay idle between requests.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send a request's body.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What a service brings to the server.
pub struct Service {
    /// Its name in logs, e.g. `catalog`.
    pub name: &'static str,
    /// Its API routes, with their state applied.
    pub api: Router,
    /// Whether its stores are prepared; the API answers 503 until they are.
    pub preparation: Preparation,
    /// What `/readyz` checks besides the preparation: its stores, usually.
    pub checks: Vec<Arc<dyn Readiness>>,
    /// Its own metrics; the server adds the HTTP ones.
    pub registry: Registry,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A bound, not yet running, service.
#[derive(Debug)]
pub struct Application {
    name: &'static str,
    listener: TcpListener,
    router: Router,
    admin_listener: TcpListener,
    admin_router: Router,
    stopping: CancellationToken,
}

impl Application {
    /// Binds `settings.listen` (port 0 picks a free port) and assembles the
    /// router.
    pub async fn bind(
        settings: &ServerSettings,
        service: Service,
        stopping: CancellationToken,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(settings.listen).await?;
        let admin_listener = TcpListener::bind(settings.admin_listen).await?;
        let metrics = Metrics::new(service.registry);
        let name = service.name;

        let mut checks = service.checks;
        checks.insert(0, Arc::new(service.preparation.clone()));

        let api = service.api.layer(
            ServiceBuilder::new()
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(move |request: &Request| {
                            let request_id = request
                                .headers()
                                .get(REQUEST_ID_HEADER)
                                .and_then(|value| value.to_str().ok())
                                .unwrap_or_default();
                            tracing::info_span!(
                                "request",
                                service = name,
                                method = %request.method(),
                                path = %request.uri().path(),
                                request_id,
                            )
                        })
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(middleware::from_fn(telemetry::scope_request_id))
                .layer(middleware::from_fn(read_body_in_time))
                .layer(middleware::from_fn_with_state(
                    settings.fault_latency,
                    add_fault_latency,
                ))
                .layer(middleware::from_fn_with_state(
                    service.preparation,
                    stores::require_prepared,
                ))
                .layer(HandleErrorLayer::new(timed_out))
                .layer(TimeoutLayer::new(settings.request_timeout))
                .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT)),
        );
        let probes = Router::new()
            .route("/healthz", get(health::live))
            .route("/readyz", get(health::ready).with_state(Arc::new(checks)))
            .route("/metrics", get(metrics::serve).with_state(metrics.clone()));

        let router = Router::new()
            .merge(api)
            .route("/healthz", get(health::live))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(
                ServiceBuilder::new()
                    .layer(CatchPanicLayer::custom(panicked))
                    .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                    .layer(PropagateRequestIdLayer::x_request_id())
                    .layer(middleware::from_fn_with_state(metrics, metrics::track)),
            );
        let admin_router = probes
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(CatchPanicLayer::custom(panicked));
        Ok(Self {
            name,
            listener,
            router,
            admin_listener,
            admin_router,
            stopping,
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The port it listens on.
    pub fn port(&self) -> io::Result<u16> {
        Ok(self.address()?.port())
    }

    /// The address of its probes and metrics.
    pub fn admin_address(&self) -> io::Result<SocketAddr> {
        self.admin_listener.local_addr()
    }

    /// Serves until `stop` completes or the stopping token is cancelled,
    /// finishes requests in flight, then cancels the token so the service's
    /// background workers stop too.
    pub async fn run_until_stopped(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        tracing::info!(
            service = self.name,
            address = %self.address()?,
            admin = %self.admin_address()?,
            "serving"
        );
        let serving = CancellationToken::new();
        let stopping = self.stopping.clone();
        let stopped = serving.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = stop => {}
                () = stopping.cancelled() => {}
            }
            stopped.cancel();
        });
        tokio::join!(
            serve(
                self.listener,
                self.router,
                serving.clone().cancelled_owned()
            ),
            serve(
                self.admin_listener,
                self.admin_router,
                serving.cancelled_owned()
            ),
        );
        self.stopping.cancel();
        tracing::info!(service = self.name, "stopped");
        Ok(())
    }
}

/// Serves HTTP/1 connections on `listener` until `stop` completes, then
/// lets the requests in flight finish. Each connection must send a request
/// head within [`HEADER_READ_TIMEOUT`], the first one and every next one.
async fn serve(listener: TcpListener, router: Router, stop: impl Future<Output = ()>) {
    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let connections = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait a moment rather
                    // than spin.
                    tracing::warn!(%error, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let service = match make_service.call(peer).await {
            Ok(service) => service,
            Err(never) => match never {},
        };
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "a connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
}

/// Reads the whole request body, at most [`DEFAULT_BODY_LIMIT`] bytes,
/// within [`BODY_READ_TIMEOUT`]: a body still unfinished then is 408, one
/// too large 413, either with the connection closed.
async fn read_body_in_time(request: Request, next: middleware::Next) -> Response {
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(
        BODY_READ_TIMEOUT,
        axum::body::to_bytes(body, DEFAULT_BODY_LIMIT),
    )
    .await;
    let refusal = match read {
        Ok(Ok(bytes)) => {
            return next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
        }
        Ok(Err(error)) => {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|cause| cause.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the body is larger than this endpoint accepts",
                )
            } else {
                ApiError::bad_request(
                    "unreadable_body",
                    "the body could not be read: the connection broke off, or its framing is wrong",
                )
            }
        }
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the request body did not arrive within {BODY_READ_TIMEOUT:?}"),
        ),
    };
    let mut response = refusal.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The `ESHOP_FAULT_LATENCY` knob: handles each API request, then waits
/// before answering, as a slow service does: the work is done even when
/// the caller stops waiting.
async fn add_fault_latency(
    axum::extract::State(latency): axum::extract::State<Duration>,
    request: Request,
    next: middleware::Next,
) -> Response {
    let response = next.run(request).await;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    response
}

async fn timed_out(_: BoxError) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "timeout",
        "the request took too long; try again",
    )
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "CatchPanicLayer hands the panic over by value"
)]
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    tracing::error!(panic = message, "a handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "something went wrong on our side",
    )
    .into_response()
}
