//! The catalog service's API, in one place: the requests it takes and the
//! answers it gives (the catalog's OpenAPI document is generated from these
//! types), and [`CatalogClient`], through which other services call it.
//!
//! Values that the catalog validates ([`Slug`], and the platform's `Sku`)
//! are checked again when an answer is read, so a caller never holds one
//! that the catalog would refuse.

use axum::http::{Method, StatusCode};
pub use eshop_platform::sku::Sku;
use eshop_platform::{
    client::{CallError, ServiceClient},
    error::ApiError,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// The catalog's endpoints, called through the platform's client (timeouts,
/// retries of idempotent calls, a circuit breaker, the internal credential).
#[derive(Debug, Clone)]
pub struct CatalogClient {
    client: ServiceClient,
}

impl CatalogClient {
    pub fn new(client: ServiceClient) -> Self {
        Self { client }
    }

    /// `GET /v1/products/{sku}`.
    pub async fn product(&self, sku: &str) -> Result<Product, CallError> {
        self.client.get(&format!("/v1/products/{sku}")).send().await
    }

    /// `PUT /internal/reservations/{id}`: holds the lines' stock under
    /// `id`; the same request again answers the first reservation.
    pub async fn reserve(
        &self,
        id: Uuid,
        reservation: &ReservationInput,
    ) -> Result<Reservation, CallError> {
        self.client
            .request(Method::PUT, &format!("/internal/reservations/{id}"))
            .json(reservation)
            .send()
            .await
    }

    /// `POST /internal/reservations/{id}/commit`: the order was placed.
    pub async fn commit(&self, id: Uuid) -> Result<Reservation, CallError> {
        self.client
            .request(Method::POST, &format!("/internal/reservations/{id}/commit"))
            .send()
            .await
    }

    /// `POST /internal/reservations/{id}/release`: the stock goes back;
    /// `None` when there was no such reservation.
    pub async fn release(&self, id: Uuid) -> Result<Option<Reservation>, CallError> {
        match self
            .client
            .request(
                Method::POST,
                &format!("/internal/reservations/{id}/release"),
            )
            .send()
            .await
        {
            Ok(reservation) => Ok(Some(reservation)),
            Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// A category's slug: 1 to 32 lowercase letters, digits and dashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String")]
#[schema(value_type = String, example = "robots")]
pub struct Slug(String);

impl Slug {
    pub fn parse(field: &str, text: &str) -> Result<Self, ApiError> {
        let valid = !text.is_empty()
            && text.len() <= 32
            && text
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(ApiError::invalid(
                field,
                "a category is 1 to 32 lowercase letters, digits and dashes",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A slug read back from a store, which only holds valid ones.
    pub fn from_store(slug: String) -> Self {
        Self(slug)
    }
}

impl TryFrom<String> for Slug {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse("slug", &text).map_err(|error| error.to_string())
    }
}

/// A category of products.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Category {
    pub slug: Slug,
    pub name: String,
    pub description: String,
    /// Products in the category.
    pub product_count: i64,
}

/// A product as the catalog shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Product {
    pub sku: Sku,
    pub name: String,
    pub description: String,
    /// Price in cents.
    pub price_cents: i64,
    pub category: Slug,
    /// Where its image is, relative to the catalog.
    pub image_url: String,
    /// Units that can be ordered now (held reservations excluded).
    pub stock: i64,
    /// Shipping weight of one unit, in grams.
    pub weight_grams: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// The body of `PUT /internal/products/{sku}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub category: String,
    pub stock: i64,
    /// Shipping weight of one unit, in grams.
    pub weight_grams: i64,
}

/// The body of `PUT /internal/categories/{slug}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    pub name: String,
    pub description: String,
}

/// How a product list is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// By name, A to Z (the default without a search).
    #[default]
    Name,
    /// Cheapest first.
    Price,
    /// Dearest first.
    PriceDesc,
    /// Most recently added first.
    Newest,
    /// Best match first (the default with a search).
    Relevance,
}

/// The query string of `GET /v1/products`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only products of this category.
    pub category: Option<String>,
    /// Full-text search in names and descriptions.
    pub q: Option<String>,
    /// Order of the list.
    pub sort: Option<Sort>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Products per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    /// Items in all pages.
    pub total: i64,
}

/// Units of one product in a reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Line {
    pub sku: Sku,
    pub quantity: i64,
}

/// A line as a client sends it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    #[schema(example = "ROBOT-ARM-2", pattern = "^[A-Z0-9-]{1,32}$")]
    pub sku: String,
    /// 1 to 1,000.
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: u32,
}

/// The body of `PUT /internal/reservations/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationInput {
    pub lines: Vec<LineInput>,
}

/// Where a reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    /// Stock is set aside until it is committed, released or expires.
    Held,
    /// The order was placed: the stock is gone for good.
    Committed,
    /// The stock went back on the shelf.
    Released,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Committed => "committed",
            Self::Released => "released",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "held" => Self::Held,
            "committed" => Self::Committed,
            _ => Self::Released,
        }
    }
}

/// Stock set aside for a checkout.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Reservation {
    pub id: Uuid,
    pub status: ReservationStatus,
    pub lines: Vec<Line>,
    /// When a held reservation is released unless committed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}
