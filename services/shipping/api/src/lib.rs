//! The shipping service's API, in one place: the requests it takes and the
//! answers it gives (shipping's OpenAPI document is generated from these
//! types), and [`ShippingClient`], through which other services call it.
//!
//! The values shipping validates ([`CountryCode`], [`CityId`],
//! [`Reference`]) are checked again when an answer is read.

use std::fmt;

use axum::http::Method;
use eshop_platform::{
    client::{CallError, ServiceClient},
    error::ApiError,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Longest city id, in bytes.
const MAX_CITY_ID_LEN: usize = 64;
/// Longest confirmation reference, in characters.
pub const MAX_REFERENCE_CHARS: usize = 100;

/// Shipping's endpoints, called through the platform's client (timeouts,
/// retries of idempotent calls, a circuit breaker, the internal credential).
#[derive(Debug, Clone)]
pub struct ShippingClient {
    client: ServiceClient,
}

impl ShippingClient {
    pub fn new(client: ServiceClient) -> Self {
        Self { client }
    }

    /// `POST /v1/quotes`: what sending a parcel to a city costs.
    pub async fn quote(&self, quote: &QuoteInput) -> Result<Quote, CallError> {
        self.client
            .request(Method::POST, "/v1/quotes")
            .json(quote)
            .send()
            .await
    }

    /// `POST /internal/quotes/{id}/confirm`: takes an open quote for
    /// `confirmation`'s reference; the same reference again answers the same.
    pub async fn confirm(&self, id: Uuid, confirmation: &ConfirmInput) -> Result<Quote, CallError> {
        self.client
            .request(Method::POST, &format!("/internal/quotes/{id}/confirm"))
            .json(confirmation)
            .send()
            .await
    }
}

/// An ISO 3166-1 alpha-2 country code: two capital letters, e.g. `NL`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String")]
#[schema(value_type = String, example = "NL", pattern = "^[A-Z]{2}$")]
pub struct CountryCode(String);

impl TryFrom<String> for CountryCode {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse("country", &text).map_err(|error| error.to_string())
    }
}

impl CountryCode {
    pub fn parse(field: &str, text: &str) -> Result<Self, ApiError> {
        if text.len() == 2 && text.bytes().all(|byte| byte.is_ascii_uppercase()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ApiError::invalid(
                field,
                "a country is two capital letters (ISO 3166-1 alpha-2), e.g. NL",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A code read back from a store, which only holds valid ones.
    pub fn from_store(code: String) -> Self {
        Self(code)
    }
}

/// A city's id: its country code and name in lowercase ASCII, joined by
/// dashes, e.g. `br-sao-paulo`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String")]
#[schema(value_type = String, example = "nl-rotterdam", pattern = "^[a-z0-9-]{1,64}$")]
pub struct CityId(String);

impl TryFrom<String> for CityId {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse("city_id", &text).map_err(|error| error.to_string())
    }
}

impl CityId {
    pub fn parse(field: &str, text: &str) -> Result<Self, ApiError> {
        let valid = !text.is_empty()
            && text.len() <= MAX_CITY_ID_LEN
            && text
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(ApiError::invalid(
                field,
                "a city id is 1 to 64 lowercase letters, digits and dashes, e.g. nl-rotterdam",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An id read back from a store, which only holds valid ones.
    pub fn from_store(id: String) -> Self {
        Self(id)
    }
}

impl fmt::Display for CityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A country shipping serves.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Country {
    pub code: CountryCode,
    #[schema(example = "Netherlands")]
    pub name: String,
    /// Cities of the country that shipping knows.
    pub city_count: i64,
}

/// A city shipping delivers to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct City {
    pub id: CityId,
    #[schema(example = "Rotterdam")]
    pub name: String,
    pub country_code: CountryCode,
    #[schema(example = "Netherlands")]
    pub country_name: String,
    /// Degrees north (negative: south).
    #[schema(example = 51.9244)]
    pub latitude: f64,
    /// Degrees east (negative: west).
    #[schema(example = 4.4777)]
    pub longitude: f64,
}

/// The query string of `GET /v1/cities`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CitySearchParams {
    /// The start of the city's name, 1 to 60 characters; case and accents
    /// do not matter ("sao" finds São Paulo).
    #[param(min_length = 1, max_length = 60, example = "sao")]
    pub q: String,
    /// Only cities of this country (ISO 3166-1 alpha-2, e.g. `FR`).
    #[param(pattern = "^[A-Z]{2}$", example = "BR")]
    pub country: Option<String>,
    /// Most cities to return, 1 to 50 (default 10).
    #[param(minimum = 1, maximum = 50, default = 10)]
    pub limit: Option<u32>,
}

/// The body of `POST /v1/quotes`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteInput {
    /// Where the parcel goes: a city id from `GET /v1/cities`.
    #[schema(example = "fr-paris")]
    pub city_id: String,
    /// The parcel's weight, 1 to 50,000 grams.
    #[schema(example = 1200, minimum = 1, maximum = 50000)]
    pub weight_grams: u32,
}

/// What a quote was confirmed for, e.g. an order or checkout id: 1 to 100
/// characters without control characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String")]
#[schema(value_type = String, example = "order-7f3c")]
pub struct Reference(String);

impl TryFrom<String> for Reference {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse("reference", &text).map_err(|error| error.to_string())
    }
}

impl Reference {
    pub fn parse(field: &str, text: &str) -> Result<Self, ApiError> {
        let text = text.trim();
        let length = text.chars().count();
        if length == 0 || length > MAX_REFERENCE_CHARS {
            return Err(ApiError::invalid(
                field,
                format!("must be 1 to {MAX_REFERENCE_CHARS} characters"),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(ApiError::invalid(field, "must not hold control characters"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A reference read back from a store, which only holds valid ones.
    pub fn from_store(reference: String) -> Self {
        Self(reference)
    }
}

/// The body of `POST /internal/quotes/{id}/confirm`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmInput {
    /// What the quote is confirmed for, e.g. the order or checkout id. The
    /// same reference again gets the same answer.
    #[schema(example = "order-7f3c")]
    pub reference: String,
}

/// Where a quote stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuoteStatus {
    /// It can be confirmed until it expires.
    Open,
    /// Checkout took it; it stays confirmed.
    Confirmed,
    /// It was not confirmed in time.
    Expired,
}

/// A price for sending a parcel from the warehouse to a city.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Quote {
    pub id: Uuid,
    /// Where the parcel goes.
    pub city: City,
    /// Great-circle distance from the warehouse, in km, to one decimal.
    #[schema(example = 372.5)]
    pub distance_km: f64,
    #[schema(example = 1200)]
    pub weight_grams: u32,
    /// The price, in cents.
    #[schema(example = 951)]
    pub cost_cents: i64,
    /// Working days until delivery, estimated from the distance.
    #[schema(example = 2)]
    pub estimated_days: u32,
    pub status: QuoteStatus,
    /// What the quote was confirmed for; only once confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<Reference>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Until when an open quote can be confirmed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// When it was confirmed; only once confirmed.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub confirmed_at: Option<OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(confirmed: bool) -> Quote {
        let at = OffsetDateTime::UNIX_EPOCH;
        Quote {
            id: Uuid::nil(),
            city: City {
                id: CityId::from_store("fr-lyon".to_owned()),
                name: "Lyon".to_owned(),
                country_code: CountryCode::from_store("FR".to_owned()),
                country_name: "France".to_owned(),
                latitude: 45.76,
                longitude: 4.84,
            },
            distance_km: 391.5,
            weight_grams: 1_200,
            cost_cents: 951,
            estimated_days: 2,
            status: if confirmed {
                QuoteStatus::Confirmed
            } else {
                QuoteStatus::Open
            },
            reference: confirmed.then(|| Reference::from_store("checkout-1".to_owned())),
            created_at: at,
            expires_at: at,
            confirmed_at: confirmed.then_some(at),
        }
    }

    #[test]
    fn a_caller_reads_back_every_quote_shipping_writes() {
        for confirmed in [false, true] {
            let written = serde_json::to_value(quote(confirmed)).unwrap();
            let read: Quote = serde_json::from_value(written.clone()).unwrap();
            assert_eq!(serde_json::to_value(read).unwrap(), written);
        }
    }

    #[test]
    fn an_answer_holding_a_value_shipping_would_refuse_is_not_read() {
        let mut written = serde_json::to_value(quote(false)).unwrap();
        written["city"]["id"] = "Not a city id".into();
        let refused = serde_json::from_value::<Quote>(written).unwrap_err();
        assert!(refused.to_string().contains("a city id is"), "{refused}");
    }
}
