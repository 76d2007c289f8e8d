//! The wallet service's API, in one place: the requests it takes and the
//! answers it gives (the wallet's OpenAPI document is generated from these
//! types), and [`WalletClient`], through which other services call it. A
//! field renamed here changes the document and fails to compile in every
//! caller, instead of failing at run time.
//!
//! Amounts are whole cents in `i64`.

use axum::http::Method;
use eshop_platform::{
    client::{CallError, ServiceClient},
    idempotency::KEY_HEADER,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Wallet's endpoints, called through the platform's client (timeouts,
/// retries of idempotent calls, a circuit breaker, the internal credential).
#[derive(Debug, Clone)]
pub struct WalletClient {
    client: ServiceClient,
}

impl WalletClient {
    pub fn new(client: ServiceClient) -> Self {
        Self { client }
    }

    /// The client underneath, for probes.
    pub fn service(&self) -> &ServiceClient {
        &self.client
    }

    /// `GET /v1/wallet`: the balance and latest transactions of the user
    /// whose token this is.
    pub async fn wallet(&self, token: &str) -> Result<Wallet, CallError> {
        self.client.get("/v1/wallet").for_user(token).send().await
    }

    /// `POST /v1/wallet/top-ups`: pays into the user's wallet by card; a
    /// repeat under the same `idempotency_key` is not a second payment.
    pub async fn top_up(
        &self,
        token: &str,
        idempotency_key: &str,
        top_up: &TopUpInput,
    ) -> Result<TopUpReceipt, CallError> {
        self.client
            .request(Method::POST, "/v1/wallet/top-ups")
            .for_user(token)
            .header(KEY_HEADER, idempotency_key)
            .json(top_up)
            .send()
            .await
    }

    /// `POST /internal/charges`: charges a wallet or a card, once per key.
    pub async fn charge(&self, charge: &ChargeInput) -> Result<Charge, CallError> {
        self.client
            .request(Method::POST, "/internal/charges")
            .json(charge)
            .send()
            .await
    }

    /// `POST /internal/refunds`: refunds (part of) a charge, once per key.
    pub async fn refund(&self, refund: &RefundInput) -> Result<Refund, CallError> {
        self.client
            .request(Method::POST, "/internal/refunds")
            .json(refund)
            .send()
            .await
    }
}

/// A top-up: how much, and the card that pays.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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

    /// The method `as_str` names.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Wallet, Self::Card]
            .into_iter()
            .find(|method| method.as_str() == text)
    }
}

/// How a charge is to be paid: `{"method": "wallet"}` or
/// `{"method": "card", "card_number": "4242 4242 4242 4242"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    pub method: PaymentMethod,
    /// Required for `card`, refused for `wallet`.
    #[schema(example = "4242 4242 4242 4242")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_number: Option<String>,
}

/// The body of `POST /internal/charges`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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

/// The body of `POST /internal/refunds`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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

/// What moved money in or out of a wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

    /// The kind `as_str` names.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::TopUp, Self::Charge, Self::Refund]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// One entry of a wallet's ledger.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Wallet {
    pub balance_cents: i64,
    /// The latest 20 transactions, newest first.
    pub transactions: Vec<WalletTransaction>,
}

/// The answer to a top-up.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TopUpReceipt {
    pub transaction: WalletTransaction,
    /// The balance after the top-up.
    pub balance_cents: i64,
}

/// Where a charge stands. Only successful charges are recorded: a refused
/// one is an error answer, kept under its idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    Succeeded,
}

/// A charge, with how much of it was refunded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
