//! The transactional outbox: how a service publishes events without ever
//! losing one or publishing one for a change that did not happen.
//!
//! A producing service creates an `outbox` table in its own migrations:
//!
//! ```sql
//! -- PostgreSQL
//! CREATE TABLE outbox (
//!     id uuid PRIMARY KEY, stream text NOT NULL, event jsonb NOT NULL,
//!     created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz
//! );
//! CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
//! -- SQLite
//! CREATE TABLE outbox (
//!     id BLOB PRIMARY KEY, stream TEXT NOT NULL, event TEXT NOT NULL,
//!     created_at TEXT NOT NULL, published_at TEXT
//! );
//! CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
//! ```
//!
//! and calls [`enqueue_postgres`] or [`enqueue_sqlite`] inside the
//! transaction that changes its state. [`Outbox::relay`] publishes what is
//! enqueued, oldest first, and marks it published. A crash between the two
//! publishes the event again later: consumers are idempotent by event id.
//! Published rows are kept for the retention the relay is given, for
//! inspection, then deleted.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sqlx::{PgConnection, PgPool, Row, SqliteConnection, SqlitePool};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    events::{Event, EventBus},
    housekeeping,
};

/// Rows published per pass.
const BATCH: i64 = 100;
/// How often the relay looks when nobody woke it.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// Adds `event` for `stream` to the outbox, in the caller's transaction.
pub async fn enqueue_postgres(
    tx: &mut PgConnection,
    stream: &str,
    event: &Event,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO outbox (id, stream, event, created_at) VALUES ($1, $2, $3, $4)")
        .bind(event.id)
        .bind(stream)
        .bind(serde_json::to_value(event).expect("events serialize"))
        .bind(event.occurred_at)
        .execute(tx)
        .await?;
    Ok(())
}

/// Adds `event` for `stream` to the outbox, in the caller's transaction.
pub async fn enqueue_sqlite(
    tx: &mut SqliteConnection,
    stream: &str,
    event: &Event,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO outbox (id, stream, event, created_at) VALUES ($1, $2, $3, $4)")
        .bind(event.id)
        .bind(stream)
        .bind(serde_json::to_string(event).expect("events serialize"))
        .bind(event.occurred_at)
        .execute(tx)
        .await?;
    Ok(())
}

/// Where a service's outbox table lives.
#[derive(Debug, Clone)]
pub enum OutboxTable {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// A service's outbox and the relay that empties it.
#[derive(Debug, Clone)]
pub struct Outbox {
    table: OutboxTable,
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn new(table: OutboxTable) -> Self {
        Self {
            table,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Tells the relay that something was enqueued, so it publishes now
    /// rather than at its next look.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Publishes enqueued events to `bus` until `stopping` is cancelled,
    /// and deletes rows published longer than `retention` ago. Several
    /// replicas may relay at once: on PostgreSQL each takes rows the others
    /// have not locked.
    pub async fn relay(
        self,
        bus: Arc<dyn EventBus>,
        retention: Duration,
        stopping: CancellationToken,
    ) {
        let mut pruned_at = Instant::now();
        loop {
            if pruned_at.elapsed() >= housekeeping::PRUNE_EVERY {
                pruned_at = Instant::now();
                if let Err(error) = self.prune(OffsetDateTime::now_utc() - retention).await {
                    tracing::warn!(%error, "cannot prune the outbox; will retry");
                }
            }
            let published = match &self.table {
                OutboxTable::Postgres(pool) => relay_postgres(pool, bus.as_ref()).await,
                OutboxTable::Sqlite(pool) => relay_sqlite(pool, bus.as_ref()).await,
            };
            match published {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "outbox relay failed; will retry"),
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
                () = stopping.cancelled() => return,
            }
        }
    }

    /// Deletes the rows published before `published_before`.
    async fn prune(&self, published_before: OffsetDateTime) -> Result<u64, sqlx::Error> {
        let query = "DELETE FROM outbox WHERE published_at < $1";
        let deleted = match &self.table {
            OutboxTable::Postgres(pool) => sqlx::query(query)
                .bind(published_before)
                .execute(pool)
                .await?
                .rows_affected(),
            // RFC 3339 text sorts as time does to within a second: close
            // enough for a retention.
            OutboxTable::Sqlite(pool) => sqlx::query(query)
                .bind(published_before)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        Ok(deleted)
    }
}

/// Why a relay pass stopped.
#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("reading the outbox: {0}")]
    Store(#[from] sqlx::Error),
    #[error("publishing: {0}")]
    Bus(#[from] crate::events::BusError),
    #[error("an outbox row is not an event: {0}")]
    Malformed(#[from] serde_json::Error),
}

async fn relay_postgres(pool: &PgPool, bus: &dyn EventBus) -> Result<usize, RelayError> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(
        "SELECT id, stream, event FROM outbox WHERE published_at IS NULL
         ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let mut published = Vec::with_capacity(rows.len());
    for row in &rows {
        let stream: String = row.try_get("stream")?;
        let event: Event = serde_json::from_value(row.try_get("event")?)?;
        bus.publish(&stream, &event).await?;
        published.push(row.try_get::<Uuid, _>("id")?);
    }
    sqlx::query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
        .bind(&published)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(published.len())
}

async fn relay_sqlite(pool: &SqlitePool, bus: &dyn EventBus) -> Result<usize, RelayError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    // In the order they were enqueued: SQLite has one writer at a time, so
    // that is the order of the changes. (`created_at` is RFC 3339 text with
    // trailing zeros trimmed, which does not sort as time does.)
    let rows = sqlx::query(
        "SELECT id, stream, event FROM outbox WHERE published_at IS NULL
         ORDER BY rowid LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    for row in &rows {
        let stream: String = row.try_get("stream")?;
        let event: Event = serde_json::from_str(row.try_get("event")?)?;
        bus.publish(&stream, &event).await?;
        sqlx::query("UPDATE outbox SET published_at = $2 WHERE id = $1")
            .bind(row.try_get::<Uuid, _>("id")?)
            .bind(OffsetDateTime::now_utc())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::events::sqlite::SqliteBus;

    #[tokio::test]
    async fn the_sqlite_relay_publishes_in_the_order_events_were_enqueued() {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::stores::sqlite_pool(dir.path(), "service").unwrap();
        sqlx::raw_sql(
            "CREATE TABLE outbox (
                 id BLOB PRIMARY KEY, stream TEXT NOT NULL, event TEXT NOT NULL,
                 created_at TEXT NOT NULL, published_at TEXT
             )",
        )
        .execute(&pool)
        .await
        .unwrap();
        // 10:00:05.1234 is stored as `...05.1234Z`, which sorts after
        // `...05.123401Z` as text, though it is earlier.
        let first_at =
            OffsetDateTime::from_unix_timestamp_nanos(1_763_719_205_123_400_000).unwrap();
        let events: Vec<Event> = (0..3_u32)
            .map(|n| Event {
                occurred_at: first_at + Duration::from_micros(n.into()),
                ..Event::new("Numbered", &n)
            })
            .collect();
        let mut tx = pool.begin().await.unwrap();
        for event in &events {
            enqueue_sqlite(&mut tx, "numbers", event).await.unwrap();
        }
        tx.commit().await.unwrap();

        let bus = SqliteBus::open(dir.path()).await.unwrap();
        assert_eq!(relay_sqlite(&pool, &bus).await.unwrap(), 3);
        assert_eq!(bus.read_all("numbers").await.unwrap(), events);
        assert_eq!(
            relay_sqlite(&pool, &bus).await.unwrap(),
            0,
            "published once"
        );
    }
}
