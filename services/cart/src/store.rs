//! The seam between the cart and where it keeps carts: one trait, with a
//! Redis implementation (server backend) and a SQLite one (embedded).
//!
//! Both guarantee the same things: each call is atomic (a Lua script on
//! Redis, a `BEGIN IMMEDIATE` transaction on SQLite), so concurrent writes
//! to one cart neither lose nor double units; a cart never holds more than
//! [`MAX_LINES`](crate::domain::MAX_LINES) lines nor a line more than its
//! limit; every write pushes the cart's expiry to `ttl` from now; and an
//! expired cart reads, and is written to, as an empty one.

pub mod redis;
pub mod sqlite;

use std::time::Duration;

use async_trait::async_trait;
use eshop_platform::error::ApiError;

use crate::domain::{Cart, CartOwner, LineWrite, MergeOutcome, Sku, WriteOutcome};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Sqlite(#[from] sqlx::Error),
    #[error(transparent)]
    Redis(#[from] ::redis::RedisError),
    /// The store holds something the cart did not write.
    #[error("a stored cart cannot be read: {0}")]
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
pub trait CartStore: Send + Sync {
    /// Makes the store ready: runs migrations, or loads scripts.
    async fn prepare(&self) -> StoreResult<()>;

    /// The owner's cart; empty when there is none or it expired.
    async fn cart(&self, owner: CartOwner) -> StoreResult<Cart>;

    /// Adds or changes one line, within its limit and the cart's line limit.
    async fn write_line(
        &self,
        owner: CartOwner,
        line: &LineWrite,
        ttl: Duration,
    ) -> StoreResult<WriteOutcome>;

    /// Removes a line; `false` when the cart does not hold it.
    async fn remove_line(&self, owner: CartOwner, sku: &Sku, ttl: Duration) -> StoreResult<bool>;

    /// Empties the cart; emptying an empty cart is fine.
    async fn clear(&self, owner: CartOwner) -> StoreResult<()>;

    /// Moves every line of `from` into `into`, oldest first: a line both
    /// hold gets the summed quantity, up to
    /// [`MAX_QUANTITY`](crate::domain::MAX_QUANTITY), and the name
    /// and price `from` has; a new line joins while `into` has room. Then
    /// deletes `from`. An empty `from` changes nothing.
    async fn merge(
        &self,
        from: CartOwner,
        into: CartOwner,
        ttl: Duration,
    ) -> StoreResult<MergeOutcome>;
}

/// A duration in whole milliseconds, as stores keep expiries.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
