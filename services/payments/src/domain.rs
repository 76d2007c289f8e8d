//! A checkout: what the customer asks for, the saga's steps, what each step
//! learned, and how a checkout ends.

use eshop_platform::{error::ApiError, fields};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Where the order goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub postal_code: String,
    /// A city id from shipping's `GET /v1/cities`, e.g. `fr-paris`.
    pub city_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// How the customer pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Payment {
    /// From the shop wallet's balance.
    Wallet,
    /// By card; test cards decline or fail on purpose (see wallet).
    Card { card_number: String },
}

/// The body of `POST /v1/checkouts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    pub address: Address,
    pub payment: Payment,
    /// The total, in cents, the customer confirmed: items plus shipping as
    /// shown to them. When prices or the shipping quote have changed since,
    /// the checkout is refused with 409 `price_changed` before anything is
    /// reserved or charged. Send it; without it, the checkout charges
    /// whatever the total is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_total_cents: Option<i64>,
}

/// Whether `card_number` is a whole card number (12 to 19 digits, spaces
/// aside), not one already reduced to its last four.
fn is_full_card_number(card_number: &str) -> bool {
    let digits = card_number.chars().filter(char::is_ascii_digit).count();
    (12..=19).contains(&digits)
}

/// A card number as kept once the card is charged, or will never be: its
/// brand and last four digits, e.g. `visa ending 4242`.
fn reduced_card_number(card_number: &str) -> String {
    let digits: String = card_number.chars().filter(char::is_ascii_digit).collect();
    let brand = match digits.as_bytes() {
        [b'4', ..] => "visa",
        [b'5', b'1'..=b'5', ..] | [b'2', ..] => "mastercard",
        [b'3', b'4' | b'7', ..] => "amex",
        [b'6', ..] => "discover",
        _ => "card",
    };
    let last_four = &digits[digits.len().saturating_sub(4)..];
    format!("{brand} ending {last_four}")
}

impl CheckoutRequest {
    /// The request with the card number reduced to its brand and last four
    /// digits: what is kept once the charge is made or cannot be made.
    pub fn without_card_number(&self) -> Self {
        match &self.payment {
            Payment::Card { card_number } if is_full_card_number(card_number) => Self {
                payment: Payment::Card {
                    card_number: reduced_card_number(card_number),
                },
                ..self.clone()
            },
            Payment::Card { .. } | Payment::Wallet => self.clone(),
        }
    }

    /// Whether `retry` asks for the checkout this request (kept, maybe
    /// without its card number) asked for.
    pub fn is_retried_by(&self, retry: &Self) -> bool {
        self == retry || *self == retry.without_card_number()
    }
}

impl CheckoutRequest {
    pub fn validate(&self) -> Result<(), ApiError> {
        let address = &self.address;
        fields::line("address.name", &address.name, 80)?;
        fields::line("address.line1", &address.line1, 120)?;
        if let Some(line2) = &address.line2 {
            fields::line("address.line2", line2, 120)?;
        }
        fields::line("address.postal_code", &address.postal_code, 20)?;
        if let Some(phone) = &address.phone {
            fields::line("address.phone", phone, 30)?;
        }
        fields::line("address.city_id", &address.city_id, 80)?;
        if self.expected_total_cents.is_some_and(|total| total < 0) {
            return Err(ApiError::invalid(
                "expected_total_cents",
                "a total is zero or more cents",
            ));
        }
        if let Payment::Card { card_number } = &self.payment {
            let digits = card_number.chars().filter(|c| !c.is_whitespace()).count();
            if !(12..=19).contains(&digits) {
                return Err(ApiError::invalid(
                    "payment.card_number",
                    "a card number has 12 to 19 digits",
                ));
            }
        }
        Ok(())
    }
}

/// The saga's steps, in order. A checkout records the next step to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    VerifyUser,
    ReadCart,
    QuoteShipping,
    ReserveStock,
    Charge,
    CreateOrder,
    ClearCart,
    /// Nothing left to do.
    Done,
}

impl Step {
    pub const ALL: [Self; 7] = [
        Self::VerifyUser,
        Self::ReadCart,
        Self::QuoteShipping,
        Self::ReserveStock,
        Self::Charge,
        Self::CreateOrder,
        Self::ClearCart,
    ];

    pub fn next(self) -> Self {
        match self {
            Self::VerifyUser => Self::ReadCart,
            Self::ReadCart => Self::QuoteShipping,
            Self::QuoteShipping => Self::ReserveStock,
            Self::ReserveStock => Self::Charge,
            Self::Charge => Self::CreateOrder,
            Self::CreateOrder => Self::ClearCart,
            Self::ClearCart | Self::Done => Self::Done,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyUser => "verify_user",
            Self::ReadCart => "read_cart",
            Self::ReserveStock => "reserve_stock",
            Self::QuoteShipping => "quote_shipping",
            Self::Charge => "charge",
            Self::CreateOrder => "create_order",
            Self::ClearCart => "clear_cart",
            Self::Done => "done",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .chain([Self::Done])
            .find(|step| step.as_str() == text)
    }
}

/// Where a checkout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Moving forward through the steps.
    Running,
    /// A step failed for good; undoing what was done.
    Compensating,
    /// The order exists and the cart is empty.
    Completed,
    /// Nothing was bought; everything taken was given back.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Compensating => "compensating",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "running" => Self::Running,
            "compensating" => Self::Compensating,
            "completed" => Self::Completed,
            _ => Self::Failed,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// One line bought, as read from the cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Line {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

/// The shipping quote the checkout confirmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Shipping {
    pub quote_id: Uuid,
    pub cost_cents: i64,
    pub estimated_days: i64,
    pub city: String,
    pub country_code: String,
}

/// What the steps learned so far; saved with every step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub user_email: Option<String>,
    pub lines: Vec<Line>,
    pub reserved: bool,
    pub shipping: Option<Shipping>,
    pub charge_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    /// Refunded while compensating.
    pub refunded: bool,
    /// Released while compensating.
    pub released: bool,
}

impl Progress {
    pub fn items_cents(&self) -> i64 {
        self.lines
            .iter()
            .map(|line| line.quantity * line.unit_price_cents)
            .sum()
    }

    pub fn total_cents(&self) -> i64 {
        self.items_cents()
            + self
                .shipping
                .as_ref()
                .map_or(0, |shipping| shipping.cost_cents)
    }
}

/// Why a checkout failed, as the customer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Failure {
    /// HTTP status the failure is reported with.
    pub status: u16,
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A checkout as stored.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub id: Uuid,
    pub user_id: Uuid,
    pub idempotency_key: String,
    pub request: CheckoutRequest,
    pub status: Status,
    pub step: Step,
    pub progress: Progress,
    pub failure: Option<Failure>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Checkout {
    /// Forgets the full card number once nothing will charge it any more:
    /// after the charge, or when the checkout ends without one.
    pub fn forget_card_number_when_done_with_it(&mut self) {
        if self.progress.charge_id.is_some()
            || self.status.is_final()
            || self.status == Status::Compensating
        {
            self.request = self.request.without_card_number();
        }
    }
}

/// A checkout as the customer sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckoutView {
    pub id: Uuid,
    pub status: Status,
    /// The step it is at while running.
    pub step: Step,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<Uuid>,
    pub lines: Vec<Line>,
    pub items_cents: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping: Option<Shipping>,
    pub total_cents: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<&Checkout> for CheckoutView {
    fn from(checkout: &Checkout) -> Self {
        Self {
            id: checkout.id,
            status: checkout.status,
            step: checkout.step,
            order_id: checkout.progress.order_id,
            lines: checkout.progress.lines.clone(),
            items_cents: checkout.progress.items_cents(),
            shipping: checkout.progress.shipping.clone(),
            total_cents: checkout.progress.total_cents(),
            failure: checkout.failure.clone(),
            created_at: checkout.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_in_the_documented_order() {
        let mut step = Step::VerifyUser;
        let mut order = vec![step];
        while step != Step::Done {
            step = step.next();
            order.push(step);
        }
        assert_eq!(&order[..7], &Step::ALL);
        for step in Step::ALL {
            assert_eq!(Step::parse(step.as_str()), Some(step));
        }
    }

    #[test]
    fn a_card_is_kept_as_its_brand_and_last_four_digits_and_still_matches_a_retry() {
        for (number, kept) in [
            ("4242 4242 4242 4242", "visa ending 4242"),
            ("5555555555554444", "mastercard ending 4444"),
            ("3782 822463 10005", "amex ending 0005"),
            ("6011111111111117", "discover ending 1117"),
            ("9999 9999 9999 9995", "card ending 9995"),
        ] {
            assert_eq!(reduced_card_number(number), kept);
        }
        let request = |payment: Payment| CheckoutRequest {
            address: Address {
                name: "Ada".to_owned(),
                line1: "1 Rue".to_owned(),
                line2: None,
                postal_code: "75001".to_owned(),
                city_id: "fr-paris".to_owned(),
                phone: None,
            },
            payment,
            expected_total_cents: None,
        };
        let sent = request(Payment::Card {
            card_number: "4242 4242 4242 4242".to_owned(),
        });
        let kept = sent.without_card_number();
        assert_eq!(
            kept.payment,
            Payment::Card {
                card_number: "visa ending 4242".to_owned()
            }
        );
        assert!(kept.is_retried_by(&sent), "a retry of the same checkout");
        assert!(sent.is_retried_by(&sent));
        assert!(!kept.is_retried_by(&request(Payment::Wallet)));
        assert!(!kept.is_retried_by(&request(Payment::Card {
            card_number: "4000 0000 0000 0002".to_owned()
        })));
        assert_eq!(
            request(Payment::Wallet).without_card_number(),
            request(Payment::Wallet)
        );
        assert_eq!(
            kept.without_card_number(),
            kept,
            "reducing twice changes nothing"
        );
    }

    #[test]
    fn a_request_names_its_bad_field() {
        let request = CheckoutRequest {
            address: Address {
                name: "Ada".to_owned(),
                line1: String::new(),
                line2: None,
                postal_code: "1000".to_owned(),
                city_id: "fr-paris".to_owned(),
                phone: None,
            },
            payment: Payment::Wallet,
            expected_total_cents: None,
        };
        assert_eq!(
            request.validate().unwrap_err().field(),
            Some("address.line1")
        );
    }
}
