//! The gateway: the shop's public entry point. It serves the web
//! storefront (server-rendered HTML, see [`web`](crate::web)) and a public
//! JSON API under `/api` that aggregates the services behind it, e.g. a
//! product with its rating, latest reviews and stock in one call, made in
//! parallel.
//!
//! - [`downstream`](crate::downstream): one client per service, with
//!   timeouts, retries and a circuit breaker; ratings, wallet and shipping
//!   are optional, and answers without them say what is left out;
//! - [`session`](crate::session): bearer tokens for API clients, HttpOnly
//!   cookies for the web, anonymous carts, and the CSRF check;
//! - [`limits`](crate::limits): rate limits per client address.
//!
//! The gateway keeps no data of its own, so it is ready as soon as it is
//! bound; `/readyz` reports which services answer, and fails only when a
//! required one does not.

mod aggregate;
mod api;
mod assets;
mod downstream;
mod limits;
pub mod model;
mod session;
pub mod settings;
mod web;

use std::sync::Arc;

use axum::{Router, middleware};
use eshop_platform::{
    auth::JwtVerifier,
    metrics,
    server::{Application, BuildError, Service},
    stores::Preparation,
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};
pub use settings::GatewaySettings;
use tokio_util::sync::CancellationToken;

use crate::{downstream::Downstream, limits::Limiter, session::CookiePolicy};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) downstream: Downstream,
    pub(crate) verifier: Arc<JwtVerifier>,
    pub(crate) cookies: CookiePolicy,
    pub(crate) trust_forwarded_for: bool,
    pub(crate) limiter: Limiter,
    pub(crate) metrics: GatewayMetrics,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ServiceLabel {
    service: &'static str,
}

/// The gateway's own metrics.
#[derive(Clone, Default)]
pub(crate) struct GatewayMetrics {
    degraded: Family<ServiceLabel, Counter>,
    pub(crate) reachable: Family<ServiceLabel, Gauge>,
    pub(crate) rate_limited: Counter,
    pub(crate) csrf_refused: Counter,
}

impl GatewayMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "gateway_degraded_answers",
            "Answers given without an optional service that did not answer, by service",
            self.degraded.clone(),
        );
        registry.register(
            "gateway_downstream_reachable",
            "Whether each service the gateway calls answered its last health probe (1) or not (0)",
            self.reachable.clone(),
        );
        registry.register(
            "gateway_rate_limited",
            "Requests refused with 429 because their client went over its rate limit",
            self.rate_limited.clone(),
        );
        registry.register(
            "gateway_csrf_refused",
            "State-changing requests refused because they came from another site",
            self.csrf_refused.clone(),
        );
    }

    /// Counts an answer given without `service`.
    pub(crate) fn degraded(&self, service: &'static str) {
        self.degraded.get_or_create(&ServiceLabel { service }).inc();
    }
}

/// The gateway, bound to its port and ready to run.
pub async fn build(settings: GatewaySettings) -> Result<Application, BuildError> {
    let stopping = CancellationToken::new();
    let verifier = Arc::new(JwtVerifier::from_public_pem(&settings.jwt_public_key)?);
    let downstream = Downstream::new(
        &settings.downstream,
        &settings.server.internal_token,
        settings.checkout_timeout,
    );
    let gateway_metrics = GatewayMetrics::default();
    let state_metrics = gateway_metrics.clone();
    let mut registry = metrics::registry();
    gateway_metrics.register(&mut registry);
    let state = AppState {
        downstream: downstream.clone(),
        verifier,
        cookies: CookiePolicy {
            secure: settings.cookie_secure,
        },
        trust_forwarded_for: settings.trust_forwarded_for,
        limiter: Limiter::start(settings.rate_limit, stopping.clone()),
        metrics: gateway_metrics,
    };
    let service = Service {
        name: "gateway",
        api: router(state),
        preparation: Preparation::done(),
        checks: downstream.checks(&state_metrics),
        registry,
    };
    Application::bind(&settings.server, service, stopping)
        .await
        .map_err(|source| BuildError::io("binding the listen address", source))
}

/// The routes: the JSON API and the pages, behind the session and rate
/// limit middleware; the static assets behind the rate limit only.
fn router(state: AppState) -> Router {
    let (api, _) = api::router().split_for_parts();
    Router::new()
        .merge(api)
        .merge(web::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::identify,
        ))
        .merge(assets::router())
        .layer(middleware::from_fn_with_state(state.clone(), limits::limit))
        .with_state(state)
}

/// The OpenAPI document of the public JSON API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    eshop_platform::openapi::with_platform_responses(api::router().split_for_parts().1)
}
