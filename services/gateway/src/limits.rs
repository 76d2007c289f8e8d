//! Rate limits per client address (GCRA, from the `governor` crate): a
//! client may send `burst` requests at once and `per_second` on average.
//! Beyond that the API answers 429 in the shared error shape and pages a
//! friendly 429 page, both with `Retry-After`. The shop's own CSS and
//! script are not counted. Addresses not seen for a while are forgotten, so
//! the table stays small.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use eshop_platform::error::ApiError;
use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};
use tokio_util::sync::CancellationToken;

use crate::{
    AppState,
    session::{client_address, is_api},
    settings::RateLimit,
    web,
};

/// How often addresses that went quiet are forgotten.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// The limiter, shared by every request.
#[derive(Clone)]
pub(crate) struct Limiter(Arc<DefaultKeyedRateLimiter<IpAddr>>);

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").finish_non_exhaustive()
    }
}

impl Limiter {
    /// A limiter for `limit`, forgetting quiet addresses until `stopping`.
    pub(crate) fn start(limit: RateLimit, stopping: CancellationToken) -> Self {
        let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
        let limiter = Self(Arc::new(DefaultKeyedRateLimiter::keyed(quota)));
        let forgetting = limiter.0.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(FORGET_EVERY);
            loop {
                tokio::select! {
                    _ = ticks.tick() => forgetting.retain_recent(),
                    () = stopping.cancelled() => return,
                }
            }
        });
        limiter
    }

    /// `None` when `address` may go on; otherwise how long it should wait.
    fn check(&self, address: IpAddr) -> Option<Duration> {
        self.0
            .check_key(&address)
            .err()
            .map(|not_until| not_until.wait_time_from(self.0.clock().now()))
    }
}

/// Middleware: 429 with `Retry-After` for a client over its limit.
pub(crate) async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.starts_with("/assets/") {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    let address = client_address(request.headers(), peer, state.trust_forwarded_for);
    let Some(wait) = state.limiter.check(address) else {
        return next.run(request).await;
    };
    state.metrics.rate_limited.inc();
    let message = "too many requests from your address; wait a moment and try again";
    if is_api(path) {
        return ApiError::too_many_requests(message, wait).into_response();
    }
    let mut response = web::error_page(StatusCode::TOO_MANY_REQUESTS, message);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(wait.as_secs().max(1)),
    );
    response
}
