//! Checkouts on SQLite (the embedded backend), in `payments.sqlite3`.

use std::{path::Path, time::Duration};

use async_trait::async_trait;
use sqlx::{Row, SqlitePool, sqlite::SqliteRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{CheckoutStore, StoreResult, Summary, age_seconds};
use crate::domain::{Checkout, Status, Step};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

const COLUMNS: &str = "id, user_id, idempotency_key, request, status, step, progress, failure, created_at, updated_at";

#[derive(Debug, Clone)]
pub struct SqliteCheckouts {
    pool: SqlitePool,
}

impl SqliteCheckouts {
    /// The checkouts in `<data_dir>/payments.sqlite3`.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        Ok(Self {
            pool: eshop_platform::stores::sqlite_pool(data_dir, "payments")?,
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn json<T: serde::de::DeserializeOwned>(row: &SqliteRow, column: &str) -> StoreResult<T> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|error| sqlx::Error::Decode(Box::new(error)))
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("checkout state serializes")
}

fn checkout(row: &SqliteRow) -> StoreResult<Checkout> {
    let step: String = row.try_get("step")?;
    let failure: Option<String> = row.try_get("failure")?;
    Ok(Checkout {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        idempotency_key: row.try_get("idempotency_key")?,
        request: json(row, "request")?,
        status: Status::parse(row.try_get("status")?),
        step: Step::parse(&step).unwrap_or(Step::Done),
        progress: json(row, "progress")?,
        failure: failure
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|error| sqlx::Error::Decode(Box::new(error)))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

#[async_trait]
impl CheckoutStore for SqliteCheckouts {
    async fn prepare(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn create(&self, new: &Checkout) -> StoreResult<(Checkout, bool)> {
        let inserted = sqlx::query(
            "INSERT INTO checkouts (id, user_id, idempotency_key, request, status, step, progress, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
             ON CONFLICT (user_id, idempotency_key) DO NOTHING",
        )
        .bind(new.id)
        .bind(new.user_id)
        .bind(&new.idempotency_key)
        .bind(to_json(&new.request))
        .bind(new.status.as_str())
        .bind(new.step.as_str())
        .bind(to_json(&new.progress))
        .bind(new.created_at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM checkouts WHERE user_id = $1 AND idempotency_key = $2"
        )))
        .bind(new.user_id)
        .bind(&new.idempotency_key)
        .fetch_one(&self.pool)
        .await?;
        Ok((checkout(&row)?, inserted == 1))
    }

    async fn find_by_key(&self, user: Uuid, key: &str) -> StoreResult<Option<Checkout>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM checkouts WHERE user_id = $1 AND idempotency_key = $2"
        )))
        .bind(user)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(checkout)
        .transpose()
    }

    async fn get(&self, id: Uuid) -> StoreResult<Option<Checkout>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM checkouts WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(checkout)
        .transpose()
    }

    async fn claim(&self, id: Uuid, owner: &str, lease: Duration) -> StoreResult<bool> {
        let now = OffsetDateTime::now_utc();
        let claimed = sqlx::query(
            "UPDATE checkouts SET lease_owner = $2, lease_until = $3
             WHERE id = $1 AND status IN ('running', 'compensating')
               AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < $4)",
        )
        .bind(id)
        .bind(owner)
        .bind(now + lease)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(claimed == 1)
    }

    async fn save(&self, checkout: &Checkout, owner: &str, lease: Duration) -> StoreResult<bool> {
        let now = OffsetDateTime::now_utc();
        let finished = checkout.status.is_final();
        let saved = sqlx::query(
            "UPDATE checkouts SET status = $3, step = $4, progress = $5, failure = $6,
                 last_error = NULL, updated_at = $7, lease_owner = $8, lease_until = $9,
                 request = $10
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(checkout.id)
        .bind(owner)
        .bind(checkout.status.as_str())
        .bind(checkout.step.as_str())
        .bind(to_json(&checkout.progress))
        .bind(checkout.failure.as_ref().map(to_json))
        .bind(now)
        .bind((!finished).then_some(owner))
        .bind((!finished).then_some(now + lease))
        .bind(to_json(&checkout.request))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(saved == 1)
    }

    async fn pause(&self, id: Uuid, owner: &str, error: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE checkouts SET last_error = $3, lease_owner = NULL, lease_until = NULL, updated_at = $4
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .bind(error)
        .bind(OffsetDateTime::now_utc())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn recoverable(&self, limit: i64) -> StoreResult<Vec<Uuid>> {
        sqlx::query_scalar(
            "SELECT id FROM checkouts
             WHERE status IN ('running', 'compensating') AND (lease_until IS NULL OR lease_until < $2)
             ORDER BY created_at LIMIT $1",
        )
        .bind(limit)
        .bind(OffsetDateTime::now_utc())
        .fetch_all(&self.pool)
        .await
    }

    async fn summary(&self) -> StoreResult<Summary> {
        let row = sqlx::query(
            "SELECT count(*) FILTER (WHERE status = 'running') AS running,
                    count(*) FILTER (WHERE status = 'compensating') AS compensating,
                    count(*) FILTER (WHERE status = 'completed') AS completed,
                    count(*) FILTER (WHERE status = 'failed') AS failed,
                    min(created_at) FILTER (WHERE status IN ('running', 'compensating')) AS oldest
             FROM checkouts",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Summary {
            running: row.try_get("running")?,
            compensating: row.try_get("compensating")?,
            completed: row.try_get("completed")?,
            failed: row.try_get("failed")?,
            oldest_unfinished_seconds: age_seconds(row.try_get("oldest")?),
        })
    }

    async fn prune_finished(&self, finished_before: OffsetDateTime) -> StoreResult<u64> {
        let deleted = sqlx::query(
            "DELETE FROM checkouts WHERE status IN ('completed', 'failed') AND updated_at < $1",
        )
        .bind(finished_before)
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected())
    }
}
