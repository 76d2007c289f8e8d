//! The catalog's HTTP API. Public reads live under `/v1`; writes and stock
//! reservations live under `/internal` and need the internal credential.
//! Every handler carries its OpenAPI description, so the document at
//! `/v1/openapi.json` is generated from the same code that serves.

use std::sync::Arc;

use axum::{
    extract::{FromRef, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use eshop_platform::{
    auth::{Auth, InternalCaller},
    error::{ApiError, ErrorBody},
    extract::{Json, Path, Query},
    fields,
    openapi::InternalTokenScheme,
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    demo,
    domain::{
        Category, CategoryInput, ListParams, NewProduct, Page, Product, ProductInput, ProductQuery,
        Reservation, ReservationInput, ReserveOutcome, Sku, Slug, Sort, TransitionOutcome,
        reservation_lines,
    },
    images,
    store::CatalogStore,
};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Arc<dyn CatalogStore>,
    pub(crate) auth: Auth,
    pub(crate) metrics: CatalogMetrics,
    pub(crate) reservation_ttl: std::time::Duration,
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OutcomeLabel {
    outcome: &'static str,
}

/// The catalog's own metrics.
#[derive(Clone, Default)]
pub(crate) struct CatalogMetrics {
    reservations: Family<OutcomeLabel, Counter>,
    pub(crate) expired: Counter,
}

impl CatalogMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "catalog_reservations",
            "Reservation requests, by outcome",
            self.reservations.clone(),
        );
        registry.register(
            "catalog_reservations_expired",
            "Held reservations released because they expired",
            self.expired.clone(),
        );
    }

    fn reservation(&self, outcome: &'static str) {
        self.reservations
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "eShop catalog",
        description = "Categories, products, full-text search, product images and stock reservations."
    ),
    components(schemas(ErrorBody, Sort)),
    modifiers(&InternalTokenScheme)
)]
struct ApiDoc;

/// The API routes and their OpenAPI document.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(list_categories))
        .routes(routes!(list_products))
        .routes(routes!(get_product))
        .routes(routes!(product_image))
        .routes(routes!(put_category))
        .routes(routes!(put_product))
        .routes(routes!(load_demo_data))
        .routes(routes!(reserve, get_reservation))
        .routes(routes!(commit_reservation))
        .routes(routes!(release_reservation))
}

/// Every category, with how many products it has.
#[utoipa::path(get, path = "/v1/categories", tag = "catalog",
    responses((status = OK, description = "every category", body = Vec<Category>)))]
async fn list_categories(State(state): State<AppState>) -> Result<Json<Vec<Category>>, ApiError> {
    Ok(Json(state.store.categories().await?))
}

/// A page of products: by category, by search, sorted.
#[utoipa::path(get, path = "/v1/products", tag = "catalog", params(ListParams),
    responses(
        (status = OK, description = "one page of the matching products", body = Page<Product>),
        (status = UNPROCESSABLE_ENTITY, description = "a parameter is out of range", body = ErrorBody),
    ))]
async fn list_products(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Page<Product>>, ApiError> {
    let query = ProductQuery::validate(&params)?;
    Ok(Json(state.store.products(&query).await?))
}

/// One product.
#[utoipa::path(get, path = "/v1/products/{sku}", tag = "catalog",
    params(("sku" = String, Path, description = "the product's SKU")),
    responses(
        (status = OK, description = "the product", body = Product),
        (status = NOT_FOUND, description = "no product has this SKU", body = ErrorBody),
    ))]
async fn get_product(
    State(state): State<AppState>,
    Path(sku): Path<String>,
) -> Result<Json<Product>, ApiError> {
    let sku = parse_path_sku(&sku)?;
    let product = state.store.product(&sku).await?;
    product
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("product {sku}")))
}

/// A product's picture, as SVG.
#[utoipa::path(get, path = "/v1/products/{sku}/image.svg", tag = "catalog",
    params(("sku" = String, Path, description = "the product's SKU")),
    responses(
        (status = OK, description = "the product's picture", content_type = "image/svg+xml", body = String),
        (status = NOT_FOUND, description = "no product has this SKU", body = ErrorBody),
    ))]
async fn product_image(
    State(state): State<AppState>,
    Path(sku): Path<String>,
) -> Result<Response, ApiError> {
    let sku = parse_path_sku(&sku)?;
    let product = state
        .store
        .product(&sku)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("product {sku}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        images::product_svg(&product),
    )
        .into_response())
}

/// Creates or replaces a category.
#[utoipa::path(put, path = "/internal/categories/{slug}", tag = "internal",
    params(("slug" = String, Path, description = "the category's slug")),
    request_body = CategoryInput,
    security(("internal_token" = [])),
    responses(
        (status = NO_CONTENT, description = "stored"),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody),
    ))]
async fn put_category(
    _: InternalCaller,
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Json(input): Json<CategoryInput>,
) -> Result<StatusCode, ApiError> {
    let slug = Slug::parse("slug", &slug)?;
    let name = fields::line("name", &input.name, 80)?;
    let description = fields::paragraph("description", &input.description, 500)?;
    state
        .store
        .upsert_category(&slug, &name, &description)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates or replaces a product.
#[utoipa::path(put, path = "/internal/products/{sku}", tag = "internal",
    params(("sku" = String, Path, description = "the product's SKU")),
    request_body = ProductInput,
    security(("internal_token" = [])),
    responses(
        (status = OK, description = "the product as stored", body = Product),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody),
    ))]
async fn put_product(
    _: InternalCaller,
    State(state): State<AppState>,
    Path(sku): Path<String>,
    Json(input): Json<ProductInput>,
) -> Result<Json<Product>, ApiError> {
    let product = NewProduct::validate(&input, &sku)?;
    let stored = state.store.upsert_product(&product).await?;
    stored.map(Json).ok_or_else(|| {
        ApiError::invalid(
            "category",
            format!("category {} does not exist", product.category.as_str()),
        )
    })
}

#[derive(Debug, Serialize, ToSchema)]
struct DemoDataLoaded {
    /// Products added; products already there are left as they are.
    added: usize,
}

/// Loads the demo catalog: five categories, fifty products.
#[utoipa::path(post, path = "/internal/demo-data", tag = "internal",
    security(("internal_token" = [])),
    responses((status = OK, description = "how many categories and products the demo data added", body = DemoDataLoaded)))]
async fn load_demo_data(
    _: InternalCaller,
    State(state): State<AppState>,
) -> Result<Json<DemoDataLoaded>, ApiError> {
    let added = demo::load(state.store.as_ref()).await?;
    Ok(Json(DemoDataLoaded { added }))
}

/// Holds stock for a checkout, all lines or none. The caller picks the id,
/// so a retry with the same id and lines gets the first outcome.
#[utoipa::path(put, path = "/internal/reservations/{id}", tag = "internal",
    params(("id" = Uuid, Path, description = "the reservation's id, chosen by the caller")),
    request_body = ReservationInput,
    security(("internal_token" = [])),
    responses(
        (status = CREATED, description = "held", body = Reservation),
        (status = OK, description = "already held with these lines", body = Reservation),
        (status = CONFLICT, description = "not enough stock, or the id holds other lines", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "a line is invalid or names an unknown product", body = ErrorBody),
    ))]
async fn reserve(
    _: InternalCaller,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(input): Json<ReservationInput>,
) -> Result<(StatusCode, Json<Reservation>), ApiError> {
    let lines = reservation_lines(input)?;
    let expires_at = whole_microseconds(OffsetDateTime::now_utc() + state.reservation_ttl);
    let outcome = state.store.reserve(id, &lines, expires_at).await?;
    match outcome {
        ReserveOutcome::Created(reservation) => {
            state.metrics.reservation("created");
            Ok((StatusCode::CREATED, Json(reservation)))
        }
        ReserveOutcome::Existing(reservation) => {
            state.metrics.reservation("repeated");
            Ok((StatusCode::OK, Json(reservation)))
        }
        ReserveOutcome::IdTaken => {
            state.metrics.reservation("id_taken");
            Err(ApiError::conflict(
                "id_taken",
                format!("reservation {id} already holds other lines"),
            ))
        }
        ReserveOutcome::UnknownSku { index, sku } => {
            state.metrics.reservation("unknown_sku");
            Err(ApiError::invalid(
                format!("lines[{index}].sku"),
                format!("product {sku} does not exist"),
            ))
        }
        ReserveOutcome::Insufficient {
            index,
            sku,
            available,
        } => {
            state.metrics.reservation("insufficient_stock");
            Err(ApiError::conflict(
                "insufficient_stock",
                format!("only {available} of {sku} left"),
            )
            .with_field(format!("lines[{index}].quantity")))
        }
    }
}

/// A reservation.
#[utoipa::path(get, path = "/internal/reservations/{id}", tag = "internal",
    params(("id" = Uuid, Path)),
    security(("internal_token" = [])),
    responses(
        (status = OK, description = "the reservation", body = Reservation),
        (status = NOT_FOUND, description = "no reservation has this id", body = ErrorBody),
    ))]
async fn get_reservation(
    _: InternalCaller,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Reservation>, ApiError> {
    let reservation = state.store.reservation(id).await?;
    reservation
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("reservation {id}")))
}

/// Makes a held reservation permanent: the order was placed.
#[utoipa::path(post, path = "/internal/reservations/{id}/commit", tag = "internal",
    params(("id" = Uuid, Path)),
    security(("internal_token" = [])),
    responses(
        (status = OK, description = "the reservation, committed", body = Reservation),
        (status = NOT_FOUND, description = "no reservation has this id", body = ErrorBody),
        (status = CONFLICT, description = "it was released", body = ErrorBody),
    ))]
async fn commit_reservation(
    _: InternalCaller,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Reservation>, ApiError> {
    match state.store.commit(id).await? {
        TransitionOutcome::Done(reservation) => Ok(Json(reservation)),
        TransitionOutcome::NotFound => Err(ApiError::not_found(format!("reservation {id}"))),
        TransitionOutcome::Refused(_) => Err(ApiError::conflict(
            "released",
            format!("reservation {id} was released and cannot be committed"),
        )),
    }
}

/// Puts a reservation's stock back, whether it was held or committed.
#[utoipa::path(post, path = "/internal/reservations/{id}/release", tag = "internal",
    params(("id" = Uuid, Path)),
    security(("internal_token" = [])),
    responses(
        (status = OK, description = "the reservation, released and its stock back", body = Reservation),
        (status = NOT_FOUND, description = "no reservation has this id", body = ErrorBody),
    ))]
async fn release_reservation(
    _: InternalCaller,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Reservation>, ApiError> {
    match state.store.release(id).await? {
        TransitionOutcome::Done(reservation) | TransitionOutcome::Refused(reservation) => {
            Ok(Json(reservation))
        }
        TransitionOutcome::NotFound => Err(ApiError::not_found(format!("reservation {id}"))),
    }
}

/// `at` to the microsecond, the precision both stores keep, so a repeated
/// request sees the same time as the first.
fn whole_microseconds(at: OffsetDateTime) -> OffsetDateTime {
    let micros = at.microsecond();
    at.replace_microsecond(micros).unwrap_or(at)
}

/// A SKU in a path: one that cannot exist is simply not found.
fn parse_path_sku(sku: &str) -> Result<Sku, ApiError> {
    Sku::parse("sku", sku).map_err(|_| ApiError::not_found(format!("product {sku}")))
}
