//! The wallet's values, validated once at the edge: the validated
//! operations the stores carry out, made from the requests of the API crate
//! (`eshop-wallet-api`, whose types are re-exported here), and the errors
//! the API answers. Amounts are whole cents in `i64`, always positive in
//! requests.

use axum::http::StatusCode;
use eshop_platform::{error::ApiError, idempotency::IdempotencyKey};
pub use eshop_wallet_api::{
    Charge, ChargeInput, ChargeStatus, LedgerTotals, PaymentInput, PaymentMethod, Refund,
    RefundInput, TopUpInput, TopUpReceipt, TransactionKind, Wallet, WalletTransaction,
};
use time::OffsetDateTime;
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

/// A validated top-up.
#[derive(Debug)]
pub struct TopUpRequest {
    pub user_id: Uuid,
    pub amount_cents: i64,
    pub card: CardNumber,
}

impl TopUpRequest {
    /// The top-up `input` asks for, once it is valid.
    pub fn validate(input: &TopUpInput, user_id: Uuid) -> Result<Self, ApiError> {
        Ok(Self {
            user_id,
            amount_cents: amount("amount_cents", input.amount_cents, MAX_TOP_UP_CENTS)?,
            card: CardNumber::parse("card_number", &input.card_number)?,
        })
    }

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

impl ChargeRequest {
    /// The charge `input` asks for, once it is valid.
    pub fn validate(input: ChargeInput) -> Result<Self, ApiError> {
        let key = IdempotencyKey::parse("idempotency_key", &input.idempotency_key)?;
        let amount_cents = amount("amount_cents", input.amount_cents, MAX_CHARGE_CENTS)?;
        let reference = reference("reference", &input.reference)?;
        let payment = match (input.payment.method, input.payment.card_number) {
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
        Ok(Self {
            key,
            user_id: input.user_id,
            amount_cents,
            reference,
            payment,
        })
    }

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

/// A validated refund.
#[derive(Debug)]
pub struct RefundRequest {
    pub key: IdempotencyKey,
    pub charge_id: Uuid,
    pub amount_cents: i64,
}

impl RefundRequest {
    /// The refund `input` asks for, once it is valid.
    pub fn validate(input: &RefundInput) -> Result<Self, ApiError> {
        Ok(Self {
            key: IdempotencyKey::parse("idempotency_key", &input.idempotency_key)?,
            charge_id: input.charge_id,
            amount_cents: amount("amount_cents", input.amount_cents, MAX_CHARGE_CENTS)?,
        })
    }

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
        let charge = ChargeRequest::validate(charge_input(PaymentMethod::Wallet, None)).unwrap();
        assert_eq!(charge.reference, "checkout-1");
        let field = |input: ChargeInput| {
            ChargeRequest::validate(input)
                .unwrap_err()
                .field()
                .map(str::to_owned)
        };
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
        let fingerprint =
            |input: ChargeInput| ChargeRequest::validate(input).unwrap().claim().fingerprint;
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
