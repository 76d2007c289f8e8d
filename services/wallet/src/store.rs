//! The seam between the wallet and where it keeps its money: one trait, with
//! a PostgreSQL implementation (server backend) and a SQLite one (embedded).
//!
//! Both keep the same tables and guarantee the same things, in SQL rather
//! than in the handlers:
//!
//! - a balance never goes below zero: debits are conditional `UPDATE`s, and
//!   `CHECK (balance_cents >= 0)` holds even if one slipped;
//! - a charge's refunds never exceed it: a conditional `UPDATE` again, and
//!   `CHECK (refunded_cents <= amount_cents)`;
//! - every change of a balance appends one entry to the ledger, in the same
//!   transaction, and the ledger refuses updates and deletes;
//! - an operation takes its idempotency key first, in the same transaction
//!   that moves the money, and keeps its answer there: a concurrent request
//!   with the same key waits for it (PostgreSQL: on the key's unique index;
//!   SQLite: on the write lock) and then gets that answer.
//!
//! The statements both backends run are here, so the rules are written once.

pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use axum::http::StatusCode;
use uuid::Uuid;

use crate::{
    domain::{Charge, LedgerTotals, NewCharge, NewRefund, NewTopUp, Wallet},
    idempotency::{Answer, Claim, Decision, Idempotent},
};

/// Errors of the stores are database errors; the API maps them to 503/500.
pub type StoreResult<T> = Result<T, sqlx::Error>;

/// A value read back from a column whose CHECK constraint holds it to what
/// `parse` reads; anything else is a decoding error.
pub(crate) fn stored<T>(parse: fn(&str) -> Option<T>, text: &str) -> StoreResult<T> {
    parse(text)
        .ok_or_else(|| sqlx::Error::Decode(format!("unexpected stored value {text:?}").into()))
}

#[async_trait]
pub trait WalletStore: Send + Sync {
    /// Creates the schema and runs migrations.
    async fn prepare(&self) -> StoreResult<()>;

    /// The user's balance and latest transactions; the account is opened,
    /// empty, on first use.
    async fn wallet(&self, user_id: Uuid) -> StoreResult<Wallet>;

    /// The answer kept under the claim's key, if there is one.
    async fn recorded(&self, claim: &Claim) -> StoreResult<Option<Idempotent>>;

    /// Keeps `refusal` as the answer to the claim; nothing else is written.
    async fn refuse(&self, claim: &Claim, refusal: Decision) -> StoreResult<Idempotent>;

    /// Credits a top-up the card paid for, unless the balance would exceed
    /// its limit.
    async fn top_up(&self, claim: &Claim, top_up: &NewTopUp) -> StoreResult<Idempotent>;

    /// Records a charge: a wallet charge debits the wallet if it holds
    /// enough; a card charge (already approved) is recorded.
    async fn charge(&self, claim: &Claim, charge: &NewCharge) -> StoreResult<Idempotent>;

    /// Refunds part of a charge, crediting the wallet for wallet charges;
    /// `None` when there is no such charge.
    async fn refund(&self, claim: &Claim, refund: &NewRefund) -> StoreResult<Option<Idempotent>>;

    async fn charge_by_id(&self, id: Uuid) -> StoreResult<Option<Charge>>;

    /// Totals over every account, in one snapshot.
    async fn ledger(&self) -> StoreResult<LedgerTotals>;
}

/// Takes a key; affects no row when the key is taken (on PostgreSQL, after
/// waiting for the transaction that holds it to finish).
const CLAIM_KEY: &str =
    "INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, created_at)
     VALUES ($1, $2, $3, $4) ON CONFLICT (scope, idempotency_key) DO NOTHING";

const KEPT_ANSWER: &str = "SELECT fingerprint, status, body FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2";

/// Keeps the answer of a key taken in the same transaction.
const RECORD_ANSWER: &str =
    "UPDATE idempotency_keys SET status = $3, body = $4 WHERE scope = $1 AND idempotency_key = $2";

const OPEN_ACCOUNT: &str = "INSERT INTO accounts (user_id, balance_cents, created_at, updated_at)
     VALUES ($1, 0, $2, $2) ON CONFLICT (user_id) DO NOTHING";

/// The balance and the latest transactions, in one statement so they agree.
const WALLET: &str = "SELECT a.balance_cents, l.id, l.kind, l.amount_cents,
         l.balance_after_cents, l.reference, l.created_at
     FROM accounts a
     LEFT JOIN (SELECT * FROM ledger WHERE user_id = $1 ORDER BY seq DESC LIMIT $2) l ON true
     WHERE a.user_id = $1
     ORDER BY l.seq DESC";

/// Credits a top-up unless the balance would exceed `$4`; returns the
/// balance after it.
const CREDIT_TOP_UP: &str =
    "UPDATE accounts SET balance_cents = balance_cents + $2, updated_at = $3
     WHERE user_id = $1 AND balance_cents + $2 <= $4
     RETURNING balance_cents";

/// Debits a wallet if it holds enough; returns the balance after it.
const DEBIT: &str = "UPDATE accounts SET balance_cents = balance_cents - $2, updated_at = $3
     WHERE user_id = $1 AND balance_cents >= $2
     RETURNING balance_cents";

/// Credits a refund, whatever the balance; returns the balance after it.
const CREDIT_REFUND: &str =
    "UPDATE accounts SET balance_cents = balance_cents + $2, updated_at = $3
     WHERE user_id = $1
     RETURNING balance_cents";

const APPEND_ENTRY: &str = "INSERT INTO ledger
         (id, user_id, kind, amount_cents, balance_after_cents, reference, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

const INSERT_CHARGE: &str = "INSERT INTO charges
         (id, user_id, method, card_last4, amount_cents, refunded_cents, reference, created_at)
     VALUES ($1, $2, $3, $4, $5, 0, $6, $7)";

const CHARGE_BY_ID: &str = "SELECT id, user_id, method, card_last4, amount_cents, refunded_cents,
         reference, created_at
     FROM charges WHERE id = $1";

/// Adds a refund to its charge if the charge has that much left; returns
/// the charge after it.
const REFUND_CHARGE: &str = "UPDATE charges SET refunded_cents = refunded_cents + $2
     WHERE id = $1 AND refunded_cents + $2 <= amount_cents
     RETURNING id, user_id, method, card_last4, amount_cents, refunded_cents, reference, created_at";

const INSERT_REFUND: &str =
    "INSERT INTO refunds (id, charge_id, amount_cents, created_at) VALUES ($1, $2, $3, $4)";

/// Every total in one statement, so they come from one snapshot.
const LEDGER_TOTALS: &str = "SELECT
     (SELECT CAST(COALESCE(sum(balance_cents), 0) AS BIGINT) FROM accounts) AS balances_cents,
     (SELECT CAST(COALESCE(sum(CASE WHEN kind = 'top_up' THEN amount_cents ELSE 0 END), 0) AS BIGINT)
         FROM ledger) AS top_ups_cents,
     (SELECT CAST(COALESCE(sum(CASE WHEN kind = 'charge' THEN amount_cents ELSE 0 END), 0) AS BIGINT)
         FROM ledger) AS charged_cents,
     (SELECT CAST(COALESCE(sum(CASE WHEN kind = 'refund' THEN amount_cents ELSE 0 END), 0) AS BIGINT)
         FROM ledger) AS refunded_cents,
     (SELECT CAST(COALESCE(sum(amount_cents), 0) AS BIGINT) FROM charges WHERE method = 'card')
         AS card_charged_cents,
     (SELECT CAST(COALESCE(sum(refunded_cents), 0) AS BIGINT) FROM charges WHERE method = 'card')
         AS card_refunded_cents,
     (SELECT count(*) FROM accounts) AS accounts,
     (SELECT count(*) FROM ledger) AS entries,
     (SELECT count(*) FROM accounts a WHERE a.balance_cents <> COALESCE(
         (SELECT sum(CASE WHEN l.kind = 'charge' THEN -l.amount_cents ELSE l.amount_cents END)
          FROM ledger l WHERE l.user_id = a.user_id), 0)) AS unbalanced_accounts";

/// What a key already holds: the first answer if the request is the same,
/// else a refusal of the reused key.
fn kept_answer(
    claim: &Claim,
    fingerprint: &str,
    status: Option<i32>,
    body: Option<String>,
) -> StoreResult<Idempotent> {
    if fingerprint != claim.fingerprint {
        return Ok(Idempotent::KeyReused);
    }
    let status = status
        .and_then(|status| u16::try_from(status).ok())
        .and_then(|status| StatusCode::from_u16(status).ok());
    match (status, body) {
        (Some(status), Some(body)) => Ok(Idempotent::Replayed(Answer { status, body })),
        _ => Err(sqlx::Error::Decode(
            format!("idempotency key {} holds no answer", claim.key).into(),
        )),
    }
}
