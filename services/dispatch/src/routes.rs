//! Dispatch's HTTP API: a small internal one, for other services and for the
//! shop's invariant checks, behind the internal credential. Every handler
//! carries its OpenAPI description. Also the service's metrics, which the
//! event handlers and the scheduler count on.

use std::sync::Arc;

use axum::extract::{FromRef, State};
use eshop_platform::{
    auth::{Auth, InternalCaller},
    error::{ApiError, ErrorBody},
    extract::{Json, Path},
    openapi::InternalTokenScheme,
};
use prometheus_client::{metrics::counter::Counter, registry::Registry};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    domain::{Shipment, ShipmentSummary},
    store::DispatchStore,
};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Arc<dyn DispatchStore>,
    pub(crate) auth: Auth,
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

/// Dispatch's own metrics. Each replica counts what it did itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct DispatchMetrics {
    pub(crate) scheduled: Counter,
    pub(crate) dispatched: Counter,
    pub(crate) delivered: Counter,
    pub(crate) cancelled: Counter,
    pub(crate) late_cancellations: Counter,
    pub(crate) injected_faults: Counter,
}

impl DispatchMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        for (name, help, counter) in [
            (
                "dispatch_shipments_scheduled",
                "Shipments scheduled for paid orders (repeated payments not counted)",
                &self.scheduled,
            ),
            (
                "dispatch_shipments_dispatched",
                "Shipments that left the warehouse (OrderDispatched emitted)",
                &self.dispatched,
            ),
            (
                "dispatch_shipments_delivered",
                "Shipments that reached their customer (OrderDelivered emitted)",
                &self.delivered,
            ),
            (
                "dispatch_shipments_cancelled",
                "Shipments stopped by a cancellation before they left",
                &self.cancelled,
            ),
            (
                "dispatch_late_cancellations",
                "Cancellations that arrived after their shipment had left, recorded and ignored",
                &self.late_cancellations,
            ),
            (
                "dispatch_injected_faults",
                "Event handlings failed on purpose by ESHOP_FAULT_ERROR_RATE",
                &self.injected_faults,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "eShop dispatch",
        description = "Ships paid orders after a delay and reports them dispatched and delivered on the event bus. Its API lets other services and invariant checks see shipments."
    ),
    components(schemas(ErrorBody)),
    modifiers(&InternalTokenScheme)
)]
struct ApiDoc;

/// The API routes and their OpenAPI document.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(shipment_summary))
        .routes(routes!(get_shipment))
}

/// An order's shipment.
#[utoipa::path(get, path = "/internal/shipments/{order_id}", tag = "internal",
    params(("order_id" = Uuid, Path, description = "the order's id")),
    security(("internal_token" = [])),
    responses(
        (status = OK, description = "the order's shipment", body = Shipment),
        (status = BAD_REQUEST, description = "the order id is not a UUID", body = ErrorBody),
        (status = UNAUTHORIZED, description = "no internal credential, or a wrong one", body = ErrorBody),
        (status = NOT_FOUND, description = "no payment or cancellation of this order reached dispatch", body = ErrorBody),
    ))]
async fn get_shipment(
    _: InternalCaller,
    State(state): State<AppState>,
    Path(order_id): Path<Uuid>,
) -> Result<Json<Shipment>, ApiError> {
    state
        .store
        .shipment(order_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("the shipment of order {order_id}")))
}

/// How many shipments are in each status.
#[utoipa::path(get, path = "/internal/shipments/summary", tag = "internal",
    security(("internal_token" = [])),
    responses(
        (status = OK, description = "how many shipments are in each state", body = ShipmentSummary),
        (status = UNAUTHORIZED, description = "no internal credential, or a wrong one", body = ErrorBody),
    ))]
async fn shipment_summary(
    _: InternalCaller,
    State(state): State<AppState>,
) -> Result<Json<ShipmentSummary>, ApiError> {
    Ok(Json(state.store.summary().await?))
}
