//! The seam between dispatch and where it keeps shipments: one trait, with a
//! Redis implementation (server backend) and a SQLite one (embedded).
//!
//! Both give the same guarantees, which are what make the shop's effects
//! happen exactly once on top of an at-least-once bus:
//!
//! - scheduling is idempotent by order id: a payment seen again, under the
//!   same event id or another, schedules nothing new;
//! - a shipment only moves forward, and each move happens together with
//!   the event it emits or not at all: one Lua script that changes the
//!   shipment and appends the event to the dispatch stream (Redis), or one
//!   transaction that changes the shipment and writes the event to the
//!   outbox (SQLite). A crash at any moment neither loses nor repeats an
//!   `OrderDispatched` or `OrderDelivered`, and of several replicas moving
//!   the same shipment exactly one wins. (The SQLite outbox relay, killed
//!   between publishing an event and marking it published, publishes it
//!   again under the same id, which consumers recognise; on Redis the event
//!   is appended by the script that makes the move, so not even that.)

pub mod redis;
pub mod sqlite;

use std::time::Duration;

use async_trait::async_trait;
use eshop_platform::error::ApiError;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{Cancellation, Move, Scheduling, Shipment, ShipmentSummary};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Sqlite(#[from] sqlx::Error),
    #[error(transparent)]
    Redis(#[from] ::redis::RedisError),
    /// The store holds something dispatch did not write.
    #[error("a stored shipment cannot be read: {0}")]
    Corrupt(String),
}

/// Unreachable stores are 503; anything else is an opaque, logged 500.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Sqlite(error) => error.into(),
            StoreError::Redis(error) => error.into(),
            StoreError::Corrupt(_) => Self::internal(&error),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait DispatchStore: Send + Sync {
    /// Makes the store ready: runs migrations, or loads scripts.
    async fn prepare(&self) -> StoreResult<()>;

    /// Schedules the order's shipment to leave at `dispatch_at`, unless the
    /// order already has one.
    async fn schedule(
        &self,
        order_id: Uuid,
        now: OffsetDateTime,
        dispatch_at: OffsetDateTime,
    ) -> StoreResult<Scheduling>;

    /// Cancels the order's shipment if it has not left; records the
    /// cancellation either way.
    async fn cancel(&self, order_id: Uuid, now: OffsetDateTime) -> StoreResult<Cancellation>;

    /// Moves up to `limit` shipments that are due by `now` one step on:
    /// scheduled ones leave (and arrive `delivery_delay` later), dispatched
    /// ones arrive. Each move emits its event atomically with it. Returns
    /// the moves this call made; shipments another replica moved first are
    /// not among them.
    async fn advance_due(
        &self,
        now: OffsetDateTime,
        limit: usize,
        delivery_delay: Duration,
    ) -> StoreResult<Vec<Move>>;

    async fn shipment(&self, order_id: Uuid) -> StoreResult<Option<Shipment>>;

    async fn summary(&self) -> StoreResult<ShipmentSummary>;

    /// Deletes the shipments delivered or cancelled before
    /// `finished_before` (they leave the summary too) and answers how many.
    /// Their events went out when they finished; a payment or cancellation
    /// of such an order handled again after that would find no shipment,
    /// which is why the retention is days and the bus redelivers within
    /// minutes.
    async fn prune_finished(&self, finished_before: OffsetDateTime) -> StoreResult<u64>;
}
