//! Where checkouts and their saga state are kept: one trait, a PostgreSQL
//! implementation (server backend) and a SQLite one (embedded).
//!
//! Every write of a running saga is conditional on holding the checkout's
//! lease, so two drivers (a request handler and the recovery worker, or two
//! replicas) never both move one checkout forward.

pub mod postgres;
pub mod sqlite;

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::Checkout;

pub type StoreResult<T> = Result<T, sqlx::Error>;

/// Counts for the invariant checker.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Summary {
    pub running: i64,
    pub compensating: i64,
    pub completed: i64,
    pub failed: i64,
    /// Age of the oldest unfinished checkout, in seconds (0 when none).
    pub oldest_unfinished_seconds: i64,
}

#[async_trait]
pub trait CheckoutStore: Send + Sync {
    async fn prepare(&self) -> StoreResult<()>;

    /// Stores `checkout` unless the user already has one with its
    /// idempotency key; returns the stored one and whether it is new.
    async fn create(&self, checkout: &Checkout) -> StoreResult<(Checkout, bool)>;

    async fn get(&self, id: Uuid) -> StoreResult<Option<Checkout>>;

    /// The user's checkout made under `key`, if any.
    async fn find_by_key(&self, user: Uuid, key: &str) -> StoreResult<Option<Checkout>>;

    /// Takes the lease of an unfinished checkout for `owner`, unless another
    /// owner holds an unexpired one.
    async fn claim(&self, id: Uuid, owner: &str, lease: Duration) -> StoreResult<bool>;

    /// Saves the request (which loses its card number once charged),
    /// status, step, progress and failure, and renews the lease; `false`
    /// when `owner` lost the lease (nothing is written).
    async fn save(&self, checkout: &Checkout, owner: &str, lease: Duration) -> StoreResult<bool>;

    /// Records why the saga could not move, and gives up the lease.
    async fn pause(&self, id: Uuid, owner: &str, error: &str) -> StoreResult<()>;

    /// Unfinished checkouts whose lease is free, oldest first.
    async fn recoverable(&self, limit: i64) -> StoreResult<Vec<Uuid>>;

    async fn summary(&self) -> StoreResult<Summary>;

    /// Deletes the checkouts completed or failed before `finished_before`
    /// and answers how many. Nothing needs them after that: a cancelled or
    /// returned order's event names the charge to refund, and a client
    /// repeating an Idempotency-Key that old starts a new checkout.
    async fn prune_finished(&self, finished_before: OffsetDateTime) -> StoreResult<u64>;
}

/// Seconds between `earlier` and now.
pub(crate) fn age_seconds(earlier: Option<OffsetDateTime>) -> i64 {
    earlier.map_or(0, |at| {
        (OffsetDateTime::now_utc() - at).whole_seconds().max(0)
    })
}
