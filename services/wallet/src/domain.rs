//! The wallet's values, validated once at the edge: requests as clients send
//! them, the validated operations the stores carry out, and what the API
//! answers. Amounts are whole cents in `i64`, always positive in requests.

use axum::http::StatusCode;
use eshop_platform::{error::ApiError, idempotency::IdempotencyKey};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    bank::CardNumber,
    idempotency::{Claim, Scope},
};

/// Largest top-up, in cents.
pub const MAX_TOP_UP_CENTS: i64 = 1_000_000;
/// Largest charge and largest refund, in cents.
pub const MAX_CHARGE_CENTS: i64 = 10_000_000;
/// Most a wallet may hold after a top-up, in cents. Refunds are never
/// refused for it: money that goes back to a wallet always arrives.
pub const MAX_BALANCE_CENTS: i64 = 10_000_000;
/// Longest charge reference, in characters.
pub const MAX_REFERENCE_LENGTH: usize = 100;
/// How many of the latest transactions a wallet shows.
pub const RECENT_TRANSACTIONS: i64 = 20;

/// Now, to the microsecond: the precision both stores keep, so an answer
/// and a later read of the same record agree.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.microsecond() * 1_000)
        .unwrap_or(now)
}

fn amount(field: &str, cents: i64, max: i64) -> Result<i64, ApiError> {
    if (1..=max).contains(&cents) {
        Ok(cents)
    } else {
        Err(ApiError::invalid(
            field,
            format!("must be between 1 and {max} cents"),
        ))
    }
}

/// A charge's reference: 1 to 100 characters after trimming, no control
/// characters.
fn reference(field: &str, text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    let length = text.chars().count();
    if length == 0 || length > MAX_REFERENCE_LENGTH || text.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            format!(
                "must be 1 to {MAX_REFERENCE_LENGTH} characters, none of them control characters"
            ),
        ));
    }
    Ok(text.to_owned())
}

/// The body of `POST /v1/wallet/top-ups`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUpInput {
    /// 1 to 1,000,000 cents.
    #[schema(minimum = 1, maximum = 1_000_000, example = 5000)]
    pub amount_cents: i64,
    /// The card that pays: 16 digits, spaces ignored. See the test cards in
    /// the API description.
    #[schema(example = "4242 4242 4242 4242")]
    pub card_number: String,
}

/// A validated top-up.
#[derive(Debug)]
pub struct TopUpRequest {
    pub user_id: Uuid,
    pub amount_cents: i64,
    pub card: CardNumber,
}

impl TopUpInput {
    pub fn validate(self, user_id: Uuid) -> Result<TopUpRequest, ApiError> {
        Ok(TopUpRequest {
            user_id,
            amount_cents: amount("amount_cents", self.amount_cents, MAX_TOP_UP_CENTS)?,
            card: CardNumber::parse("card_number", &self.card_number)?,
        })
    }
}

impl TopUpRequest {
    /// The claim of `key` in the user's own key space.
    pub fn claim(&self, key: &IdempotencyKey) -> Claim {
        Claim::new(
            Scope::TopUp(self.user_id),
            key,
            eshop_platform::idempotency::KEY_HEADER,
            &(self.amount_cents, self.card.digits()),
        )
    }

    /// The top-up to record once the card is approved.
    pub fn approved(&self) -> NewTopUp {
        NewTopUp {
            id: Uuid::new_v4(),
            user_id: self.user_id,
            amount_cents: self.amount_cents,
            reference: format!("card ending {}", self.card.last4()),
            at: now(),
        }
    }
}

/// A top-up whose card was approved, ready to credit.
#[derive(Debug, Clone)]
pub struct NewTopUp {
    pub id: Uuid,
    pub user_id: Uuid,
    pub amount_cents: i64,
    pub reference: String,
    pub at: OffsetDateTime,
}

/// How a charge is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// From the user's wallet balance.
    Wallet,
    /// By card, through the simulated card network.
    Card,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wallet => "wallet",
            Self::Card => "card",
        }
    }

    /// A method read back from a store, which only holds valid ones.
    pub(crate) fn from_store(text: &str) -> Self {
        if text == "card" {
            Self::Card
        } else {
            Self::Wallet
        }
    }
}

/// How a charge is to be paid: `{"method": "wallet"}` or
/// `{"method": "card", "card_number": "4242 4242 4242 4242"}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    pub method: PaymentMethod,
    /// Required for `card`, refused for `wallet`.
    #[schema(example = "4242 4242 4242 4242")]
    pub card_number: Option<String>,
}

/// The body of `POST /internal/charges`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargeInput {
    /// Chosen by the caller: a retry with the same key and body gets the
    /// first answer. 1 to 100 printable ASCII characters.
    #[schema(example = "checkout-7f3a/charge")]
    pub idempotency_key: String,
    /// Whose wallet (or on whose behalf a card) is charged.
    pub user_id: Uuid,
    /// 1 to 10,000,000 cents.
    #[schema(minimum = 1, maximum = 10_000_000, example = 2599)]
    pub amount_cents: i64,
    /// What the charge is for, e.g. a checkout id; up to 100 characters.
    #[schema(example = "checkout-7f3a")]
    pub reference: String,
    pub payment: PaymentInput,
}

/// How a validated charge is paid.
#[derive(Debug)]
pub enum Payment {
    Wallet,
    Card(CardNumber),
}

/// A validated charge.
#[derive(Debug)]
pub struct ChargeRequest {
    pub key: IdempotencyKey,
    pub user_id: Uuid,
    pub amount_cents: i64,
    pub reference: String,
    pub payment: Payment,
}

impl ChargeInput {
    pub fn validate(self) -> Result<ChargeRequest, ApiError> {
        let key = IdempotencyKey::parse("idempotency_key", &self.idempotency_key)?;
        let amount_cents = amount("amount_cents", self.amount_cents, MAX_CHARGE_CENTS)?;
        let reference = reference("reference", &self.reference)?;
        let payment = match (self.payment.method, self.payment.card_number) {
            (PaymentMethod::Wallet, None) => Payment::Wallet,
            (PaymentMethod::Wallet, Some(_)) => {
                return Err(ApiError::invalid(
                    "payment.card_number",
                    "a wallet payment takes no card number",
                ));
            }
            (PaymentMethod::Card, Some(number)) => {
                Payment::Card(CardNumber::parse("payment.card_number", &number)?)
            }
            (PaymentMethod::Card, None) => {
                return Err(ApiError::invalid(
                    "payment.card_number",
                    "a card payment needs the card number",
                ));
            }
        };
        Ok(ChargeRequest {
            key,
            user_id: self.user_id,
            amount_cents,
            reference,
            payment,
        })
    }
}

impl ChargeRequest {
    pub fn claim(&self) -> Claim {
        let card = match &self.payment {
            Payment::Wallet => None,
            Payment::Card(card) => Some(card.digits()),
        };
        Claim::new(
            Scope::Charge,
            &self.key,
            "idempotency_key",
            &(self.user_id, self.amount_cents, &self.reference, card),
        )
    }

    /// The charge to record once it may go ahead.
    pub fn approved(&self) -> NewCharge {
        let (method, card_last4) = match &self.payment {
            Payment::Wallet => (PaymentMethod::Wallet, None),
            Payment::Card(card) => (PaymentMethod::Card, Some(card.last4().to_owned())),
        };
        NewCharge {
            id: Uuid::new_v4(),
            user_id: self.user_id,
            amount_cents: self.amount_cents,
            reference: self.reference.clone(),
            method,
            card_last4,
            at: now(),
        }
    }
}

/// A charge ready to record: a wallet debit, or a card payment the bank
/// approved.
#[derive(Debug, Clone)]
pub struct NewCharge {
    pub id: Uuid,
    pub user_id: Uuid,
    pub amount_cents: i64,
    pub reference: String,
    pub method: PaymentMethod,
    pub card_last4: Option<String>,
    pub at: OffsetDateTime,
}

impl NewCharge {
    /// The charge as the API shows it, before any refund.
    pub fn charge(&self) -> Charge {
        Charge {
            charge_id: self.id,
            status: ChargeStatus::Succeeded,
            user_id: self.user_id,
            method: self.method,
            card_last4: self.card_last4.clone(),
            amount_cents: self.amount_cents,
            refunded_cents: 0,
            reference: self.reference.clone(),
            created_at: self.at,
        }
    }
}

/// The body of `POST /internal/refunds`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundInput {
    /// Chosen by the caller, as for charges.
    #[schema(example = "checkout-7f3a/refund")]
    pub idempotency_key: String,
    /// The charge to refund (part of).
    pub charge_id: Uuid,
    /// 1 to 10,000,000 cents, and at most what is left of the charge.
    #[schema(minimum = 1, maximum = 10_000_000, example = 2599)]
    pub amount_cents: i64,
}

/// A validated refund.
#[derive(Debug)]
pub struct RefundRequest {
    pub key: IdempotencyKey,
    pub charge_id: Uuid,
    pub amount_cents: i64,
}

impl RefundInput {
    pub fn validate(self) -> Result<RefundRequest, ApiError> {
        Ok(RefundRequest {
            key: IdempotencyKey::parse("idempotency_key", &self.idempotency_key)?,
            charge_id: self.charge_id,
            amount_cents: amount("amount_cents", self.amount_cents, MAX_CHARGE_CENTS)?,
        })
    }
}

impl RefundRequest {
    pub fn claim(&self) -> Claim {
        Claim::new(
            Scope::Refund,
            &self.key,
            "idempotency_key",
            &(self.charge_id, self.amount_cents),
        )
    }

    pub fn approved(&self) -> NewRefund {
        NewRefund {
            id: Uuid::new_v4(),
            charge_id: self.charge_id,
            amount_cents: self.amount_cents,
            at: now(),
        }
    }
}

/// A refund ready to record, if the charge has that much left.
#[derive(Debug, Clone)]
pub struct NewRefund {
    pub id: Uuid,
    pub charge_id: Uuid,
    pub amount_cents: i64,
    pub at: OffsetDateTime,
}

/// What moved money in or out of a wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransactionKind {
    /// Money paid in by card.
    TopUp,
    /// A payment from the wallet.
    Charge,
    /// A payment given back.
    Refund,
}

impl TransactionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TopUp => "top_up",
            Self::Charge => "charge",
            Self::Refund => "refund",
        }
    }

    /// A kind read back from a store, which only holds valid ones.
    pub(crate) fn from_store(text: &str) -> Self {
        match text {
            "top_up" => Self::TopUp,
            "charge" => Self::Charge,
            _ => Self::Refund,
        }
    }
}

/// One entry of a wallet's ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WalletTransaction {
    /// The id of the top-up, charge or refund.
    pub id: Uuid,
    pub kind: TransactionKind,
    /// Always positive; `kind` says which way the money went.
    pub amount_cents: i64,
    /// The wallet's balance right after this transaction.
    pub balance_after_cents: i64,
    /// The card that paid a top-up (`card ending 4242`), or the reference
    /// of the charge a charge or refund is about.
    pub reference: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// A user's wallet.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Wallet {
    pub balance_cents: i64,
    /// The latest 20 transactions, newest first.
    pub transactions: Vec<WalletTransaction>,
}

/// The answer to a top-up.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopUpReceipt {
    pub transaction: WalletTransaction,
    /// The balance after the top-up.
    pub balance_cents: i64,
}

/// Where a charge stands. Only successful charges are recorded: a refused
/// one is an error answer, kept under its idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    Succeeded,
}

/// A charge, with how much of it was refunded.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Charge {
    pub charge_id: Uuid,
    pub status: ChargeStatus,
    pub user_id: Uuid,
    pub method: PaymentMethod,
    /// The last four digits of the card, for card charges.
    pub card_last4: Option<String>,
    pub amount_cents: i64,
    /// Refunded so far; never more than `amount_cents`.
    pub refunded_cents: i64,
    pub reference: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// A refund of (part of) a charge.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Refund {
    pub refund_id: Uuid,
    pub charge_id: Uuid,
    /// Wallet refunds are credited to the wallet; card refunds are recorded.
    pub method: PaymentMethod,
    pub amount_cents: i64,
    /// Refunded of the charge so far, this refund included.
    pub charge_refunded_cents: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// Totals over every account, read in one snapshot, for checking that no
/// money is lost or invented. Always:
///
/// - `balances_cents = top_ups_cents − charged_cents + refunded_cents`;
/// - `0 ≤ refunded_cents ≤ charged_cents` and
///   `0 ≤ card_refunded_cents ≤ card_charged_cents`;
/// - `unbalanced_accounts = 0`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LedgerTotals {
    /// Sum of all wallet balances.
    pub balances_cents: i64,
    /// Paid into wallets by card.
    pub top_ups_cents: i64,
    /// Charged to wallets.
    pub charged_cents: i64,
    /// Refunded to wallets.
    pub refunded_cents: i64,
    /// Charged to cards; these never touch a wallet.
    pub card_charged_cents: i64,
    /// Refunded to cards.
    pub card_refunded_cents: i64,
    /// Wallets.
    pub accounts: i64,
    /// Ledger entries (top-ups, wallet charges and wallet refunds).
    pub entries: i64,
    /// Wallets whose balance differs from the sum of their ledger entries.
    pub unbalanced_accounts: i64,
}

/// 402: the wallet holds less than the charge.
pub fn insufficient_funds() -> ApiError {
    ApiError::new(
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_funds",
        "the wallet's balance is less than the amount charged",
    )
}

/// 422: the top-up would take the balance over the limit.
pub fn balance_limit_exceeded() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "balance_limit_exceeded",
        format!("a wallet holds at most {MAX_BALANCE_CENTS} cents; this top-up would exceed it"),
    )
    .with_field("amount_cents")
}

/// 409: more would be refunded than the charge took.
pub fn refund_exceeds_charge(charge: &Charge) -> ApiError {
    ApiError::conflict(
        "refund_exceeds_charge",
        format!(
            "charge {} took {} cents of which {} are refunded; at most {} more can be",
            charge.charge_id,
            charge.amount_cents,
            charge.refunded_cents,
            charge.amount_cents - charge.refunded_cents
        ),
    )
    .with_field("amount_cents")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge_input(method: PaymentMethod, card_number: Option<&str>) -> ChargeInput {
        ChargeInput {
            idempotency_key: "k-1".to_owned(),
            user_id: Uuid::nil(),
            amount_cents: 100,
            reference: " checkout-1 ".to_owned(),
            payment: PaymentInput {
                method,
                card_number: card_number.map(ToOwned::to_owned),
            },
        }
    }

    #[test]
    fn charges_are_checked_and_name_the_field_at_fault() {
        let charge = charge_input(PaymentMethod::Wallet, None)
            .validate()
            .unwrap();
        assert_eq!(charge.reference, "checkout-1");
        let field = |input: ChargeInput| input.validate().unwrap_err().field().map(str::to_owned);
        assert_eq!(
            field(charge_input(PaymentMethod::Card, None)).as_deref(),
            Some("payment.card_number")
        );
        assert_eq!(
            field(charge_input(
                PaymentMethod::Wallet,
                Some("4242424242424242")
            ))
            .as_deref(),
            Some("payment.card_number")
        );
        assert_eq!(
            field(charge_input(PaymentMethod::Card, Some("1234"))).as_deref(),
            Some("payment.card_number")
        );
        let mut too_much = charge_input(PaymentMethod::Wallet, None);
        too_much.amount_cents = MAX_CHARGE_CENTS + 1;
        assert_eq!(field(too_much).as_deref(), Some("amount_cents"));
        let mut no_reference = charge_input(PaymentMethod::Wallet, None);
        no_reference.reference = "  ".to_owned();
        assert_eq!(field(no_reference).as_deref(), Some("reference"));
    }

    #[test]
    fn the_same_charge_written_differently_has_the_same_fingerprint() {
        let spaced = charge_input(PaymentMethod::Card, Some("4242 4242 4242 4242"));
        let plain = charge_input(PaymentMethod::Card, Some("4242424242424242"));
        let other = charge_input(PaymentMethod::Card, Some("5555555555554444"));
        let fingerprint = |input: ChargeInput| input.validate().unwrap().claim().fingerprint;
        assert_eq!(fingerprint(spaced), fingerprint(plain));
        assert_ne!(
            fingerprint(charge_input(PaymentMethod::Card, Some("4242424242424242"))),
            fingerprint(other)
        );
    }

    #[test]
    fn now_keeps_whole_microseconds() {
        assert_eq!(now().nanosecond() % 1_000, 0);
    }
}
