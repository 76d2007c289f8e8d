//! Ratings on SQLite (the embedded backend), in `<data_dir>/ratings.sqlite3`:
//! a `ratings` table and a `rating_summaries` table of running totals per
//! product. Writes are `BEGIN IMMEDIATE` transactions, which take the write
//! lock at once: concurrent writers queue, and each reads the previous stars
//! the one before it left.

use std::{collections::HashMap, path::Path};

use async_trait::async_trait;
use sqlx::{Row, Sqlite, SqlitePool, Transaction, sqlite::SqliteRow};
use uuid::Uuid;

use super::{RatingsStore, StoreError, StoreResult};
use crate::domain::{self, PutOutcome, Rating, Review, Sku, Stars, Tally};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteRatings {
    pool: SqlitePool,
}

impl SqliteRatings {
    /// Ratings in `<data_dir>/ratings.sqlite3`.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        Ok(Self {
            pool: eshop_platform::stores::sqlite_pool(data_dir, "ratings")?,
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A write transaction that holds the write lock from its first statement.
    async fn write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

fn stars(row: &SqliteRow) -> StoreResult<Stars> {
    let stars: i64 = row.try_get("stars")?;
    Stars::new(stars).ok_or_else(|| StoreError::Corrupt(format!("{stars} stars")))
}

fn rated_at(row: &SqliteRow) -> StoreResult<time::OffsetDateTime> {
    let millis: i64 = row.try_get("rated_at")?;
    domain::from_millis(millis).ok_or_else(|| StoreError::Corrupt(format!("rated at {millis}")))
}

#[async_trait]
impl RatingsStore for SqliteRatings {
    async fn prepare(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await.map_err(sqlx::Error::from)?;
        Ok(())
    }

    async fn put(&self, user: Uuid, rating: &Rating) -> StoreResult<PutOutcome> {
        let sku = rating.sku.as_str();
        let user = user.to_string();
        let stars = i64::from(rating.stars.get());
        let mut tx = self.write().await?;
        let previous: Option<i64> =
            sqlx::query_scalar("SELECT stars FROM ratings WHERE sku = $1 AND user_id = $2")
                .bind(sku)
                .bind(&user)
                .fetch_optional(&mut *tx)
                .await?;
        // SQLite checks the totals' CHECK on the row an upsert proposes before
        // it turns into an update, so a replacement, whose change to the sum
        // may be negative, is a plain UPDATE of the existing totals.
        let revision: i64 = match previous {
            Some(previous) => sqlx::query_scalar(
                "UPDATE rating_summaries
                 SET star_sum = star_sum + $2, revision = revision + 1
                 WHERE sku = $1
                 RETURNING revision",
            )
            .bind(sku)
            .bind(stars - previous),
            None => sqlx::query_scalar(
                "INSERT INTO rating_summaries (sku, star_sum, rating_count, revision)
                 VALUES ($1, $2, 1, 1)
                 ON CONFLICT (sku) DO UPDATE SET
                     star_sum = star_sum + excluded.star_sum,
                     rating_count = rating_count + 1,
                     revision = revision + 1
                 RETURNING revision",
            )
            .bind(sku)
            .bind(stars),
        }
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO ratings (sku, user_id, stars, review, author, rated_at, revision)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (sku, user_id) DO UPDATE SET
                 stars = excluded.stars, review = excluded.review, author = excluded.author,
                 rated_at = excluded.rated_at, revision = excluded.revision",
        )
        .bind(sku)
        .bind(&user)
        .bind(stars)
        .bind(rating.review.as_deref())
        .bind(&rating.author)
        .bind(domain::to_millis(rating.rated_at))
        .bind(revision)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(match previous {
            Some(_) => PutOutcome::Replaced,
            None => PutOutcome::Created,
        })
    }

    async fn rating(&self, sku: &Sku, user: Uuid) -> StoreResult<Option<Rating>> {
        let row = sqlx::query(
            "SELECT stars, review, author, rated_at FROM ratings WHERE sku = $1 AND user_id = $2",
        )
        .bind(sku.as_str())
        .bind(user.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Rating {
                sku: sku.clone(),
                stars: stars(&row)?,
                review: row.try_get("review")?,
                author: row.try_get("author")?,
                rated_at: rated_at(&row)?,
            })
        })
        .transpose()
    }

    async fn delete(&self, sku: &Sku, user: Uuid) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let removed: Option<i64> = sqlx::query_scalar(
            "DELETE FROM ratings WHERE sku = $1 AND user_id = $2 RETURNING stars",
        )
        .bind(sku.as_str())
        .bind(user.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(removed) = removed else {
            tx.rollback().await?;
            return Ok(false);
        };
        sqlx::query(
            "UPDATE rating_summaries
             SET star_sum = star_sum - $2, rating_count = rating_count - 1
             WHERE sku = $1",
        )
        .bind(sku.as_str())
        .bind(removed)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn tallies(&self, skus: &[Sku]) -> StoreResult<Vec<Tally>> {
        let wanted = serde_json::Value::from(skus.iter().map(Sku::as_str).collect::<Vec<_>>());
        let rows = sqlx::query(
            "SELECT sku, star_sum, rating_count FROM rating_summaries
             WHERE sku IN (SELECT value FROM json_each($1))",
        )
        .bind(wanted.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut found = HashMap::with_capacity(rows.len());
        for row in &rows {
            let sku: String = row.try_get("sku")?;
            let tally = Tally {
                sum: row.try_get("star_sum")?,
                count: row.try_get("rating_count")?,
            };
            found.insert(sku, tally);
        }
        Ok(skus
            .iter()
            .map(|sku| found.get(sku.as_str()).copied().unwrap_or_default())
            .collect())
    }

    async fn reviews(&self, sku: &Sku, limit: u32) -> StoreResult<Vec<Review>> {
        let rows = sqlx::query(
            "SELECT stars, review, author, rated_at FROM ratings
             WHERE sku = $1 AND review IS NOT NULL
             ORDER BY revision DESC LIMIT $2",
        )
        .bind(sku.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Review {
                    author: row.try_get("author")?,
                    stars: stars(row)?,
                    review: row.try_get("review")?,
                    rated_at: rated_at(row)?,
                })
            })
            .collect()
    }
}
