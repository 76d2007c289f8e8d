//! The orders service's values, validated once at the edge: an order that
//! gets past [`OrderInput::validate`] holds nothing the stores need to check
//! again, and its totals are computed here, never taken from the caller.

use std::fmt;

use eshop_platform::{error::ApiError, fields};
use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub use crate::lifecycle::OrderStatus;

/// Most lines one order holds, and most units of one line.
pub const MAX_LINES: usize = 50;
pub const MAX_QUANTITY: u32 = 99;
/// Highest unit price and highest shipping cost, in cents.
pub const MAX_PRICE_CENTS: i64 = 10_000_000;
pub const MAX_SHIPPING_COST_CENTS: i64 = 10_000_000;
/// Longest delivery estimate, in days.
pub const MAX_ESTIMATED_DAYS: u32 = 365;
/// Most orders one page lists, and how many without `per_page`.
pub const MAX_PAGE_SIZE: u32 = 50;
pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE: u32 = 10_000;
/// Longest tracking number dispatch may report, in characters.
pub const MAX_TRACKING_NUMBER_CHARS: usize = 100;

/// The time now, to the microsecond: the precision both stores keep, so
/// what an answer shows is what a later read shows.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.microsecond() * 1_000)
        .unwrap_or(now)
}

/// An order's number for people, e.g. `ORD-000042`: given in sequence, so
/// it is short enough to read out on the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ToSchema)]
#[schema(value_type = String, example = "ORD-000042")]
pub struct OrderNumber(pub i64);

impl fmt::Display for OrderNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ORD-{:06}", self.0)
    }
}

impl Serialize for OrderNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// How an order was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Wallet,
    Card,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wallet => "wallet",
            Self::Card => "card",
        }
    }

    /// The method written `text`, as [`PaymentMethod::as_str`] writes it.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Wallet, Self::Card]
            .into_iter()
            .find(|method| method.as_str() == text)
    }
}

/// The payment the checkout took for an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    /// The wallet's charge.
    pub charge_id: Uuid,
    pub method: PaymentMethod,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Line {
    #[schema(example = "ROBOT-ARM-2")]
    pub sku: String,
    /// The product's name when it was ordered.
    pub name: String,
    pub quantity: i64,
    /// Price of one unit when it was ordered, in cents.
    pub unit_price_cents: i64,
    /// `quantity × unit_price_cents`.
    pub total_cents: i64,
}

/// Where an order goes, and the shipping quote it was sent with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Shipping {
    /// Who receives it.
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. `NL`.
    #[schema(example = "NL")]
    pub country_code: String,
    /// Shipping's id of the city, e.g. `nl-rotterdam`.
    #[schema(example = "nl-rotterdam")]
    pub city_id: String,
    /// Shipping's quote the cost comes from.
    pub quote_id: Uuid,
    /// What shipping costs, in cents.
    pub cost_cents: i64,
    /// Days from dispatch to delivery, as quoted.
    pub estimated_days: i64,
}

/// A status an order took, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatusChange {
    pub status: OrderStatus,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

/// An order, as its customer and the other services see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Order {
    pub id: Uuid,
    pub number: OrderNumber,
    /// The checkout that made it; one checkout makes at most one order.
    pub checkout_id: Uuid,
    pub user_id: Uuid,
    pub status: OrderStatus,
    pub lines: Vec<Line>,
    /// The lines' totals added up, in cents.
    pub items_total_cents: i64,
    /// What shipping costs, in cents.
    pub shipping_cost_cents: i64,
    /// `items_total_cents + shipping_cost_cents`: what was charged.
    pub total_cents: i64,
    pub shipping: Shipping,
    pub payment: Payment,
    /// Catalog's reservation of the order's stock.
    pub reservation_id: Uuid,
    /// Dispatch's tracking number, once the order is dispatched.
    pub tracking_number: Option<String>,
    /// Every status the order took, oldest first.
    pub history: Vec<StatusChange>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When its status last changed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// An order in a customer's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrderSummary {
    pub id: Uuid,
    pub number: OrderNumber,
    pub status: OrderStatus,
    pub total_cents: i64,
    /// Units ordered, all lines together.
    pub item_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    /// Items in all pages.
    pub total: i64,
}

/// A line as the checkout sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    /// 1 to 32 capital letters, digits and dashes.
    pub sku: String,
    /// 1 to 120 characters.
    pub name: String,
    /// 1 to 99.
    #[schema(minimum = 1, maximum = 99)]
    pub quantity: u32,
    /// 1 to 10,000,000.
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub unit_price_cents: i64,
}

/// Where the checkout sends the order, and its shipping quote.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingInput {
    /// Who receives it: 1 to 100 characters.
    pub name: String,
    /// 1 to 200 characters.
    pub line1: String,
    /// Up to 200 characters; empty is the same as absent.
    #[serde(default)]
    pub line2: Option<String>,
    /// 1 to 100 characters.
    pub city: String,
    /// 1 to 20 characters.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2: two capital letters.
    pub country_code: String,
    /// Shipping's city id: 1 to 64 lowercase letters, digits and dashes.
    pub city_id: String,
    pub quote_id: Uuid,
    /// 0 to 10,000,000.
    pub cost_cents: i64,
    /// 0 to 365.
    pub estimated_days: u32,
}

/// The body of `POST /internal/orders`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    pub checkout_id: Uuid,
    pub user_id: Uuid,
    /// 1 to 50 lines, each SKU once.
    pub lines: Vec<LineInput>,
    pub shipping: ShippingInput,
    pub payment: Payment,
    /// Catalog's reservation of the order's stock.
    pub reservation_id: Uuid,
}

/// A validated order, with its totals, ready to store.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: Uuid,
    pub checkout_id: Uuid,
    pub user_id: Uuid,
    pub lines: Vec<Line>,
    pub items_total_cents: i64,
    pub total_cents: i64,
    pub shipping: Shipping,
    pub payment: Payment,
    pub reservation_id: Uuid,
    pub created_at: OffsetDateTime,
}

impl NewOrder {
    /// Whether `order` is what this request would have made: the saga
    /// retrying, rather than a second request reusing the checkout's id.
    pub fn is_repeated_by(&self, order: &Order) -> bool {
        self.checkout_id == order.checkout_id
            && self.user_id == order.user_id
            && self.lines == order.lines
            && self.shipping == order.shipping
            && self.payment == order.payment
            && self.reservation_id == order.reservation_id
    }
}

impl OrderInput {
    /// The order as `id`, created at `created_at`, with its totals; or the
    /// first field at fault.
    pub fn validate(self, id: Uuid, created_at: OffsetDateTime) -> Result<NewOrder, ApiError> {
        if self.lines.is_empty() || self.lines.len() > MAX_LINES {
            return Err(ApiError::invalid(
                "lines",
                format!("must hold 1 to {MAX_LINES} lines"),
            ));
        }
        let mut lines: Vec<Line> = Vec::with_capacity(self.lines.len());
        for (index, line) in self.lines.into_iter().enumerate() {
            let field = |name: &str| format!("lines[{index}].{name}");
            let sku = sku(&field("sku"), &line.sku)?;
            if lines.iter().any(|existing| existing.sku == sku) {
                return Err(ApiError::invalid(
                    field("sku"),
                    format!("{sku} appears twice"),
                ));
            }
            let name = fields::line(&field("name"), &line.name, 120)?;
            if !(1..=MAX_QUANTITY).contains(&line.quantity) {
                return Err(ApiError::invalid(
                    field("quantity"),
                    format!("must be between 1 and {MAX_QUANTITY}"),
                ));
            }
            let unit_price_cents = cents(
                &field("unit_price_cents"),
                line.unit_price_cents,
                1,
                MAX_PRICE_CENTS,
            )?;
            let quantity = i64::from(line.quantity);
            lines.push(Line {
                sku,
                name,
                quantity,
                unit_price_cents,
                total_cents: quantity * unit_price_cents,
            });
        }
        let shipping = self.shipping.validate()?;
        let items_total_cents = lines.iter().map(|line| line.total_cents).sum::<i64>();
        Ok(NewOrder {
            id,
            checkout_id: self.checkout_id,
            user_id: self.user_id,
            total_cents: items_total_cents + shipping.cost_cents,
            items_total_cents,
            lines,
            shipping,
            payment: self.payment,
            reservation_id: self.reservation_id,
            created_at,
        })
    }
}

impl ShippingInput {
    fn validate(self) -> Result<Shipping, ApiError> {
        let line2 = match self.line2.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(line2) => Some(fields::line("shipping.line2", line2, 200)?),
        };
        if self.estimated_days > MAX_ESTIMATED_DAYS {
            return Err(ApiError::invalid(
                "shipping.estimated_days",
                format!("must be between 0 and {MAX_ESTIMATED_DAYS}"),
            ));
        }
        Ok(Shipping {
            name: fields::line("shipping.name", &self.name, 100)?,
            line1: fields::line("shipping.line1", &self.line1, 200)?,
            line2,
            city: fields::line("shipping.city", &self.city, 100)?,
            postal_code: fields::line("shipping.postal_code", &self.postal_code, 20)?,
            country_code: country_code("shipping.country_code", &self.country_code)?,
            city_id: city_id("shipping.city_id", &self.city_id)?,
            quote_id: self.quote_id,
            cost_cents: cents(
                "shipping.cost_cents",
                self.cost_cents,
                0,
                MAX_SHIPPING_COST_CENTS,
            )?,
            estimated_days: i64::from(self.estimated_days),
        })
    }
}

/// A SKU, as the catalog writes them: 1 to 32 capital letters, digits and
/// dashes.
fn sku(field: &str, text: &str) -> Result<String, ApiError> {
    let valid = !text.is_empty()
        && text.len() <= 32
        && text
            .bytes()
            .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'-');
    if valid {
        Ok(text.to_owned())
    } else {
        Err(ApiError::invalid(
            field,
            "a SKU is 1 to 32 capital letters, digits and dashes",
        ))
    }
}

fn country_code(field: &str, text: &str) -> Result<String, ApiError> {
    if text.len() == 2 && text.bytes().all(|byte| byte.is_ascii_uppercase()) {
        Ok(text.to_owned())
    } else {
        Err(ApiError::invalid(
            field,
            "a country code is two capital letters (ISO 3166-1 alpha-2)",
        ))
    }
}

fn city_id(field: &str, text: &str) -> Result<String, ApiError> {
    let valid = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    if valid {
        Ok(text.to_owned())
    } else {
        Err(ApiError::invalid(
            field,
            "a city id is 1 to 64 lowercase letters, digits and dashes",
        ))
    }
}

fn cents(field: &str, value: i64, min: i64, max: i64) -> Result<i64, ApiError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::invalid(
            field,
            format!("must be between {min} and {max}"),
        ))
    }
}

/// The query string of `GET /v1/orders`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Page number, from 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Orders per page, 1 to 50 (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub per_page: Option<u32>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageQuery {
    pub page: u32,
    pub per_page: u32,
}

impl PageQuery {
    pub fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }
}

impl ListParams {
    pub fn validate(self) -> Result<PageQuery, ApiError> {
        let per_page = self.per_page.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&per_page) {
            return Err(ApiError::invalid(
                "per_page",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        let page = self.page.unwrap_or(1);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(ApiError::invalid(
                "page",
                format!("must be between 1 and {MAX_PAGE}"),
            ));
        }
        Ok(PageQuery { page, per_page })
    }
}

/// How many orders are in each status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrdersByStatus {
    pub pending: i64,
    pub paid: i64,
    pub dispatched: i64,
    pub delivered: i64,
    pub cancelled: i64,
    pub returned: i64,
}

impl OrdersByStatus {
    pub fn set(&mut self, status: OrderStatus, count: i64) {
        let slot = match status {
            OrderStatus::Pending => &mut self.pending,
            OrderStatus::Paid => &mut self.paid,
            OrderStatus::Dispatched => &mut self.dispatched,
            OrderStatus::Delivered => &mut self.delivered,
            OrderStatus::Cancelled => &mut self.cancelled,
            OrderStatus::Returned => &mut self.returned,
        };
        *slot = count;
    }
}

/// What the invariant checker looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrdersSummary {
    pub orders_by_status: OrdersByStatus,
    /// What the orders that keep their money (paid, dispatched, delivered)
    /// were charged, in cents.
    pub paid_total_cents: i64,
    /// Checkouts that made more than one order; always 0.
    pub duplicate_checkouts: i64,
    /// How long the oldest pending order has waited, in seconds; 0 when
    /// none is pending.
    pub oldest_pending_seconds: i64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input(body: serde_json::Value) -> OrderInput {
        serde_json::from_value(body).unwrap()
    }

    fn valid() -> serde_json::Value {
        json!({
            "checkout_id": Uuid::new_v4(),
            "user_id": Uuid::new_v4(),
            "lines": [
                {"sku": "ROBOT-1", "name": "Robot", "quantity": 2, "unit_price_cents": 1999},
                {"sku": "GEAR-7", "name": " Gear ", "quantity": 3, "unit_price_cents": 250},
            ],
            "shipping": {
                "name": "Ada Lovelace", "line1": "1 Main Street", "line2": "  ",
                "city": "Rotterdam", "postal_code": "3011 AA", "country_code": "NL",
                "city_id": "nl-rotterdam", "quote_id": Uuid::new_v4(),
                "cost_cents": 499, "estimated_days": 2,
            },
            "payment": {"charge_id": Uuid::new_v4(), "method": "wallet"},
            "reservation_id": Uuid::new_v4(),
        })
    }

    fn refused(body: serde_json::Value) -> Option<String> {
        input(body)
            .validate(Uuid::new_v4(), now())
            .unwrap_err()
            .field()
            .map(str::to_owned)
    }

    #[test]
    fn totals_are_computed_from_the_lines_and_the_shipping() {
        let order = input(valid()).validate(Uuid::new_v4(), now()).unwrap();
        assert_eq!(order.lines[0].total_cents, 3998);
        assert_eq!(order.lines[1].name, "Gear");
        assert_eq!(order.items_total_cents, 3998 + 750);
        assert_eq!(order.total_cents, 3998 + 750 + 499);
        assert_eq!(order.shipping.line2, None, "a blank line2 is absent");
    }

    #[test]
    fn every_limit_names_its_field() {
        let cases: [(&str, serde_json::Value, &str); 14] = [
            ("/lines", json!([]), "lines"),
            ("/lines/0/quantity", json!(0), "lines[0].quantity"),
            ("/lines/0/quantity", json!(100), "lines[0].quantity"),
            (
                "/lines/1/unit_price_cents",
                json!(0),
                "lines[1].unit_price_cents",
            ),
            ("/lines/1/sku", json!("ROBOT-1"), "lines[1].sku"),
            ("/lines/0/sku", json!("robot"), "lines[0].sku"),
            ("/lines/0/name", json!(" "), "lines[0].name"),
            ("/lines/0/name", json!("x".repeat(121)), "lines[0].name"),
            ("/shipping/name", json!("Ada\u{7}"), "shipping.name"),
            (
                "/shipping/country_code",
                json!("nl"),
                "shipping.country_code",
            ),
            (
                "/shipping/city_id",
                json!("NL Rotterdam"),
                "shipping.city_id",
            ),
            ("/shipping/cost_cents", json!(-1), "shipping.cost_cents"),
            (
                "/shipping/estimated_days",
                json!(366),
                "shipping.estimated_days",
            ),
            (
                "/shipping/postal_code",
                json!("1".repeat(21)),
                "shipping.postal_code",
            ),
        ];
        for (pointer, value, field) in cases {
            let mut body = valid();
            *body.pointer_mut(pointer).unwrap() = value;
            assert_eq!(refused(body).as_deref(), Some(field), "{pointer}");
        }
        let mut too_many = valid();
        too_many["lines"] = (0..=MAX_LINES)
            .map(|n| json!({"sku": format!("SKU-{n}"), "name": "N", "quantity": 1, "unit_price_cents": 1}))
            .collect();
        assert_eq!(refused(too_many).as_deref(), Some("lines"));
    }

    #[test]
    fn a_repeat_is_recognised_by_its_contents() {
        let order = input(valid()).validate(Uuid::new_v4(), now()).unwrap();
        let stored = Order {
            id: order.id,
            number: OrderNumber(1),
            checkout_id: order.checkout_id,
            user_id: order.user_id,
            status: OrderStatus::Paid,
            lines: order.lines.clone(),
            items_total_cents: order.items_total_cents,
            shipping_cost_cents: order.shipping.cost_cents,
            total_cents: order.total_cents,
            shipping: order.shipping.clone(),
            payment: order.payment.clone(),
            reservation_id: order.reservation_id,
            tracking_number: None,
            history: Vec::new(),
            created_at: order.created_at,
            updated_at: order.created_at,
        };
        assert!(order.is_repeated_by(&stored));
        let other_user = NewOrder {
            user_id: Uuid::new_v4(),
            ..order.clone()
        };
        assert!(!other_user.is_repeated_by(&stored));
        let mut other_lines = order;
        other_lines.lines[0].quantity = 1;
        assert!(!other_lines.is_repeated_by(&stored));
    }

    #[test]
    fn order_numbers_read_like_order_numbers() {
        assert_eq!(OrderNumber(42).to_string(), "ORD-000042");
        assert_eq!(OrderNumber(1_234_567).to_string(), "ORD-1234567");
        assert_eq!(json!(OrderNumber(7)), json!("ORD-000007"));
    }

    #[test]
    fn pages_default_and_bound() {
        assert_eq!(
            ListParams::default().validate().unwrap(),
            PageQuery {
                page: 1,
                per_page: 20
            }
        );
        let too_big = ListParams {
            per_page: Some(51),
            ..ListParams::default()
        };
        assert_eq!(too_big.validate().unwrap_err().field(), Some("per_page"));
        let zero = ListParams {
            page: Some(0),
            ..ListParams::default()
        };
        assert_eq!(zero.validate().unwrap_err().field(), Some("page"));
        assert_eq!(
            PageQuery {
                page: 3,
                per_page: 10
            }
            .offset(),
            20
        );
    }
}
