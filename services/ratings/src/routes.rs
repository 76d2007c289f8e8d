//! The ratings service's HTTP API, all under `/v1`. A user's own rating is
//! reached with their bearer JWT (the user id comes from the token, never
//! from the path); summaries and reviews are public. A new rating is only
//! taken for a product the catalog knows. Every handler carries its OpenAPI
//! description, so the document is generated from the code that serves.

use std::sync::Arc;

use axum::{
    extract::{DefaultBodyLimit, FromRef, State},
    http::StatusCode,
};
use eshop_platform::{
    auth::{Auth, User},
    error::{ApiError, ErrorBody},
    extract::{Json, Path, Query},
    openapi::BearerScheme,
};
use prometheus_client::{metrics::counter::Counter, registry::Registry};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    domain::{
        self, PutOutcome, Rating, RatingInput, Review, ReviewsParams, Sku, SummariesParams, Summary,
    },
    products::Products,
    store::RatingsStore,
};

/// The largest body the API takes: a 500-character review fits even with
/// every character escaped as a JSON surrogate pair.
const MAX_BODY_BYTES: usize = 8 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Arc<dyn RatingsStore>,
    pub(crate) auth: Auth,
    /// Says whether a product exists before it is rated.
    pub(crate) products: Arc<Products>,
    pub(crate) metrics: RatingsMetrics,
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

/// The ratings service's own metrics.
#[derive(Clone, Default)]
pub(crate) struct RatingsMetrics {
    stored: Counter,
    replaced: Counter,
    deleted: Counter,
}

impl RatingsMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "ratings_stored",
            "Ratings stored by users who had not rated the product",
            self.stored.clone(),
        );
        registry.register(
            "ratings_replaced",
            "Ratings that replaced the user's previous rating of the product",
            self.replaced.clone(),
        );
        registry.register(
            "ratings_deleted",
            "Ratings deleted by their authors",
            self.deleted.clone(),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "eShop ratings",
        description = "1 to 5 stars and a short review per user and product, average ratings and the latest reviews."
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

/// The API routes and their OpenAPI document.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(put_rating, get_rating, delete_rating))
        .routes(routes!(product_summary))
        .routes(routes!(summaries))
        .routes(routes!(latest_reviews))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Rates a product for the calling user, replacing their previous rating.
#[utoipa::path(put, path = "/v1/products/{sku}/rating", tag = "ratings",
    params(("sku" = String, Path, description = "the product's SKU")),
    request_body = RatingInput,
    security(("bearer" = [])),
    responses(
        (status = CREATED, description = "the user's first rating of the product", body = Rating),
        (status = OK, description = "replaced the user's previous rating", body = Rating),
        (status = UNAUTHORIZED, description = "no token, or an invalid or expired one", body = ErrorBody),
        (status = NOT_FOUND, description = "the catalog has no such product", body = ErrorBody),
        (status = PAYLOAD_TOO_LARGE, body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "a field is missing or out of range", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, description = "the catalog or the store cannot be reached", body = ErrorBody),
    ))]
async fn put_rating(
    user: User,
    State(state): State<AppState>,
    Path(sku): Path<String>,
    Json(input): Json<RatingInput>,
) -> Result<(StatusCode, Json<Rating>), ApiError> {
    let sku = parse_path_sku(&sku)?;
    let rating = input.validate()?;
    state.products.ensure_exists(&sku).await?;
    let rating = Rating {
        sku,
        stars: rating.stars,
        review: rating.review,
        author: user.claims.name.clone(),
        rated_at: domain::now(),
    };
    match state.store.put(user.id(), &rating).await? {
        PutOutcome::Created => {
            state.metrics.stored.inc();
            Ok((StatusCode::CREATED, Json(rating)))
        }
        PutOutcome::Replaced => {
            state.metrics.replaced.inc();
            Ok((StatusCode::OK, Json(rating)))
        }
    }
}

/// The calling user's rating of a product.
#[utoipa::path(get, path = "/v1/products/{sku}/rating", tag = "ratings",
    params(("sku" = String, Path, description = "the product's SKU")),
    security(("bearer" = [])),
    responses(
        (status = OK, description = "the product's average and count of stars", body = Rating),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "the user has not rated the product", body = ErrorBody),
    ))]
async fn get_rating(
    user: User,
    State(state): State<AppState>,
    Path(sku): Path<String>,
) -> Result<Json<Rating>, ApiError> {
    let sku = parse_path_sku(&sku)?;
    let rating = state.store.rating(&sku, user.id()).await?;
    rating.map(Json).ok_or_else(|| not_rated(&sku))
}

/// Deletes the calling user's rating of a product.
#[utoipa::path(delete, path = "/v1/products/{sku}/rating", tag = "ratings",
    params(("sku" = String, Path, description = "the product's SKU")),
    security(("bearer" = [])),
    responses(
        (status = NO_CONTENT, description = "deleted"),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "the user has not rated the product", body = ErrorBody),
    ))]
async fn delete_rating(
    user: User,
    State(state): State<AppState>,
    Path(sku): Path<String>,
) -> Result<StatusCode, ApiError> {
    let sku = parse_path_sku(&sku)?;
    if state.store.delete(&sku, user.id()).await? {
        state.metrics.deleted.inc();
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_rated(&sku))
    }
}

/// How a product is rated: its average and how many ratings it has.
#[utoipa::path(get, path = "/v1/products/{sku}/ratings", tag = "ratings",
    params(("sku" = String, Path, description = "the product's SKU")),
    responses(
        (status = OK, description = "a product nobody rated has count 0 and average null", body = Summary),
        (status = NOT_FOUND, description = "the SKU is not one a product can have", body = ErrorBody),
    ))]
async fn product_summary(
    State(state): State<AppState>,
    Path(sku): Path<String>,
) -> Result<Json<Summary>, ApiError> {
    let sku = parse_path_sku(&sku)?;
    let tallies = state.store.tallies(std::slice::from_ref(&sku)).await?;
    let tally = tallies.first().copied().unwrap_or_default();
    Ok(Json(Summary::new(sku, tally)))
}

/// How several products are rated, for listing pages: one summary per
/// distinct SKU, in the order asked.
#[utoipa::path(get, path = "/v1/ratings", tag = "ratings", params(SummariesParams),
    responses(
        (status = OK, description = "the ratings of the products asked for", body = Vec<Summary>),
        (status = UNPROCESSABLE_ENTITY, description = "no SKUs, more than 100, or one that is not a SKU", body = ErrorBody),
    ))]
async fn summaries(
    State(state): State<AppState>,
    Query(params): Query<SummariesParams>,
) -> Result<Json<Vec<Summary>>, ApiError> {
    let skus = params.validate()?;
    let tallies = state.store.tallies(&skus).await?;
    Ok(Json(
        skus.into_iter()
            .zip(tallies)
            .map(|(sku, tally)| Summary::new(sku, tally))
            .collect(),
    ))
}

/// The latest reviews of a product, newest first; ratings without a review
/// text are left out.
#[utoipa::path(get, path = "/v1/products/{sku}/reviews", tag = "ratings",
    params(("sku" = String, Path, description = "the product's SKU"), ReviewsParams),
    responses(
        (status = OK, description = "one page of the product's reviews, newest first", body = Vec<Review>),
        (status = NOT_FOUND, description = "the SKU is not one a product can have", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "the limit is out of range", body = ErrorBody),
    ))]
async fn latest_reviews(
    State(state): State<AppState>,
    Path(sku): Path<String>,
    Query(params): Query<ReviewsParams>,
) -> Result<Json<Vec<Review>>, ApiError> {
    let sku = parse_path_sku(&sku)?;
    let limit = params.validate()?;
    Ok(Json(state.store.reviews(&sku, limit).await?))
}

/// 404: the caller has no rating of `sku`.
fn not_rated(sku: &Sku) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("you have not rated {sku}"),
    )
}

/// A SKU in a path: one that cannot exist is simply not found.
fn parse_path_sku(sku: &str) -> Result<Sku, ApiError> {
    Sku::parse("sku", sku).map_err(|_| ApiError::not_found(format!("product {sku}")))
}
