//! The seam between the ratings service and where it keeps its data: one
//! trait, with a Redis implementation (server backend) and a SQLite one
//! (embedded).
//!
//! Both keep, per product, a running sum of stars and a count of ratings
//! beside the ratings themselves, and change them together with the rating
//! in one atomic step (a Lua script on Redis, a `BEGIN IMMEDIATE`
//! transaction on SQLite). So a summary is read in O(1), and a rating that
//! is replaced or deleted, however many requests race, is counted exactly
//! once. Latest reviews are ordered by a per-product revision that every
//! write takes, so "newest first" is exact even within one millisecond.

pub mod redis;
pub mod sqlite;

use async_trait::async_trait;
use uuid::Uuid;

use crate::domain::{PutOutcome, Rating, Review, Sku, Tally};

/// Why a store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Sqlite(#[from] sqlx::Error),
    #[error(transparent)]
    Redis(#[from] ::redis::RedisError),
    /// Data the store holds does not decode; it was not written by us.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Unreachable stores are 503; anything else an opaque 500.
impl From<StoreError> for eshop_platform::error::ApiError {
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
pub trait RatingsStore: Send + Sync {
    /// Makes the store ready: migrations on SQLite, scripts on Redis.
    async fn prepare(&self) -> StoreResult<()>;

    /// Stores `user`'s rating of `rating.sku`, replacing theirs if they had
    /// one, and adjusts the product's totals accordingly.
    async fn put(&self, user: Uuid, rating: &Rating) -> StoreResult<PutOutcome>;

    /// `user`'s rating of `sku`, if they rated it.
    async fn rating(&self, sku: &Sku, user: Uuid) -> StoreResult<Option<Rating>>;

    /// Removes `user`'s rating of `sku` from it and from its totals; `false`
    /// when there was none.
    async fn delete(&self, sku: &Sku, user: Uuid) -> StoreResult<bool>;

    /// The totals of each of `skus`, in the same order; zero for products
    /// nobody rated.
    async fn tallies(&self, skus: &[Sku]) -> StoreResult<Vec<Tally>>;

    /// Up to `limit` ratings of `sku` that have a review text, newest first.
    async fn reviews(&self, sku: &Sku, limit: u32) -> StoreResult<Vec<Review>>;
}
