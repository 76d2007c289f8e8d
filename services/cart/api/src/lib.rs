//! The cart service's API, in one place: the requests it takes and the
//! answers it gives (the cart's OpenAPI document is generated from these
//! types), and [`CartClient`], through which other services call it.

use axum::http::Method;
use eshop_platform::{
    client::{CallError, ServiceClient},
    sku::Sku,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The cart's internal endpoints, called through the platform's client
/// (timeouts, retries of idempotent calls, a circuit breaker, the internal
/// credential).
#[derive(Debug, Clone)]
pub struct CartClient {
    client: ServiceClient,
}

impl CartClient {
    pub fn new(client: ServiceClient) -> Self {
        Self { client }
    }

    /// `GET /internal/carts/{user_id}`: the user's cart, for checkout.
    pub async fn user_cart(&self, user_id: Uuid) -> Result<CartView, CallError> {
        self.client
            .get(&format!("/internal/carts/{user_id}"))
            .send()
            .await
    }

    /// `DELETE /internal/carts/{user_id}`: empties the user's cart once
    /// their order is placed.
    pub async fn clear_user_cart(&self, user_id: Uuid) -> Result<(), CallError> {
        self.client
            .request(Method::DELETE, &format!("/internal/carts/{user_id}"))
            .send_without_answer()
            .await
    }
}

/// The body of `PUT /v1/cart/items/{sku}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantity {
    /// The line's new quantity, 1 to 99.
    #[schema(minimum = 1, maximum = 99)]
    pub quantity: u32,
}

/// The body of `POST /v1/cart/items`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItem {
    #[schema(example = "ROBOT-ARM-2", pattern = "^[A-Z0-9-]{1,32}$")]
    pub sku: String,
    /// Units to add to what the cart holds, 1 to 99; a line holds at most 99.
    #[schema(minimum = 1, maximum = 99)]
    pub quantity: u32,
}

/// The body of `POST /v1/cart/merge`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    /// The anonymous session whose cart joins the user's.
    #[schema(format = Uuid)]
    pub session_id: String,
}

/// A line as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineView {
    pub sku: Sku,
    pub name: String,
    /// Price of one unit, in cents, when the line was last added or set.
    pub unit_price_cents: i64,
    #[schema(minimum = 1, maximum = 99)]
    pub quantity: u32,
    /// `unit_price_cents × quantity`.
    pub line_total_cents: i64,
}

/// A cart as the API shows it. An unknown or expired cart is an empty one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CartView {
    /// In the order they were first added.
    pub lines: Vec<LineView>,
    /// Units in the cart, all lines together.
    pub item_count: u32,
    /// The sum of the line totals, in cents.
    pub total_cents: i64,
    /// When the cart is dropped unless changed before; `null` when empty.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub expires_at: Option<OffsetDateTime>,
}
