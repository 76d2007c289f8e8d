//! Shipping's HTTP API. Countries, city search and quotes are public under
//! `/v1`; confirming a quote is for checkout, under `/internal`, with the
//! internal credential. Every handler carries its OpenAPI description, so
//! the document is generated from the same code that serves.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{FromRef, State},
    http::{HeaderName, StatusCode, header},
};
use eshop_platform::{
    auth::{Auth, InternalCaller},
    error::{ApiError, ErrorBody},
    extract::{Json, Path, Query},
    openapi::InternalTokenScheme,
};
use prometheus_client::{metrics::counter::Counter, registry::Registry};
use time::OffsetDateTime;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    domain::{
        City, CityId, CitySearch, CitySearchParams, ConfirmDecision, ConfirmInput, Coordinates,
        Country, Quote, QuoteInput, QuoteRecord, Reference, quote_request,
    },
    pricing,
    store::ShippingStore,
};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Arc<dyn ShippingStore>,
    pub(crate) auth: Auth,
    pub(crate) metrics: ShippingMetrics,
    pub(crate) warehouse: Coordinates,
    pub(crate) quote_ttl: Duration,
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

/// Shipping's own metrics.
#[derive(Clone, Default)]
pub(crate) struct ShippingMetrics {
    quotes: Counter,
    confirmed: Counter,
}

impl ShippingMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register("shipping_quotes", "Quotes made", self.quotes.clone());
        registry.register(
            "shipping_quotes_confirmed",
            "Quotes confirmed (repeated confirmations count once)",
            self.confirmed.clone(),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "eShop shipping",
        description = "Countries and cities to ship to, city search for address forms, and \
                       shipping quotes by distance from the warehouse and parcel weight, \
                       which checkout confirms."
    ),
    components(schemas(ErrorBody)),
    modifiers(&InternalTokenScheme)
)]
struct ApiDoc;

/// The API routes and their OpenAPI document.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(list_countries))
        .routes(routes!(search_cities))
        .routes(routes!(get_city))
        .routes(routes!(create_quote))
        .routes(routes!(get_quote))
        .routes(routes!(confirm_quote))
}

/// Every country shipping delivers to, by name, with how many cities it has.
#[utoipa::path(get, path = "/v1/countries", tag = "shipping",
    responses((status = OK, description = "every country shipped to", body = Vec<Country>)))]
async fn list_countries(State(state): State<AppState>) -> Result<Json<Vec<Country>>, ApiError> {
    Ok(Json(state.store.countries().await?))
}

/// Cities whose name starts with `q`, ignoring case and accents, the
/// largest first: the suggestions of an address form.
#[utoipa::path(get, path = "/v1/cities", tag = "shipping", params(CitySearchParams),
    responses(
        (status = OK, description = "the matching cities", body = Vec<City>),
        (status = UNPROCESSABLE_ENTITY, description = "a parameter is missing or out of range", body = ErrorBody),
    ))]
async fn search_cities(
    State(state): State<AppState>,
    Query(params): Query<CitySearchParams>,
) -> Result<Json<Vec<City>>, ApiError> {
    let search = CitySearch::validate(&params)?;
    Ok(Json(state.store.search_cities(&search).await?))
}

/// One city.
#[utoipa::path(get, path = "/v1/cities/{id}", tag = "shipping",
    params(("id" = String, Path, description = "the city's id, e.g. `nl-rotterdam`")),
    responses(
        (status = OK, description = "the city", body = City),
        (status = NOT_FOUND, description = "no city has this id", body = ErrorBody),
    ))]
async fn get_city(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<City>, ApiError> {
    // An id that cannot exist is simply not found.
    let city_id =
        CityId::parse("id", &id).map_err(|_| ApiError::not_found(format!("city {id}")))?;
    let city = state.store.city(&city_id).await?;
    city.map(Json)
        .ok_or_else(|| ApiError::not_found(format!("city {id}")))
}

/// Prices sending a parcel from the warehouse to a city. The quote can be
/// confirmed until `expires_at`.
#[utoipa::path(post, path = "/v1/quotes", tag = "shipping",
    request_body = QuoteInput,
    responses(
        (status = CREATED, description = "the quote, valid until `expires_at`", body = Quote,
            headers(("location" = String, description = "where the quote can be read"))),
        (status = UNPROCESSABLE_ENTITY, description = "an unknown city, or a weight out of range", body = ErrorBody),
    ))]
async fn create_quote(
    State(state): State<AppState>,
    Json(input): Json<QuoteInput>,
) -> Result<(StatusCode, [(HeaderName, String); 1], Json<Quote>), ApiError> {
    let (city_id, weight_grams) = quote_request(&input)?;
    let city =
        state.store.city(&city_id).await?.ok_or_else(|| {
            ApiError::invalid("city_id", format!("city {city_id} does not exist"))
        })?;
    let distance_km = pricing::distance_km(state.warehouse, Coordinates::of(&city));
    let now = whole_microseconds(OffsetDateTime::now_utc());
    let record = QuoteRecord {
        id: Uuid::new_v4(),
        city,
        distance_km,
        weight_grams,
        cost_cents: pricing::cost_cents(distance_km, weight_grams),
        estimated_days: pricing::estimated_days(distance_km),
        created_at: now,
        expires_at: whole_microseconds(now + state.quote_ttl),
        confirmation: None,
    };
    state.store.insert_quote(&record).await?;
    state.metrics.quotes.inc();
    let location = format!("/v1/quotes/{}", record.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(record.view(now)),
    ))
}

/// A quote, with its status: `open`, `confirmed` or `expired`.
#[utoipa::path(get, path = "/v1/quotes/{id}", tag = "shipping",
    params(("id" = Uuid, Path, description = "the quote's id")),
    responses(
        (status = OK, description = "the quote", body = Quote),
        (status = NOT_FOUND, description = "no quote has this id", body = ErrorBody),
    ))]
async fn get_quote(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Quote>, ApiError> {
    let record = state.store.quote(id).await?;
    record
        .map(|record| Json(record.view(OffsetDateTime::now_utc())))
        .ok_or_else(|| ApiError::not_found(format!("quote {id}")))
}

/// Confirms an open quote for checkout. Confirming again with the same
/// reference answers the same; a quote stays confirmed after it would have
/// expired.
#[utoipa::path(post, path = "/internal/quotes/{id}/confirm", tag = "internal",
    params(("id" = Uuid, Path, description = "the quote's id")),
    request_body = ConfirmInput,
    security(("internal_token" = [])),
    responses(
        (status = OK, description = "confirmed for this reference", body = Quote),
        (status = NOT_FOUND, description = "no quote has this id", body = ErrorBody),
        (status = CONFLICT, description = "`already_confirmed` for another reference, or `quote_expired`", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "the reference is missing or too long", body = ErrorBody),
    ))]
async fn confirm_quote(
    _: InternalCaller,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(input): Json<ConfirmInput>,
) -> Result<Json<Quote>, ApiError> {
    let reference = Reference::parse("reference", &input.reference)?;
    let now = whole_microseconds(OffsetDateTime::now_utc());
    let (decision, record) = state
        .store
        .confirm(id, &reference, now)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("quote {id}")))?;
    match decision {
        ConfirmDecision::Confirm => {
            state.metrics.confirmed.inc();
            Ok(Json(record.view(now)))
        }
        ConfirmDecision::Repeat => Ok(Json(record.view(now))),
        ConfirmDecision::OtherReference => Err(ApiError::conflict(
            "already_confirmed",
            format!("quote {id} is already confirmed for another reference"),
        )),
        ConfirmDecision::Expired => Err(ApiError::conflict(
            "quote_expired",
            format!("quote {id} expired; ask for a new quote"),
        )),
    }
}

/// `at` to the microsecond, the precision both stores keep, so a quote
/// read back shows the times it was made with.
fn whole_microseconds(at: OffsetDateTime) -> OffsetDateTime {
    let micros = at.microsecond();
    at.replace_microsecond(micros).unwrap_or(at)
}
