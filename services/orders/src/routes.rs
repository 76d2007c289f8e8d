//! The orders service's HTTP API. Customers reach their own orders under
//! `/v1` with their bearer JWT (the user id comes from the token, never
//! from the path; another user's order is simply not found). The checkout
//! saga creates orders and finds them again under `/internal`, with the
//! internal credential, as does the invariant checker. Every handler carries
//! its OpenAPI description, so the document is generated from the code that
//! serves.

use std::sync::Arc;

use axum::{
    extract::{FromRef, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use eshop_platform::{
    auth::{Auth, InternalCaller, User},
    error::{ApiError, ErrorBody},
    extract::{Json, Path, Query},
    openapi::{BearerScheme, InternalTokenScheme},
    outbox::Outbox,
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    domain::{self, ListParams, Order, OrderInput, OrderStatus, OrderSummary, OrdersSummary, Page},
    invoice,
    store::{CreateOutcome, MoveOutcome, OrdersStore},
};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Arc<dyn OrdersStore>,
    pub(crate) auth: Auth,
    pub(crate) metrics: OrdersMetrics,
    /// Woken after each change that enqueued events, so they go out now.
    pub(crate) outbox: Outbox,
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TransitionLabel {
    to: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OutcomeLabel {
    outcome: &'static str,
}

/// The orders service's own metrics.
#[derive(Clone, Default)]
pub(crate) struct OrdersMetrics {
    created: Counter,
    transitions: Family<TransitionLabel, Counter>,
    events: Family<OutcomeLabel, Counter>,
}

impl OrdersMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "orders_created",
            "Orders created by checkouts (repeats of a checkout not counted)",
            self.created.clone(),
        );
        registry.register(
            "orders_transitions",
            "Orders that moved to another status, by the status they moved to",
            self.transitions.clone(),
        );
        registry.register(
            "orders_events",
            "Deliveries of dispatch's events, by outcome: applied, ignored (changes \
             nothing), duplicate (handled before), rejected (dead-lettered), retried \
             (the store failed), skipped (a kind orders does not follow)",
            self.events.clone(),
        );
    }

    /// Counts a delivery of an event that came to `outcome`.
    pub(crate) fn event(&self, outcome: &'static str) {
        self.events.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// Counts an order moving to `status`.
    pub(crate) fn transition(&self, status: OrderStatus) {
        self.transitions
            .get_or_create(&TransitionLabel {
                to: status.as_str(),
            })
            .inc();
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "eShop orders",
        description = "Orders with lines, totals, shipping and status; each user's order history; printable invoices; cancelling and returning orders."
    ),
    components(schemas(ErrorBody)),
    modifiers(&InternalTokenScheme, &BearerScheme)
)]
struct ApiDoc;

/// The API routes and their OpenAPI document.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(list_orders))
        .routes(routes!(get_order))
        .routes(routes!(get_invoice))
        .routes(routes!(cancel_order))
        .routes(routes!(return_order))
        .routes(routes!(create_order))
        .routes(routes!(order_by_checkout))
        .routes(routes!(summary))
}

/// The calling user's orders, newest first.
#[utoipa::path(get, path = "/v1/orders", tag = "orders", params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = OK, description = "one page of the caller's orders, newest first", body = Page<OrderSummary>),
        (status = UNAUTHORIZED, description = "no token, or an invalid or expired one", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "a parameter is out of range", body = ErrorBody),
    ))]
async fn list_orders(
    user: User,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Page<OrderSummary>>, ApiError> {
    let page = params.validate()?;
    Ok(Json(state.store.orders_of(user.id(), page).await?))
}

/// One of the calling user's orders, with its lines and history.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders",
    params(("id" = Uuid, Path, description = "the order's id")),
    security(("bearer" = [])),
    responses(
        (status = OK, description = "the order", body = Order),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "no such order of the user's", body = ErrorBody),
    ))]
async fn get_order(
    user: User,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    user_order(&state, &user, &id).await.map(Json)
}

/// The invoice of one of the calling user's orders, as a printable HTML page.
#[utoipa::path(get, path = "/v1/orders/{id}/invoice", tag = "orders",
    params(("id" = Uuid, Path, description = "the order's id")),
    security(("bearer" = [])),
    responses(
        (status = OK, description = "a self-contained HTML page", content_type = "text/html", body = String),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "no such order of the user's", body = ErrorBody),
    ))]
async fn get_invoice(
    user: User,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let order = user_order(&state, &user, &id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "private, no-cache"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        invoice::render(&order),
    )
        .into_response())
}

/// Cancels one of the calling user's orders before it is dispatched; its
/// stock is released and its money refunded.
#[utoipa::path(post, path = "/v1/orders/{id}/cancel", tag = "orders",
    params(("id" = Uuid, Path, description = "the order's id")),
    security(("bearer" = [])),
    responses(
        (status = OK, description = "cancelled", body = Order),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "no such order of the user's", body = ErrorBody),
        (status = CONFLICT, description = "`illegal_transition`: the order was dispatched, or is cancelled or returned", body = ErrorBody),
    ))]
async fn cancel_order(
    user: User,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    move_order(&state, &user, &id, OrderStatus::Cancelled).await
}

/// Returns one of the calling user's delivered orders; it is restocked and
/// its money refunded.
#[utoipa::path(post, path = "/v1/orders/{id}/return", tag = "orders",
    params(("id" = Uuid, Path, description = "the order's id")),
    security(("bearer" = [])),
    responses(
        (status = OK, description = "returned", body = Order),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "no such order of the user's", body = ErrorBody),
        (status = CONFLICT, description = "`illegal_transition`: the order is not delivered", body = ErrorBody),
    ))]
async fn return_order(
    user: User,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    move_order(&state, &user, &id, OrderStatus::Returned).await
}

/// Creates the order of a checkout whose payment was taken: it starts out
/// paid. One checkout makes one order: the same request again gets the
/// order made the first time.
#[utoipa::path(post, path = "/internal/orders", tag = "internal",
    request_body = OrderInput,
    security(("internal_token" = [])),
    responses(
        (status = CREATED, description = "created, paid", body = Order),
        (status = OK, description = "the checkout made this order already", body = Order),
        (status = CONFLICT, description = "`checkout_taken`: the checkout made an order with other contents", body = ErrorBody),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = PAYLOAD_TOO_LARGE, body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "a field is missing, mistyped or out of range", body = ErrorBody),
    ))]
async fn create_order(
    _: InternalCaller,
    State(state): State<AppState>,
    Json(input): Json<OrderInput>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    let new = input.validate(Uuid::new_v4(), domain::now())?;
    match state.store.create(&new).await? {
        CreateOutcome::Created(order) => {
            state.outbox.notify();
            state.metrics.created.inc();
            state.metrics.transition(order.status);
            tracing::info!(order = %order.id, number = %order.number, checkout = %order.checkout_id, "order created");
            Ok((StatusCode::CREATED, Json(order)))
        }
        CreateOutcome::Existing(order) if new.is_repeated_by(&order) => {
            Ok((StatusCode::OK, Json(order)))
        }
        CreateOutcome::Existing(order) => Err(ApiError::conflict(
            "checkout_taken",
            format!(
                "checkout {} already made order {} with other contents",
                order.checkout_id, order.number
            ),
        )),
    }
}

/// The order a checkout made, for the saga to pick up where it left off.
#[utoipa::path(get, path = "/internal/orders/by-checkout/{checkout_id}", tag = "internal",
    params(("checkout_id" = Uuid, Path, description = "the checkout's id")),
    security(("internal_token" = [])),
    responses(
        (status = OK, description = "the order the checkout placed", body = Order),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "the checkout made no order", body = ErrorBody),
    ))]
async fn order_by_checkout(
    _: InternalCaller,
    State(state): State<AppState>,
    Path(checkout_id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    let not_found = || ApiError::not_found(format!("an order of checkout {checkout_id}"));
    let id = Uuid::parse_str(&checkout_id).map_err(|_| not_found())?;
    state
        .store
        .by_checkout(id)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}

/// Counts and sums for the invariant checker.
#[utoipa::path(get, path = "/internal/orders/summary", tag = "internal",
    security(("internal_token" = [])),
    responses(
        (status = OK, description = "how many orders are in each status", body = OrdersSummary),
        (status = UNAUTHORIZED, body = ErrorBody),
    ))]
async fn summary(
    _: InternalCaller,
    State(state): State<AppState>,
) -> Result<Json<OrdersSummary>, ApiError> {
    Ok(Json(state.store.summary(domain::now()).await?))
}

/// The user's order `id`; one that does not exist, is not theirs, or whose
/// id cannot be one, is not found alike.
async fn user_order(state: &AppState, user: &User, id: &str) -> Result<Order, ApiError> {
    let not_found = || ApiError::not_found(format!("order {id}"));
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    state
        .store
        .order_of(user.id(), id)
        .await?
        .ok_or_else(not_found)
}

/// Moves the user's order `id` to `to`, if the lifecycle allows it.
async fn move_order(
    state: &AppState,
    user: &User,
    id: &str,
    to: OrderStatus,
) -> Result<Json<Order>, ApiError> {
    let not_found = || ApiError::not_found(format!("order {id}"));
    let order_id = Uuid::parse_str(id).map_err(|_| not_found())?;
    match state
        .store
        .move_order(user.id(), order_id, to, domain::now())
        .await?
    {
        MoveOutcome::Moved(order) => {
            state.outbox.notify();
            state.metrics.transition(to);
            tracing::info!(order = %order.id, status = %to, "order moved by its customer");
            Ok(Json(*order))
        }
        MoveOutcome::NotFound => Err(not_found()),
        MoveOutcome::Refused(refused) => Err(ApiError::conflict(
            "illegal_transition",
            format!("order {id} is {}: it {refused}", refused.from),
        )),
    }
}
