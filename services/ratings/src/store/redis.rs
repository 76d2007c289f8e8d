//! Ratings on Redis (the server backend, run with AOF in Kubernetes).
//!
//! Per product, under the configured key prefix, three keys share a hash
//! tag (so a script's keys stay on one slot should Redis ever be clustered):
//!
//! - `ratings:{SKU}:summary`: a hash of `sum`, `count` and `revision`;
//! - `ratings:{SKU}:users`: a hash from user id to the rating as JSON;
//! - `ratings:{SKU}:reviews`: a sorted set of the users whose rating has a
//!   review text, scored by the revision of their last write.
//!
//! Writes are Lua scripts (`store/redis/*.lua`), which Redis runs one at a
//! time: the script reads the user's previous stars and updates the summary,
//! the rating and the reviews set together. Reads of one key need no script.

use std::sync::LazyLock;

use ::redis::{Script, aio::ConnectionManager};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{RatingsStore, StoreError, StoreResult};
use crate::domain::{self, PutOutcome, Rating, Review, Sku, Stars, Tally};

static PUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("redis/common.lua"),
        include_str!("redis/put.lua")
    ))
});
static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("redis/common.lua"),
        include_str!("redis/delete.lua")
    ))
});
static REVIEWS: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("redis/reviews.lua")));

#[derive(Clone)]
pub struct RedisRatings {
    connection: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisRatings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRatings")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// A rating as the ratings hash holds it; the product is in the key and the
/// user in the field.
#[derive(Debug, Serialize, Deserialize)]
struct StoredRating {
    stars: i64,
    review: Option<String>,
    author: String,
    /// Milliseconds since the epoch.
    rated_at: i64,
}

impl StoredRating {
    fn of(rating: &Rating) -> Self {
        Self {
            stars: i64::from(rating.stars.get()),
            review: rating.review.clone(),
            author: rating.author.clone(),
            rated_at: domain::to_millis(rating.rated_at),
        }
    }

    fn decode(json: &str) -> StoreResult<Self> {
        serde_json::from_str(json).map_err(|error| StoreError::Corrupt(error.to_string()))
    }

    fn parts(self) -> StoreResult<(Stars, Option<String>, String, time::OffsetDateTime)> {
        let stars = Stars::new(self.stars)
            .ok_or_else(|| StoreError::Corrupt(format!("{} stars", self.stars)))?;
        let rated_at = domain::from_millis(self.rated_at)
            .ok_or_else(|| StoreError::Corrupt(format!("rated at {}", self.rated_at)))?;
        Ok((stars, self.review, self.author, rated_at))
    }
}

impl RedisRatings {
    /// Ratings in Redis, every key starting with `prefix`.
    pub fn new(connection: ConnectionManager, prefix: &str) -> Self {
        Self {
            connection,
            prefix: prefix.to_owned(),
        }
    }

    fn key(&self, sku: &Sku, part: &str) -> String {
        format!("{}ratings:{{{sku}}}:{part}", self.prefix)
    }
}

#[async_trait]
impl RatingsStore for RedisRatings {
    /// Loads the scripts, which also proves Redis answers; a Redis that
    /// restarts and forgets them gets them again on first use.
    async fn prepare(&self) -> StoreResult<()> {
        let mut connection = self.connection.clone();
        for script in [&*PUT, &*DELETE, &*REVIEWS] {
            script.prepare_invoke().load_async(&mut connection).await?;
        }
        Ok(())
    }

    async fn put(&self, user: Uuid, rating: &Rating) -> StoreResult<PutOutcome> {
        let json =
            serde_json::to_string(&StoredRating::of(rating)).expect("a rating always serializes");
        let replaced: i64 = PUT
            .key(self.key(&rating.sku, "summary"))
            .key(self.key(&rating.sku, "users"))
            .key(self.key(&rating.sku, "reviews"))
            .arg(user.to_string())
            .arg(i64::from(rating.stars.get()))
            .arg(json)
            .arg(if rating.review.is_some() { "1" } else { "0" })
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(if replaced == 1 {
            PutOutcome::Replaced
        } else {
            PutOutcome::Created
        })
    }

    async fn rating(&self, sku: &Sku, user: Uuid) -> StoreResult<Option<Rating>> {
        let stored: Option<String> = ::redis::cmd("HGET")
            .arg(self.key(sku, "users"))
            .arg(user.to_string())
            .query_async(&mut self.connection.clone())
            .await?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let (stars, review, author, rated_at) = StoredRating::decode(&stored)?.parts()?;
        Ok(Some(Rating {
            sku: sku.clone(),
            stars,
            review,
            author,
            rated_at,
        }))
    }

    async fn delete(&self, sku: &Sku, user: Uuid) -> StoreResult<bool> {
        let deleted: i64 = DELETE
            .key(self.key(sku, "summary"))
            .key(self.key(sku, "users"))
            .key(self.key(sku, "reviews"))
            .arg(user.to_string())
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(deleted == 1)
    }

    async fn tallies(&self, skus: &[Sku]) -> StoreResult<Vec<Tally>> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipeline = ::redis::pipe();
        for sku in skus {
            pipeline
                .cmd("HMGET")
                .arg(self.key(sku, "summary"))
                .arg("sum")
                .arg("count");
        }
        let answers: Vec<(Option<i64>, Option<i64>)> =
            pipeline.query_async(&mut self.connection.clone()).await?;
        Ok(answers
            .into_iter()
            .map(|(sum, count)| Tally {
                sum: sum.unwrap_or(0),
                count: count.unwrap_or(0),
            })
            .collect())
    }

    async fn reviews(&self, sku: &Sku, limit: u32) -> StoreResult<Vec<Review>> {
        let stored: Vec<Option<String>> = REVIEWS
            .key(self.key(sku, "users"))
            .key(self.key(sku, "reviews"))
            .arg(limit)
            .invoke_async(&mut self.connection.clone())
            .await?;
        stored
            .into_iter()
            .flatten()
            .filter_map(|json| {
                StoredRating::decode(&json)
                    .and_then(StoredRating::parts)
                    .map(|(stars, review, author, rated_at)| {
                        review.map(|review| Review {
                            author,
                            stars,
                            review,
                            rated_at,
                        })
                    })
                    .transpose()
            })
            .collect()
    }
}
