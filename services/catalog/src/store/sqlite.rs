//! The catalog on SQLite (the embedded backend): full-text search with FTS5,
//! and reservations in `BEGIN IMMEDIATE` transactions. SQLite lets one
//! writer in at a time, so concurrent checkouts queue for the write lock and
//! each sees the stock the previous one left.

use std::path::Path;

use async_trait::async_trait;
use sqlx::{Row, Sqlite, SqliteConnection, SqlitePool, Transaction, sqlite::SqliteRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{CatalogStore, StoreResult, image_url};
use crate::domain::{
    Category, Line, NewProduct, Page, Product, ProductQuery, Reservation, ReservationStatus,
    ReserveOutcome, Sku, Slug, Sort, TransitionOutcome,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

const PRODUCT_COLUMNS: &str = "products.sku, products.name, products.description, \
    products.price_cents, products.category, products.stock, products.weight_grams, \
    products.created_at";

#[derive(Debug, Clone)]
pub struct SqliteCatalog {
    pool: SqlitePool,
}

impl SqliteCatalog {
    /// The catalog in `<data_dir>/catalog.sqlite3`.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        Ok(Self {
            pool: eshop_platform::stores::sqlite_pool(data_dir, "catalog")?,
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A write transaction that takes the write lock at once, so it never
    /// fails half-way when another writer got there first.
    async fn write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }
}

fn product(row: &SqliteRow) -> StoreResult<Product> {
    let sku: String = row.try_get("sku")?;
    Ok(Product {
        image_url: image_url(&sku),
        sku: Sku::from_store(sku),
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        price_cents: row.try_get("price_cents")?,
        category: Slug::from_store(row.try_get("category")?),
        stock: row.try_get("stock")?,
        weight_grams: row.try_get("weight_grams")?,
        created_at: row.try_get("created_at")?,
    })
}

/// An FTS5 query that matches every word of `search` as a prefix, with
/// FTS5's own syntax characters taken as plain text.
fn fts_query(search: &str) -> String {
    search
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| format!("\"{word}\"*"))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn load_reservation(
    connection: &mut SqliteConnection,
    id: Uuid,
) -> StoreResult<Option<Reservation>> {
    let Some(row) = sqlx::query("SELECT status, expires_at FROM reservations WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *connection)
        .await?
    else {
        return Ok(None);
    };
    let lines = sqlx::query(
        "SELECT sku, quantity FROM reservation_lines WHERE reservation_id = $1 ORDER BY sku",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await?
    .iter()
    .map(|row| {
        Ok(Line {
            sku: Sku::from_store(row.try_get("sku")?),
            quantity: row.try_get("quantity")?,
        })
    })
    .collect::<StoreResult<_>>()?;
    Ok(Some(Reservation {
        id,
        status: ReservationStatus::parse(row.try_get("status")?),
        expires_at: row.try_get("expires_at")?,
        lines,
    }))
}

async fn set_status(
    tx: &mut Transaction<'_, Sqlite>,
    id: Uuid,
    status: ReservationStatus,
) -> StoreResult<()> {
    sqlx::query("UPDATE reservations SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .bind(OffsetDateTime::now_utc())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Puts a reservation's units back on the shelf and marks it released.
async fn restock(tx: &mut Transaction<'_, Sqlite>, id: Uuid) -> StoreResult<()> {
    sqlx::query(
        "UPDATE products SET stock = stock + l.quantity
         FROM reservation_lines AS l
         WHERE l.reservation_id = $1 AND products.sku = l.sku",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    set_status(tx, id, ReservationStatus::Released).await
}

async fn status_of(
    tx: &mut Transaction<'_, Sqlite>,
    id: Uuid,
) -> StoreResult<Option<ReservationStatus>> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM reservations WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(status.as_deref().map(ReservationStatus::parse))
}

#[async_trait]
impl CatalogStore for SqliteCatalog {
    async fn prepare(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn categories(&self) -> StoreResult<Vec<Category>> {
        let rows = sqlx::query(
            "SELECT c.slug, c.name, c.description, count(p.sku) AS product_count
             FROM categories c LEFT JOIN products p ON p.category = c.slug
             GROUP BY c.slug ORDER BY c.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Category {
                    slug: Slug::from_store(row.try_get("slug")?),
                    name: row.try_get("name")?,
                    description: row.try_get("description")?,
                    product_count: row.try_get("product_count")?,
                })
            })
            .collect()
    }

    async fn upsert_category(&self, slug: &Slug, name: &str, description: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO categories (slug, name, description) VALUES ($1, $2, $3)
             ON CONFLICT (slug) DO UPDATE SET name = excluded.name, description = excluded.description",
        )
        .bind(slug.as_str())
        .bind(name)
        .bind(description)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn products(&self, query: &ProductQuery) -> StoreResult<Page<Product>> {
        let order = match query.sort {
            Sort::Name => "products.name, products.sku",
            Sort::Price => "products.price_cents, products.sku",
            Sort::PriceDesc => "products.price_cents DESC, products.sku",
            Sort::Newest => "products.created_at DESC, products.sku",
            Sort::Relevance => "bm25(products_fts, 10.0, 1.0), products.sku",
        };
        let search = query.search.as_deref().map(fts_query);
        // A search of only punctuation matches nothing rather than everything.
        if search.as_deref() == Some("") {
            return Ok(Page {
                items: Vec::new(),
                page: query.page,
                per_page: query.per_page,
                total: 0,
            });
        }
        let (from, filter) = match search {
            Some(_) => (
                "products JOIN products_fts ON products_fts.rowid = products.rowid",
                "($1 IS NULL OR products.category = $1) AND products_fts MATCH $2",
            ),
            None => (
                "products",
                "($1 IS NULL OR products.category = $1) AND $2 IS NULL",
            ),
        };
        let category = query.category.as_ref().map(Slug::as_str);
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {from} WHERE {filter}"
        )))
        .bind(category)
        .bind(search.as_deref())
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PRODUCT_COLUMNS} FROM {from} WHERE {filter}
             ORDER BY {order} LIMIT $3 OFFSET $4"
        )))
        .bind(category)
        .bind(search.as_deref())
        .bind(i64::from(query.per_page))
        .bind(query.offset())
        .fetch_all(&self.pool)
        .await?;
        Ok(Page {
            items: rows.iter().map(product).collect::<StoreResult<_>>()?,
            page: query.page,
            per_page: query.per_page,
            total,
        })
    }

    async fn product(&self, sku: &Sku) -> StoreResult<Option<Product>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE sku = $1"
        )))
        .bind(sku.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(product)
        .transpose()
    }

    async fn upsert_product(&self, new: &NewProduct) -> StoreResult<Option<Product>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO products (sku, name, description, price_cents, category, stock, weight_grams, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM categories WHERE slug = $5)
             ON CONFLICT (sku) DO UPDATE SET name = excluded.name, description = excluded.description,
                 price_cents = excluded.price_cents, category = excluded.category, stock = excluded.stock,
                 weight_grams = excluded.weight_grams
             RETURNING {PRODUCT_COLUMNS}"
        )))
        .bind(new.sku.as_str())
        .bind(&new.name)
        .bind(&new.description)
        .bind(new.price_cents)
        .bind(new.category.as_str())
        .bind(new.stock)
        .bind(new.weight_grams)
        .bind(OffsetDateTime::now_utc())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(product).transpose()
    }

    async fn reserve(
        &self,
        id: Uuid,
        lines: &[Line],
        expires_at: OffsetDateTime,
    ) -> StoreResult<ReserveOutcome> {
        let mut tx = self.write().await?;
        if let Some(existing) = load_reservation(&mut tx, id).await? {
            tx.rollback().await?;
            return Ok(if existing.lines == lines {
                ReserveOutcome::Existing(existing)
            } else {
                ReserveOutcome::IdTaken
            });
        }
        sqlx::query(
            "INSERT INTO reservations (id, status, expires_at, updated_at) VALUES ($1, 'held', $2, $3)",
        )
        .bind(id)
        .bind(expires_at)
        .bind(OffsetDateTime::now_utc())
        .execute(&mut *tx)
        .await?;
        for (index, line) in lines.iter().enumerate() {
            let taken = sqlx::query(
                "UPDATE products SET stock = stock - $2 WHERE sku = $1 AND stock >= $2",
            )
            .bind(line.sku.as_str())
            .bind(line.quantity)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken == 0 {
                let available: Option<i64> =
                    sqlx::query_scalar("SELECT stock FROM products WHERE sku = $1")
                        .bind(line.sku.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                tx.rollback().await?;
                let sku = line.sku.clone();
                return Ok(match available {
                    None => ReserveOutcome::UnknownSku { index, sku },
                    Some(available) => ReserveOutcome::Insufficient {
                        index,
                        sku,
                        available,
                    },
                });
            }
            sqlx::query(
                "INSERT INTO reservation_lines (reservation_id, sku, quantity) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(line.sku.as_str())
            .bind(line.quantity)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ReserveOutcome::Created(Reservation {
            id,
            status: ReservationStatus::Held,
            lines: lines.to_vec(),
            expires_at,
        }))
    }

    async fn reservation(&self, id: Uuid) -> StoreResult<Option<Reservation>> {
        let mut connection = self.pool.acquire().await?;
        load_reservation(&mut connection, id).await
    }

    async fn commit(&self, id: Uuid) -> StoreResult<TransitionOutcome> {
        let mut tx = self.write().await?;
        let outcome: fn(Reservation) -> TransitionOutcome = match status_of(&mut tx, id).await? {
            None => return Ok(TransitionOutcome::NotFound),
            Some(ReservationStatus::Released) => TransitionOutcome::Refused,
            Some(ReservationStatus::Held) => {
                set_status(&mut tx, id, ReservationStatus::Committed).await?;
                TransitionOutcome::Done
            }
            Some(ReservationStatus::Committed) => TransitionOutcome::Done,
        };
        let reservation = load_reservation(&mut tx, id).await?;
        tx.commit().await?;
        Ok(reservation.map_or(TransitionOutcome::NotFound, outcome))
    }

    async fn release(&self, id: Uuid) -> StoreResult<TransitionOutcome> {
        let mut tx = self.write().await?;
        match status_of(&mut tx, id).await? {
            None => return Ok(TransitionOutcome::NotFound),
            Some(ReservationStatus::Released) => {}
            Some(ReservationStatus::Held | ReservationStatus::Committed) => {
                restock(&mut tx, id).await?;
            }
        }
        let reservation = load_reservation(&mut tx, id).await?;
        tx.commit().await?;
        Ok(reservation.map_or(TransitionOutcome::NotFound, TransitionOutcome::Done))
    }

    async fn release_expired(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let mut tx = self.write().await?;
        let expired: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM reservations WHERE status = 'held' AND expires_at < $1",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for id in &expired {
            restock(&mut tx, *id).await?;
        }
        tx.commit().await?;
        Ok(expired.len() as u64)
    }
}
