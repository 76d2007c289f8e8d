//! Checkouts on PostgreSQL (schema `payments`).

use std::time::Duration;

use async_trait::async_trait;
use sqlx::{PgPool, Row, postgres::PgRow, types::Json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{CheckoutStore, StoreResult, Summary, age_seconds};
use crate::domain::{Checkout, CheckoutRequest, Failure, Progress, Status, Step};

const SCHEMA: &str = "payments";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const COLUMNS: &str = "id, user_id, idempotency_key, request, status, step, progress, failure, created_at, updated_at";

#[derive(Debug, Clone)]
pub struct PostgresCheckouts {
    pool: PgPool,
}

impl PostgresCheckouts {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn checkout(row: &PgRow) -> StoreResult<Checkout> {
    let step: String = row.try_get("step")?;
    Ok(Checkout {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        idempotency_key: row.try_get("idempotency_key")?,
        request: row.try_get::<Json<CheckoutRequest>, _>("request")?.0,
        status: Status::parse(row.try_get("status")?),
        step: Step::parse(&step).unwrap_or(Step::Done),
        progress: row.try_get::<Json<Progress>, _>("progress")?.0,
        failure: row
            .try_get::<Option<Json<Failure>>, _>("failure")?
            .map(|failure| failure.0),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn lease_end(lease: Duration) -> OffsetDateTime {
    OffsetDateTime::now_utc() + lease
}

#[async_trait]
impl CheckoutStore for PostgresCheckouts {
    async fn prepare(&self) -> StoreResult<()> {
        eshop_platform::stores::prepare_postgres(&self.pool, SCHEMA, &MIGRATOR).await
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
        .bind(Json(&new.request))
        .bind(new.status.as_str())
        .bind(new.step.as_str())
        .bind(Json(&new.progress))
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
        let claimed = sqlx::query(
            "UPDATE checkouts SET lease_owner = $2, lease_until = $3
             WHERE id = $1 AND status IN ('running', 'compensating')
               AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < now())",
        )
        .bind(id)
        .bind(owner)
        .bind(lease_end(lease))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(claimed == 1)
    }

    async fn save(&self, checkout: &Checkout, owner: &str, lease: Duration) -> StoreResult<bool> {
        let saved = sqlx::query(
            "UPDATE checkouts SET status = $3, step = $4, progress = $5, failure = $6,
                 last_error = NULL, updated_at = now(),
                 lease_owner = CASE WHEN $3 IN ('completed', 'failed') THEN NULL ELSE $2 END,
                 lease_until = CASE WHEN $3 IN ('completed', 'failed') THEN NULL ELSE $7 END,
                 request = $8
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(checkout.id)
        .bind(owner)
        .bind(checkout.status.as_str())
        .bind(checkout.step.as_str())
        .bind(Json(&checkout.progress))
        .bind(checkout.failure.as_ref().map(Json))
        .bind(lease_end(lease))
        .bind(Json(&checkout.request))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(saved == 1)
    }

    async fn pause(&self, id: Uuid, owner: &str, error: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE checkouts SET last_error = $3, lease_owner = NULL, lease_until = NULL, updated_at = now()
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn recoverable(&self, limit: i64) -> StoreResult<Vec<Uuid>> {
        sqlx::query_scalar(
            "SELECT id FROM checkouts
             WHERE status IN ('running', 'compensating') AND (lease_until IS NULL OR lease_until < now())
             ORDER BY created_at LIMIT $1",
        )
        .bind(limit)
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
