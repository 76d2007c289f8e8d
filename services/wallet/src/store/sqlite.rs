//! The wallet on SQLite (the embedded backend). Every write runs in a
//! `BEGIN IMMEDIATE` transaction, which takes the database's one write lock
//! at once: operations, including requests with the same idempotency key,
//! run one after the other, and each sees what the previous one left.

use std::path::Path;

use async_trait::async_trait;
use sqlx::{Row, Sqlite, SqliteConnection, SqlitePool, Transaction, sqlite::SqliteRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    APPEND_ENTRY, CHARGE_BY_ID, CLAIM_KEY, CREDIT_REFUND, CREDIT_TOP_UP, DEBIT, INSERT_CHARGE,
    INSERT_REFUND, KEPT_ANSWER, LEDGER_TOTALS, OPEN_ACCOUNT, RECORD_ANSWER, REFUND_CHARGE,
    StoreResult, WALLET, WalletStore, kept_answer, stored,
};
use crate::{
    domain::{
        Charge, ChargeStatus, LedgerTotals, MAX_BALANCE_CENTS, NewCharge, NewRefund, NewTopUp,
        PaymentMethod, RECENT_TRANSACTIONS, Refund, TopUpReceipt, TransactionKind, Wallet,
        WalletTransaction, balance_limit_exceeded, insufficient_funds, refund_exceeds_charge,
    },
    idempotency::{Answer, Claim, Decision, Idempotent},
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteWallet {
    pool: SqlitePool,
}

impl SqliteWallet {
    /// The wallet in `<data_dir>/wallet.sqlite3`.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        Ok(Self {
            pool: eshop_platform::stores::sqlite_pool(data_dir, "wallet")?,
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A write transaction that takes the write lock at once, so it never
    /// fails half-way when another writer got there first.
    async fn write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }
}

fn charge(row: &SqliteRow) -> StoreResult<Charge> {
    Ok(Charge {
        charge_id: row.try_get("id")?,
        status: ChargeStatus::Succeeded,
        user_id: row.try_get("user_id")?,
        method: stored(PaymentMethod::parse, row.try_get("method")?)?,
        card_last4: row.try_get("card_last4")?,
        amount_cents: row.try_get("amount_cents")?,
        refunded_cents: row.try_get("refunded_cents")?,
        reference: row.try_get("reference")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The answer kept under the claim's key, if any.
async fn kept(connection: &mut SqliteConnection, claim: &Claim) -> StoreResult<Option<Idempotent>> {
    let Some(row) = sqlx::query(KEPT_ANSWER)
        .bind(&claim.scope)
        .bind(&claim.key)
        .fetch_optional(connection)
        .await?
    else {
        return Ok(None);
    };
    kept_answer(
        claim,
        row.try_get("fingerprint")?,
        row.try_get("status")?,
        row.try_get("body")?,
    )
    .map(Some)
}

/// Takes the claim's key for this transaction; if it was taken before,
/// the answer kept under it.
async fn take_key(
    connection: &mut SqliteConnection,
    claim: &Claim,
) -> StoreResult<Option<Idempotent>> {
    let taken = sqlx::query(CLAIM_KEY)
        .bind(&claim.scope)
        .bind(&claim.key)
        .bind(&claim.fingerprint)
        .bind(OffsetDateTime::now_utc())
        .execute(&mut *connection)
        .await?
        .rows_affected();
    if taken == 1 {
        Ok(None)
    } else {
        kept(connection, claim).await
    }
}

/// Keeps the answer of a key taken in this transaction.
async fn record(
    connection: &mut SqliteConnection,
    claim: &Claim,
    answer: &Answer,
) -> StoreResult<()> {
    sqlx::query(RECORD_ANSWER)
        .bind(&claim.scope)
        .bind(&claim.key)
        .bind(i32::from(answer.status.as_u16()))
        .bind(&answer.body)
        .execute(connection)
        .await?;
    Ok(())
}

async fn append(
    connection: &mut SqliteConnection,
    user_id: Uuid,
    entry: &WalletTransaction,
) -> StoreResult<()> {
    sqlx::query(APPEND_ENTRY)
        .bind(entry.id)
        .bind(user_id)
        .bind(entry.kind.as_str())
        .bind(entry.amount_cents)
        .bind(entry.balance_after_cents)
        .bind(&entry.reference)
        .bind(entry.created_at)
        .execute(connection)
        .await?;
    Ok(())
}

#[async_trait]
impl WalletStore for SqliteWallet {
    async fn prepare(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn wallet(&self, user_id: Uuid) -> StoreResult<Wallet> {
        let read = || {
            sqlx::query(WALLET)
                .bind(user_id)
                .bind(RECENT_TRANSACTIONS)
                .fetch_all(&self.pool)
        };
        let mut rows = read().await?;
        if rows.is_empty() {
            sqlx::query(OPEN_ACCOUNT)
                .bind(user_id)
                .bind(OffsetDateTime::now_utc())
                .execute(&self.pool)
                .await?;
            rows = read().await?;
        }
        let balance_cents = match rows.first() {
            Some(row) => row.try_get("balance_cents")?,
            None => 0,
        };
        let mut transactions = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(id) = row.try_get::<Option<Uuid>, _>("id")? else {
                continue;
            };
            transactions.push(WalletTransaction {
                id,
                kind: stored(TransactionKind::parse, row.try_get("kind")?)?,
                amount_cents: row.try_get("amount_cents")?,
                balance_after_cents: row.try_get("balance_after_cents")?,
                reference: row.try_get("reference")?,
                created_at: row.try_get("created_at")?,
            });
        }
        Ok(Wallet {
            balance_cents,
            transactions,
        })
    }

    async fn recorded(&self, claim: &Claim) -> StoreResult<Option<Idempotent>> {
        let mut connection = self.pool.acquire().await?;
        kept(&mut connection, claim).await
    }

    async fn refuse(&self, claim: &Claim, refusal: Decision) -> StoreResult<Idempotent> {
        let mut tx = self.write().await?;
        if let Some(earlier) = take_key(&mut tx, claim).await? {
            tx.rollback().await?;
            return Ok(earlier);
        }
        record(&mut tx, claim, &refusal.answer).await?;
        tx.commit().await?;
        Ok(Idempotent::Done(refusal))
    }

    async fn top_up(&self, claim: &Claim, top_up: &NewTopUp) -> StoreResult<Idempotent> {
        let mut tx = self.write().await?;
        if let Some(earlier) = take_key(&mut tx, claim).await? {
            tx.rollback().await?;
            return Ok(earlier);
        }
        sqlx::query(OPEN_ACCOUNT)
            .bind(top_up.user_id)
            .bind(top_up.at)
            .execute(&mut *tx)
            .await?;
        let balance: Option<i64> = sqlx::query_scalar(CREDIT_TOP_UP)
            .bind(top_up.user_id)
            .bind(top_up.amount_cents)
            .bind(top_up.at)
            .bind(MAX_BALANCE_CENTS)
            .fetch_optional(&mut *tx)
            .await?;
        let decision = match balance {
            None => Decision::refused(&balance_limit_exceeded()),
            Some(balance_cents) => {
                let transaction = WalletTransaction {
                    id: top_up.id,
                    kind: TransactionKind::TopUp,
                    amount_cents: top_up.amount_cents,
                    balance_after_cents: balance_cents,
                    reference: top_up.reference.clone(),
                    created_at: top_up.at,
                };
                append(&mut tx, top_up.user_id, &transaction).await?;
                Decision::created(&TopUpReceipt {
                    transaction,
                    balance_cents,
                })
            }
        };
        record(&mut tx, claim, &decision.answer).await?;
        tx.commit().await?;
        Ok(Idempotent::Done(decision))
    }

    async fn charge(&self, claim: &Claim, new: &NewCharge) -> StoreResult<Idempotent> {
        let mut tx = self.write().await?;
        if let Some(earlier) = take_key(&mut tx, claim).await? {
            tx.rollback().await?;
            return Ok(earlier);
        }
        if new.method == PaymentMethod::Wallet {
            let balance: Option<i64> = sqlx::query_scalar(DEBIT)
                .bind(new.user_id)
                .bind(new.amount_cents)
                .bind(new.at)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(balance_after_cents) = balance else {
                let refusal = Decision::refused(&insufficient_funds());
                record(&mut tx, claim, &refusal.answer).await?;
                tx.commit().await?;
                return Ok(Idempotent::Done(refusal));
            };
            let entry = WalletTransaction {
                id: new.id,
                kind: TransactionKind::Charge,
                amount_cents: new.amount_cents,
                balance_after_cents,
                reference: new.reference.clone(),
                created_at: new.at,
            };
            append(&mut tx, new.user_id, &entry).await?;
        }
        sqlx::query(INSERT_CHARGE)
            .bind(new.id)
            .bind(new.user_id)
            .bind(new.method.as_str())
            .bind(new.card_last4.as_deref())
            .bind(new.amount_cents)
            .bind(&new.reference)
            .bind(new.at)
            .execute(&mut *tx)
            .await?;
        let decision = Decision::created(&new.charge());
        record(&mut tx, claim, &decision.answer).await?;
        tx.commit().await?;
        Ok(Idempotent::Done(decision))
    }

    async fn refund(&self, claim: &Claim, new: &NewRefund) -> StoreResult<Option<Idempotent>> {
        let mut tx = self.write().await?;
        if let Some(earlier) = take_key(&mut tx, claim).await? {
            tx.rollback().await?;
            return Ok(Some(earlier));
        }
        let refunded = sqlx::query(REFUND_CHARGE)
            .bind(new.charge_id)
            .bind(new.amount_cents)
            .fetch_optional(&mut *tx)
            .await?;
        let decision = match refunded {
            None => {
                let row = sqlx::query(CHARGE_BY_ID)
                    .bind(new.charge_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                Decision::refused(&refund_exceeds_charge(&charge(&row)?))
            }
            Some(row) => {
                let charge = charge(&row)?;
                sqlx::query(INSERT_REFUND)
                    .bind(new.id)
                    .bind(new.charge_id)
                    .bind(new.amount_cents)
                    .bind(new.at)
                    .execute(&mut *tx)
                    .await?;
                if charge.method == PaymentMethod::Wallet {
                    let balance_after_cents: i64 = sqlx::query_scalar(CREDIT_REFUND)
                        .bind(charge.user_id)
                        .bind(new.amount_cents)
                        .bind(new.at)
                        .fetch_one(&mut *tx)
                        .await?;
                    let entry = WalletTransaction {
                        id: new.id,
                        kind: TransactionKind::Refund,
                        amount_cents: new.amount_cents,
                        balance_after_cents,
                        reference: charge.reference.clone(),
                        created_at: new.at,
                    };
                    append(&mut tx, charge.user_id, &entry).await?;
                }
                Decision::created(&Refund {
                    refund_id: new.id,
                    charge_id: new.charge_id,
                    method: charge.method,
                    amount_cents: new.amount_cents,
                    charge_refunded_cents: charge.refunded_cents,
                    created_at: new.at,
                })
            }
        };
        record(&mut tx, claim, &decision.answer).await?;
        tx.commit().await?;
        Ok(Some(Idempotent::Done(decision)))
    }

    async fn charge_by_id(&self, id: Uuid) -> StoreResult<Option<Charge>> {
        sqlx::query(CHARGE_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(charge)
            .transpose()
    }

    async fn ledger(&self) -> StoreResult<LedgerTotals> {
        let row = sqlx::query(LEDGER_TOTALS).fetch_one(&self.pool).await?;
        Ok(LedgerTotals {
            balances_cents: row.try_get("balances_cents")?,
            top_ups_cents: row.try_get("top_ups_cents")?,
            charged_cents: row.try_get("charged_cents")?,
            refunded_cents: row.try_get("refunded_cents")?,
            card_charged_cents: row.try_get("card_charged_cents")?,
            card_refunded_cents: row.try_get("card_refunded_cents")?,
            accounts: row.try_get("accounts")?,
            entries: row.try_get("entries")?,
            unbalanced_accounts: row.try_get("unbalanced_accounts")?,
        })
    }
}
