//! Shipments on SQLite (the embedded backend), in
//! `<data_dir>/dispatch.sqlite3`: a row per shipment with the time its next
//! move is due, and the outbox. Changes run in `BEGIN IMMEDIATE`
//! transactions, so they queue for the write lock and each sees what the
//! previous one left; a move and its event are written in one of them, and
//! [`Outbox::relay`](eshop_platform::outbox::Outbox::relay) publishes the
//! event afterwards.

use std::{path::Path, time::Duration};

use async_trait::async_trait;
use eshop_contracts::DISPATCH_STREAM;
use eshop_platform::outbox::{self, Outbox, OutboxTable};
use sqlx::{Row, Sqlite, SqlitePool, Transaction, sqlite::SqliteRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{DispatchStore, StoreError, StoreResult};
use crate::domain::{
    Cancellation, Move, Scheduling, Shipment, ShipmentStatus, ShipmentSummary, after,
    delivered_event, dispatched_event, epoch_ms, from_epoch_ms, tracking_number,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteDispatch {
    pool: SqlitePool,
    outbox: Outbox,
}

impl SqliteDispatch {
    /// The shipments in `<data_dir>/dispatch.sqlite3`.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let pool = eshop_platform::stores::sqlite_pool(data_dir, "dispatch")?;
        Ok(Self {
            outbox: Outbox::new(OutboxTable::Sqlite(pool.clone())),
            pool,
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The outbox the moves write their events to; its relay publishes them.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// A write transaction that takes the write lock at once, so it never
    /// fails half-way when another writer got there first.
    async fn write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

fn status_of(order_id: Uuid, status: &str) -> StoreResult<ShipmentStatus> {
    ShipmentStatus::from_store(status)
        .ok_or_else(|| StoreError::Corrupt(format!("shipment {order_id}: status is {status:?}")))
}

fn shipment_from(row: &SqliteRow) -> StoreResult<Shipment> {
    let time = |column: &str| -> StoreResult<Option<OffsetDateTime>> {
        Ok(row.try_get::<Option<i64>, _>(column)?.map(from_epoch_ms))
    };
    let order_id: Uuid = row.try_get("order_id")?;
    Ok(Shipment {
        order_id,
        status: status_of(order_id, row.try_get("status")?)?,
        tracking_number: row.try_get("tracking_number")?,
        scheduled_at: time("scheduled_at")?,
        dispatch_at: time("dispatch_at")?,
        dispatched_at: time("dispatched_at")?,
        deliver_at: time("deliver_at")?,
        delivered_at: time("delivered_at")?,
        cancelled_at: time("cancelled_at")?,
        late_cancellation_at: time("late_cancellation_at")?,
    })
}

#[async_trait]
impl DispatchStore for SqliteDispatch {
    async fn prepare(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await.map_err(sqlx::Error::from)?;
        Ok(())
    }

    async fn schedule(
        &self,
        order_id: Uuid,
        now: OffsetDateTime,
        dispatch_at: OffsetDateTime,
    ) -> StoreResult<Scheduling> {
        let inserted = sqlx::query(
            "INSERT INTO shipments (order_id, status, scheduled_at, dispatch_at, due_at)
             VALUES ($1, 'scheduled', $2, $3, $3) ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(order_id)
        .bind(epoch_ms(now))
        .bind(epoch_ms(dispatch_at))
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Scheduling::Scheduled { dispatch_at });
        }
        let status: String = sqlx::query_scalar("SELECT status FROM shipments WHERE order_id = $1")
            .bind(order_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(Scheduling::Known(status_of(order_id, &status)?))
    }

    async fn cancel(&self, order_id: Uuid, now: OffsetDateTime) -> StoreResult<Cancellation> {
        let mut tx = self.write().await?;
        let row =
            sqlx::query("SELECT status, late_cancellation_at FROM shipments WHERE order_id = $1")
                .bind(order_id)
                .fetch_optional(&mut *tx)
                .await?;
        let known = match &row {
            Some(row) => Some((
                status_of(order_id, row.try_get("status")?)?,
                row.try_get::<Option<i64>, _>("late_cancellation_at")?,
            )),
            None => None,
        };
        let (statement, outcome) = match known {
            None => (
                "INSERT INTO shipments (order_id, status, cancelled_at) VALUES ($1, 'cancelled', $2)",
                Cancellation::BeforePayment,
            ),
            Some((ShipmentStatus::Scheduled, _)) => (
                "UPDATE shipments SET status = 'cancelled', cancelled_at = $2, due_at = NULL
                 WHERE order_id = $1",
                Cancellation::Stopped,
            ),
            Some((ShipmentStatus::Dispatched | ShipmentStatus::Delivered, None)) => (
                "UPDATE shipments SET late_cancellation_at = $2 WHERE order_id = $1",
                Cancellation::Late,
            ),
            Some((ShipmentStatus::Cancelled, _) | (_, Some(_))) => {
                tx.rollback().await?;
                return Ok(Cancellation::Repeated);
            }
        };
        sqlx::query(statement)
            .bind(order_id)
            .bind(epoch_ms(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn advance_due(
        &self,
        now: OffsetDateTime,
        limit: usize,
        delivery_delay: Duration,
    ) -> StoreResult<Vec<Move>> {
        let now_ms = epoch_ms(now);
        let deliver_at_ms = epoch_ms(after(now, delivery_delay));
        let mut tx = self.write().await?;
        let due = sqlx::query(
            "SELECT order_id, status FROM shipments WHERE due_at <= $1 ORDER BY due_at LIMIT $2",
        )
        .bind(now_ms)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
        let mut moves = Vec::with_capacity(due.len());
        for row in &due {
            let order_id: Uuid = row.try_get("order_id")?;
            match status_of(order_id, row.try_get("status")?)? {
                ShipmentStatus::Scheduled => {
                    let tracking_number = tracking_number();
                    sqlx::query(
                        "UPDATE shipments SET status = 'dispatched', tracking_number = $2,
                             dispatched_at = $3, deliver_at = $4, due_at = $4
                         WHERE order_id = $1",
                    )
                    .bind(order_id)
                    .bind(&tracking_number)
                    .bind(now_ms)
                    .bind(deliver_at_ms)
                    .execute(&mut *tx)
                    .await?;
                    let event = dispatched_event(order_id, &tracking_number, now);
                    outbox::enqueue_sqlite(&mut tx, DISPATCH_STREAM, &event).await?;
                    moves.push(Move::Dispatched {
                        order_id,
                        tracking_number,
                    });
                }
                ShipmentStatus::Dispatched => {
                    sqlx::query(
                        "UPDATE shipments SET status = 'delivered', delivered_at = $2, due_at = NULL
                         WHERE order_id = $1",
                    )
                    .bind(order_id)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                    let event = delivered_event(order_id, now);
                    outbox::enqueue_sqlite(&mut tx, DISPATCH_STREAM, &event).await?;
                    moves.push(Move::Delivered { order_id });
                }
                ShipmentStatus::Delivered | ShipmentStatus::Cancelled => {
                    sqlx::query("UPDATE shipments SET due_at = NULL WHERE order_id = $1")
                        .bind(order_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        if !moves.is_empty() {
            self.outbox.notify();
        }
        Ok(moves)
    }

    async fn shipment(&self, order_id: Uuid) -> StoreResult<Option<Shipment>> {
        sqlx::query("SELECT * FROM shipments WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(shipment_from)
            .transpose()
    }

    async fn summary(&self) -> StoreResult<ShipmentSummary> {
        let rows = sqlx::query(
            "SELECT status, count(*) AS shipments, count(late_cancellation_at) AS late
             FROM shipments GROUP BY status",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut summary = ShipmentSummary::default();
        for row in &rows {
            let count = |column: &str| -> StoreResult<u64> {
                Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
            };
            let shipments = count("shipments")?;
            let status: String = row.try_get("status")?;
            match ShipmentStatus::from_store(&status) {
                Some(ShipmentStatus::Scheduled) => summary.scheduled = shipments,
                Some(ShipmentStatus::Dispatched) => summary.dispatched = shipments,
                Some(ShipmentStatus::Delivered) => summary.delivered = shipments,
                Some(ShipmentStatus::Cancelled) => summary.cancelled = shipments,
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "{shipments} shipments have status {status:?}"
                    )));
                }
            }
            summary.late_cancellations += count("late")?;
            summary.total += shipments;
        }
        Ok(summary)
    }

    async fn prune_finished(&self, finished_before: OffsetDateTime) -> StoreResult<u64> {
        let deleted = sqlx::query(
            "DELETE FROM shipments WHERE status IN ('delivered', 'cancelled')
                 AND coalesce(delivered_at, cancelled_at) < $1",
        )
        .bind(epoch_ms(finished_before))
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected())
    }
}
