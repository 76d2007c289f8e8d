//! The payments API: checkouts for users, a summary for the invariant
//! checker. `POST /v1/checkouts` runs the saga while the customer waits and
//! answers with how it ended: 201 completed, 4xx/5xx failed (with the reason
//! in the shared error shape and the checkout's id in `x-checkout-id`), or
//! 202 while it waits for a service, to be polled at `GET /v1/checkouts/{id}`.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{FromRef, State},
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use eshop_platform::{
    auth::{Auth, InternalCaller, User},
    error::{ApiError, ErrorBody},
    extract::{Json, Path, Query},
    idempotency::IdempotencyKey,
    openapi::{BearerScheme, InternalTokenScheme},
    settings::Rate,
};
use time::OffsetDateTime;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    domain::{Checkout, CheckoutRequest, CheckoutView, Progress, Status, Step},
    saga::{Driven, Saga},
    store::{CheckoutStore, Summary},
};

/// How long a customer waits for a checkout that another request drives.
const WAIT_FOR_OTHER_DRIVER: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Arc<dyn CheckoutStore>,
    pub(crate) saga: Arc<Saga>,
    pub(crate) auth: Auth,
    pub(crate) fault_error_rate: Rate,
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "eShop payments",
        description = "Checkout: the saga that reserves stock, quotes shipping, charges, creates the order and clears the cart, or undoes what it did."
    ),
    components(schemas(ErrorBody)),
    modifiers(&InternalTokenScheme, &BearerScheme)
)]
struct ApiDoc;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(checkout))
        .routes(routes!(find_checkout))
        .routes(routes!(get_checkout))
        .routes(routes!(summary))
}

/// Buys what is in the caller's cart. Send the same `Idempotency-Key` on
/// every retry of one checkout: it runs once, and every retry gets its outcome.
#[utoipa::path(post, path = "/v1/checkouts", tag = "checkout",
    request_body = CheckoutRequest,
    params(("Idempotency-Key" = String, Header, description = "the same on every retry of this checkout")),
    security(("bearer" = [])),
    responses(
        (status = CREATED, description = "completed: the order exists", body = CheckoutView),
        (status = ACCEPTED, description = "waiting for a service; poll the checkout", body = CheckoutView),
        (status = PAYMENT_REQUIRED, description = "declined or not enough money; nothing was charged", body = ErrorBody),
        (status = CONFLICT, description = "out of stock or an empty cart", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "bad input, or the key was used for another checkout", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, description = "the shop is busy or a service is down", body = ErrorBody),
    ))]
async fn checkout(
    user: User,
    State(state): State<AppState>,
    key: IdempotencyKey,
    Json(request): Json<CheckoutRequest>,
) -> Result<Response, ApiError> {
    request.validate()?;
    if state.fault_error_rate.hits() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "injected_fault",
            "payments refused this checkout on purpose (ESHOP_FAULT_ERROR_RATE); try again",
        ));
    }
    let now = OffsetDateTime::now_utc();
    let new = Checkout {
        id: Uuid::new_v4(),
        user_id: user.id(),
        idempotency_key: key.into_string(),
        request,
        status: Status::Running,
        step: Step::VerifyUser,
        progress: Progress::default(),
        failure: None,
        created_at: now,
        updated_at: now,
    };
    let (stored, created) = state.store.create(&new).await?;
    if !created && !stored.request.is_retried_by(&new.request) {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "this key was already used for a different checkout",
        ));
    }
    let ended = match state.saga.drive(stored.id).await? {
        Driven::Finished(checkout) | Driven::Stalled(checkout) => checkout,
        Driven::Busy => wait_for_other_driver(&state, stored.id).await?,
    };
    Ok(answer(&ended))
}

/// Polls a checkout that another request is driving until it ends.
async fn wait_for_other_driver(state: &AppState, id: Uuid) -> Result<Checkout, ApiError> {
    let deadline = tokio::time::Instant::now() + WAIT_FOR_OTHER_DRIVER;
    loop {
        let checkout = state
            .store
            .get(id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("checkout {id}")))?;
        if checkout.status.is_final() || tokio::time::Instant::now() > deadline {
            return Ok(checkout);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn answer(checkout: &Checkout) -> Response {
    let view = CheckoutView::from(checkout);
    let mut response = match (checkout.status, &checkout.failure) {
        (Status::Completed, _) => (StatusCode::CREATED, Json(view)).into_response(),
        (Status::Failed, Some(failure)) => {
            let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::CONFLICT);
            let mut error = ApiError::new(status, failure.code.clone(), failure.message.clone());
            if let Some(field) = &failure.field {
                error = error.with_field(field.clone());
            }
            error.into_response()
        }
        _ => (StatusCode::ACCEPTED, Json(view)).into_response(),
    };
    if let Ok(id) = HeaderValue::from_str(&checkout.id.to_string()) {
        response.headers_mut().insert("x-checkout-id", id);
    }
    response
}

/// How to find a checkout by the key it was sent with.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ByKey {
    /// The `Idempotency-Key` the checkout was sent with.
    idempotency_key: String,
}

/// The caller's checkout sent with an `Idempotency-Key`: how a client whose
/// request timed out learns what became of it, without sending it again.
#[utoipa::path(get, path = "/v1/checkouts", tag = "checkout",
    params(ByKey),
    security(("bearer" = [])),
    responses(
        (status = OK, description = "the caller's checkout with this idempotency key", body = CheckoutView),
        (status = NOT_FOUND, description = "no checkout was made with this key: nothing was charged", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody),
    ))]
async fn find_checkout(
    user: User,
    State(state): State<AppState>,
    Query(by): Query<ByKey>,
) -> Result<Json<CheckoutView>, ApiError> {
    let key = IdempotencyKey::parse("idempotency_key", &by.idempotency_key)?;
    match state.store.find_by_key(user.id(), key.as_str()).await? {
        Some(checkout) => Ok(Json(CheckoutView::from(&checkout))),
        None => Err(ApiError::not_found(format!(
            "a checkout with the key {}",
            key.as_str()
        ))),
    }
}

/// One of the caller's checkouts.
#[utoipa::path(get, path = "/v1/checkouts/{id}", tag = "checkout",
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = OK, description = "the checkout and how far it got", body = CheckoutView),
        (status = NOT_FOUND, description = "the caller has no checkout with this id", body = ErrorBody),
    ))]
async fn get_checkout(
    user: User,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<CheckoutView>, ApiError> {
    match state.store.get(id).await? {
        Some(checkout) if checkout.user_id == user.id() => Ok(Json(CheckoutView::from(&checkout))),
        _ => Err(ApiError::not_found(format!("checkout {id}"))),
    }
}

/// Checkouts by status, and how long the oldest unfinished one has waited.
#[utoipa::path(get, path = "/internal/checkouts/summary", tag = "internal",
    security(("internal_token" = [])),
    responses((status = OK, description = "how many checkouts are in each state", body = Summary)))]
async fn summary(
    _: InternalCaller,
    State(state): State<AppState>,
) -> Result<Json<Summary>, ApiError> {
    Ok(Json(state.store.summary().await?))
}
