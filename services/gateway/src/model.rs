//! What the gateway reads from the services and shows its clients: the
//! services' answers, read tolerantly (only the fields the shop shows), and
//! the aggregates of the public API. Money is always integer cents; the
//! pages format it with [`money`].

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Cents as the shop writes prices: `€1,234.50`.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    let units = (cents / 100).to_string();
    let mut grouped = String::new();
    for (index, digit) in units.chars().enumerate() {
        if index > 0 && (units.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}€{grouped}.{:02}", cents % 100)
}

/// A date as the pages show it: `21 Nov 2026`.
pub fn day(at: OffsetDateTime) -> String {
    format!(
        "{} {} {}",
        at.day(),
        &at.month().to_string()[..3],
        at.year()
    )
}

/// A category of products.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Category {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub product_count: i64,
}

/// A product, with its picture served by the gateway.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub category: String,
    /// Units that can be ordered now.
    pub stock: i64,
    pub weight_grams: i64,
    /// The picture, an SVG served by the gateway.
    #[serde(default)]
    pub image_url: String,
}

impl Product {
    /// Points the picture at the gateway instead of catalog.
    pub fn served_here(mut self) -> Self {
        self.image_url = format!("/api/products/{}/image.svg", self.sku);
        self
    }

    pub fn price(&self) -> String {
        money(self.price_cents)
    }
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

impl<T> Page<T> {
    pub fn pages(&self) -> u32 {
        let per_page = i64::from(self.per_page.max(1));
        u32::try_from((self.total + per_page - 1) / per_page).unwrap_or(1)
    }
}

/// How a product is rated.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RatingSummary {
    pub sku: String,
    /// Mean stars to one decimal; null when unrated.
    pub average: Option<f64>,
    pub count: u64,
}

impl RatingSummary {
    /// Whole stars out of five, rounded, for the star bar.
    pub fn whole_stars(&self) -> u8 {
        self.average
            .map_or(0, |average| average.round().clamp(0.0, 5.0) as u8)
    }

    /// Five stars, filled as rated: `★★★★☆`.
    pub fn star_bar(&self) -> String {
        star_bar(self.whole_stars())
    }

    pub fn average_text(&self) -> String {
        self.average.map_or_else(
            || "no ratings yet".to_owned(),
            |average| format!("{average:.1}"),
        )
    }
}

/// A review anyone may read.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Review {
    pub author: String,
    pub stars: u8,
    pub review: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub rated_at: OffsetDateTime,
}

/// `stars` filled stars out of five.
pub fn star_bar(stars: u8) -> String {
    let stars = usize::from(stars.min(5));
    format!("{}{}", "★".repeat(stars), "☆".repeat(5 - stars))
}

impl Review {
    pub fn star_bar(&self) -> String {
        star_bar(self.stars)
    }

    pub fn date(&self) -> String {
        day(self.rated_at)
    }
}

/// The calling user's own rating of a product.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Rating {
    pub sku: String,
    pub stars: u8,
    pub review: Option<String>,
}

/// The body of `PUT /api/products/{sku}/rating`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingInput {
    /// One to five.
    #[schema(minimum = 1, maximum = 5)]
    pub stars: u8,
    /// Up to 500 characters; blank means no review.
    #[serde(default)]
    pub review: Option<String>,
}

/// A line of a cart.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CartLine {
    pub sku: String,
    pub name: String,
    pub unit_price_cents: i64,
    pub quantity: u32,
    pub line_total_cents: i64,
}

impl CartLine {
    pub fn unit_price(&self) -> String {
        money(self.unit_price_cents)
    }

    pub fn line_total(&self) -> String {
        money(self.line_total_cents)
    }
}

/// A cart: the user's, or the anonymous visitor's.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Cart {
    pub lines: Vec<CartLine>,
    pub item_count: u32,
    pub total_cents: i64,
}

impl Cart {
    pub fn total(&self) -> String {
        money(self.total_cents)
    }
}

/// The body of `POST /api/cart/items`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItem {
    #[schema(example = "ROBOT-ARM-2", pattern = "^[A-Z0-9-]{1,32}$")]
    pub sku: String,
    /// 1 to 99.
    #[schema(minimum = 1, maximum = 99)]
    pub quantity: u32,
}

/// The body of `PUT /api/cart/items/{sku}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantity {
    /// 1 to 99.
    #[schema(minimum = 1, maximum = 99)]
    pub quantity: u32,
}

/// A user as they see themselves.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserProfile {
    pub id: Uuid,
    pub email: String,
    pub name: String,
}

/// A signed-in session: the bearer token and whose it is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// Send it as `authorization: Bearer <token>`; the web pages keep it in
    /// an HttpOnly cookie instead.
    pub token: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    pub user: UserProfile,
}

/// The body of `POST /api/users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// At most 254 characters.
    #[schema(example = "ada@example.com", max_length = 254)]
    pub email: String,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128, format = Password)]
    pub password: String,
    /// 1 to 80 characters.
    #[schema(example = "Ada Lovelace", min_length = 1, max_length = 80)]
    pub name: String,
}

/// The body of `POST /api/sessions`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
}

/// One of a user's addresses.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Address {
    pub id: Uuid,
    pub label: Option<String>,
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub phone: Option<String>,
}

/// The body of `POST /api/me/addresses`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A city the shop delivers to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct City {
    /// E.g. `fr-paris`.
    pub id: String,
    pub name: String,
    pub country_code: String,
    pub country_name: String,
}

impl City {
    /// How the city picker writes it: `Paris (FR)`.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.country_code)
    }
}

/// A shipping price for the caller's cart.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Quote {
    pub id: Uuid,
    pub city: City,
    pub distance_km: f64,
    pub weight_grams: i64,
    pub cost_cents: i64,
    pub estimated_days: i64,
}

impl Quote {
    pub fn cost(&self) -> String {
        money(self.cost_cents)
    }
}

/// The body of `POST /api/quotes`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    /// A city id from `GET /api/cities`.
    pub city_id: String,
}

/// An order in a customer's history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderSummary {
    pub id: Uuid,
    /// E.g. `ORD-000042`.
    pub number: String,
    /// `pending`, `paid`, `dispatched`, `delivered`, `cancelled` or `returned`.
    pub status: String,
    pub total_cents: i64,
    pub item_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl OrderSummary {
    pub fn total(&self) -> String {
        money(self.total_cents)
    }

    pub fn date(&self) -> String {
        day(self.created_at)
    }

    pub fn status_label(&self) -> &'static str {
        status_label(&self.status)
    }
}

/// How the pages name an order's status.
pub fn status_label(status: &str) -> &'static str {
    match status {
        "pending" => "Pending",
        "paid" => "Paid",
        "dispatched" => "Dispatched",
        "delivered" => "Delivered",
        "cancelled" => "Cancelled",
        "returned" => "Returned",
        _ => "Unknown",
    }
}

/// One line of an order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub total_cents: i64,
}

impl OrderLine {
    pub fn unit_price(&self) -> String {
        money(self.unit_price_cents)
    }

    pub fn total(&self) -> String {
        money(self.total_cents)
    }
}

/// Where an order goes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderShipping {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country_code: String,
    pub estimated_days: i64,
}

/// A status an order took, and when.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatusChange {
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

impl StatusChange {
    pub fn label(&self) -> &'static str {
        status_label(&self.status)
    }

    pub fn when(&self) -> String {
        format!(
            "{} {:02}:{:02}",
            day(self.at),
            self.at.hour(),
            self.at.minute()
        )
    }
}

/// An order with its lines and history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Order {
    pub id: Uuid,
    pub number: String,
    pub status: String,
    pub lines: Vec<OrderLine>,
    pub items_total_cents: i64,
    pub shipping_cost_cents: i64,
    pub total_cents: i64,
    pub shipping: OrderShipping,
    pub history: Vec<StatusChange>,
    pub tracking_number: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl Order {
    pub fn status_label(&self) -> &'static str {
        status_label(&self.status)
    }

    pub fn items_total(&self) -> String {
        money(self.items_total_cents)
    }

    pub fn shipping_cost(&self) -> String {
        money(self.shipping_cost_cents)
    }

    pub fn total(&self) -> String {
        money(self.total_cents)
    }

    pub fn date(&self) -> String {
        day(self.created_at)
    }
}

/// The address part of a checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutAddress {
    pub name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub postal_code: String,
    /// A city id from `GET /api/cities`.
    pub city_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// How a checkout is paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum CheckoutPayment {
    /// From the wallet's balance.
    Wallet,
    /// By card; test cards decline on purpose.
    Card { card_number: String },
}

/// The body of `POST /api/checkouts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    pub address: CheckoutAddress,
    pub payment: CheckoutPayment,
    /// The total, in cents, the customer confirmed (items plus shipping):
    /// when it is no longer the total, the checkout is refused with 409
    /// `price_changed` before anything is reserved or charged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_total_cents: Option<i64>,
}

/// Why a checkout failed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckoutFailure {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

/// A checkout: `running`, `compensating`, `completed` or `failed`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Checkout {
    pub id: Uuid,
    pub status: String,
    pub order_id: Option<Uuid>,
    pub items_cents: i64,
    pub total_cents: i64,
    pub failure: Option<CheckoutFailure>,
}

/// A product page: the product with its stock, how it is rated, its latest
/// reviews and the caller's own rating, gathered in parallel.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductDetail {
    pub product: Product,
    /// Null when ratings is unavailable.
    pub ratings: Option<RatingSummary>,
    /// Null when ratings is unavailable.
    pub reviews: Option<Vec<Review>>,
    /// The caller's rating, when signed in and they rated it.
    pub my_rating: Option<Rating>,
    /// Optional services that did not answer: the parts left out.
    pub degraded: Vec<String>,
}

/// A page of products, each with how it is rated when ratings answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductList {
    pub products: Page<Product>,
    /// One per product, in the same order; null when ratings is unavailable.
    pub ratings: Option<Vec<RatingSummary>>,
    pub degraded: Vec<String>,
}

/// The query string of `GET /api/products`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProductsParams {
    /// Only products of this category (its slug).
    pub category: Option<String>,
    /// Full-text search in names and descriptions.
    pub q: Option<String>,
    /// `name`, `price`, `price_desc`, `newest` or `relevance`.
    pub sort: Option<String>,
    /// From 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

/// The query string of `GET /api/cities`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CitiesParams {
    /// The start of the city's name.
    pub q: String,
    /// 1 to 20 (default 8).
    #[param(minimum = 1, maximum = 20)]
    pub limit: Option<u32>,
}

/// The query string of `GET /api/orders`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrdersParams {
    /// From 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_written_from_integer_cents() {
        assert_eq!(money(0), "€0.00");
        assert_eq!(money(5), "€0.05");
        assert_eq!(money(38_900), "€389.00");
        assert_eq!(money(123_456_789), "€1,234,567.89");
        assert_eq!(money(-2_050), "-€20.50");
    }

    #[test]
    fn pages_round_up() {
        let page = |total| Page::<()> {
            items: vec![],
            page: 1,
            per_page: 12,
            total,
        };
        assert_eq!(page(0).pages(), 0);
        assert_eq!(page(12).pages(), 1);
        assert_eq!(page(13).pages(), 2);
    }
}
