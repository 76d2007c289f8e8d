//! Carts on SQLite (the embedded backend), in `<data_dir>/cart.sqlite3`.
//! Writes run in `BEGIN IMMEDIATE` transactions, so they queue for the
//! write lock and each sees what the previous one left. A cart row carries
//! its expiry; reads skip expired carts, writes start them afresh, and
//! [`SqliteCarts::purge_expired`] deletes them.

use std::{path::Path, time::Duration};

use async_trait::async_trait;
use sqlx::{Row, Sqlite, SqliteConnection, SqlitePool, Transaction};
use time::OffsetDateTime;

use super::{CartStore, StoreResult, millis};
use crate::domain::{
    Cart, CartOwner, Change, Line, LineWrite, MAX_LINES, MAX_QUANTITY, MergeOutcome, Sku,
    WriteOutcome, epoch_ms, from_epoch_ms,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteCarts {
    pool: SqlitePool,
}

impl SqliteCarts {
    /// The carts in `<data_dir>/cart.sqlite3`.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        Ok(Self {
            pool: eshop_platform::stores::sqlite_pool(data_dir, "cart")?,
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A write transaction that takes the write lock at once, so it never
    /// fails half-way when another writer got there first.
    async fn write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Deletes the carts that expired by `now`, with their lines; returns
    /// how many.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let purged = sqlx::query("DELETE FROM carts WHERE expires_at <= $1")
            .bind(epoch_ms(now))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(purged)
    }
}

/// The owner's cart as of `now_ms`: empty if it expired.
async fn load(connection: &mut SqliteConnection, owner: &str, now_ms: i64) -> StoreResult<Cart> {
    let expires_at: Option<i64> =
        sqlx::query_scalar("SELECT expires_at FROM carts WHERE owner = $1 AND expires_at > $2")
            .bind(owner)
            .bind(now_ms)
            .fetch_optional(&mut *connection)
            .await?;
    let Some(expires_at) = expires_at else {
        return Ok(Cart::default());
    };
    let rows = sqlx::query(
        "SELECT sku, name, unit_price_cents, quantity, position FROM cart_lines
         WHERE owner = $1 ORDER BY position",
    )
    .bind(owner)
    .fetch_all(&mut *connection)
    .await?;
    let lines = rows
        .iter()
        .map(|row| {
            let quantity: i64 = row.try_get("quantity")?;
            Ok(Line {
                sku: Sku::from_store(row.try_get("sku")?),
                name: row.try_get("name")?,
                unit_price_cents: row.try_get("unit_price_cents")?,
                // The schema keeps quantities between 1 and 99.
                quantity: u32::try_from(quantity).unwrap_or(MAX_QUANTITY),
                position: row.try_get("position")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Cart {
        expires_at: (!lines.is_empty()).then(|| from_epoch_ms(expires_at)),
        lines,
    })
}

/// Deletes the owner's cart if it expired, so a write starts afresh.
async fn drop_if_expired(
    tx: &mut Transaction<'_, Sqlite>,
    owner: &str,
    now_ms: i64,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM carts WHERE owner = $1 AND expires_at <= $2")
        .bind(owner)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Creates the owner's cart or moves its expiry to `expires_at_ms`.
async fn touch(
    tx: &mut Transaction<'_, Sqlite>,
    owner: &str,
    expires_at_ms: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO carts (owner, expires_at) VALUES ($1, $2)
         ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at",
    )
    .bind(owner)
    .bind(expires_at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// How many lines the owner's cart holds, and the last line's position.
async fn extent(tx: &mut Transaction<'_, Sqlite>, owner: &str) -> StoreResult<(usize, i64)> {
    let (count, last): (i64, i64) = sqlx::query_as(
        "SELECT count(*), coalesce(max(position), 0) FROM cart_lines WHERE owner = $1",
    )
    .bind(owner)
    .fetch_one(&mut **tx)
    .await?;
    Ok((usize::try_from(count).unwrap_or(usize::MAX), last))
}

async fn quantity_of(
    tx: &mut Transaction<'_, Sqlite>,
    owner: &str,
    sku: &str,
) -> StoreResult<Option<u32>> {
    let quantity: Option<i64> =
        sqlx::query_scalar("SELECT quantity FROM cart_lines WHERE owner = $1 AND sku = $2")
            .bind(owner)
            .bind(sku)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(quantity.map(|quantity| u32::try_from(quantity).unwrap_or(MAX_QUANTITY)))
}

/// Writes a line: a new one takes its `position`; an existing one keeps
/// its place and takes the new quantity, name and price.
async fn put_line(tx: &mut Transaction<'_, Sqlite>, owner: &str, line: &Line) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO cart_lines (owner, sku, name, unit_price_cents, quantity, position)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (owner, sku) DO UPDATE SET name = excluded.name,
             unit_price_cents = excluded.unit_price_cents, quantity = excluded.quantity",
    )
    .bind(owner)
    .bind(line.sku.as_str())
    .bind(&line.name)
    .bind(line.unit_price_cents)
    .bind(i64::from(line.quantity))
    .bind(line.position)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl CartStore for SqliteCarts {
    async fn prepare(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await.map_err(sqlx::Error::from)?;
        Ok(())
    }

    async fn cart(&self, owner: CartOwner) -> StoreResult<Cart> {
        let now = epoch_ms(OffsetDateTime::now_utc());
        let mut tx = self.pool.begin().await?;
        let cart = load(&mut tx, &owner.store_key(), now).await?;
        tx.commit().await?;
        Ok(cart)
    }

    async fn write_line(
        &self,
        owner: CartOwner,
        line: &LineWrite,
        ttl: Duration,
    ) -> StoreResult<WriteOutcome> {
        let (owner, now) = (owner.store_key(), epoch_ms(OffsetDateTime::now_utc()));
        let mut tx = self.write().await?;
        drop_if_expired(&mut tx, &owner, now).await?;
        let existing = quantity_of(&mut tx, &owner, line.sku.as_str()).await?;
        let (count, last) = extent(&mut tx, &owner).await?;
        if existing.is_none() && count >= MAX_LINES {
            tx.rollback().await?;
            return Ok(WriteOutcome::TooManyLines);
        }
        let previous = existing.unwrap_or(0);
        let quantity = match line.change {
            Change::Set(quantity) => quantity,
            Change::Add(quantity) => previous + quantity,
        };
        if quantity > line.limit {
            tx.rollback().await?;
            return Ok(WriteOutcome::OverLimit { current: previous });
        }
        touch(&mut tx, &owner, now.saturating_add(millis(ttl))).await?;
        let written = Line {
            sku: line.sku.clone(),
            name: line.name.clone(),
            unit_price_cents: line.unit_price_cents,
            quantity,
            position: last + 1,
        };
        put_line(&mut tx, &owner, &written).await?;
        let cart = load(&mut tx, &owner, now).await?;
        tx.commit().await?;
        Ok(WriteOutcome::Written { cart, previous })
    }

    async fn remove_line(&self, owner: CartOwner, sku: &Sku, ttl: Duration) -> StoreResult<bool> {
        let (owner, now) = (owner.store_key(), epoch_ms(OffsetDateTime::now_utc()));
        let mut tx = self.write().await?;
        drop_if_expired(&mut tx, &owner, now).await?;
        let removed = sqlx::query("DELETE FROM cart_lines WHERE owner = $1 AND sku = $2")
            .bind(&owner)
            .bind(sku.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if removed {
            if extent(&mut tx, &owner).await?.0 == 0 {
                sqlx::query("DELETE FROM carts WHERE owner = $1")
                    .bind(&owner)
                    .execute(&mut *tx)
                    .await?;
            } else {
                touch(&mut tx, &owner, now.saturating_add(millis(ttl))).await?;
            }
        }
        tx.commit().await?;
        Ok(removed)
    }

    async fn clear(&self, owner: CartOwner) -> StoreResult<()> {
        sqlx::query("DELETE FROM carts WHERE owner = $1")
            .bind(owner.store_key())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn merge(
        &self,
        from: CartOwner,
        into: CartOwner,
        ttl: Duration,
    ) -> StoreResult<MergeOutcome> {
        let (from, into) = (from.store_key(), into.store_key());
        let now = epoch_ms(OffsetDateTime::now_utc());
        let mut tx = self.write().await?;
        drop_if_expired(&mut tx, &from, now).await?;
        drop_if_expired(&mut tx, &into, now).await?;
        let moving = load(&mut tx, &from, now).await?;
        let (mut moved, mut dropped) = (0, 0);
        if !moving.lines.is_empty() {
            touch(&mut tx, &into, now.saturating_add(millis(ttl))).await?;
            let (mut count, mut last) = extent(&mut tx, &into).await?;
            for mut line in moving.lines {
                match quantity_of(&mut tx, &into, line.sku.as_str()).await? {
                    Some(held) => line.quantity = (held + line.quantity).min(MAX_QUANTITY),
                    None if count < MAX_LINES => {
                        count += 1;
                        last += 1;
                        line.position = last;
                    }
                    None => {
                        dropped += 1;
                        continue;
                    }
                }
                put_line(&mut tx, &into, &line).await?;
                moved += 1;
            }
            sqlx::query("DELETE FROM carts WHERE owner = $1")
                .bind(&from)
                .execute(&mut *tx)
                .await?;
        }
        let cart = load(&mut tx, &into, now).await?;
        tx.commit().await?;
        Ok(MergeOutcome {
            cart,
            moved,
            dropped,
        })
    }
}
