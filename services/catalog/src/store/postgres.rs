//! The catalog on PostgreSQL: full-text search with `tsvector`, and
//! reservations whose conditional `UPDATE`s lock product rows in SKU order,
//! so concurrent checkouts queue on the rows they share and never oversell.

use async_trait::async_trait;
use sqlx::{PgPool, Postgres, Row, Transaction, postgres::PgRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{CatalogStore, StoreResult, image_url};
use crate::domain::{
    Category, Line, NewProduct, Page, Product, ProductQuery, Reservation, ReservationStatus,
    ReserveOutcome, Sku, Slug, Sort, TransitionOutcome,
};

const SCHEMA: &str = "catalog";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const PRODUCT_COLUMNS: &str =
    "sku, name, description, price_cents, category, stock, weight_grams, created_at";

#[derive(Debug, Clone)]
pub struct PostgresCatalog {
    pool: PgPool,
}

impl PostgresCatalog {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn product(row: &PgRow) -> StoreResult<Product> {
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

async fn lines_of(executor: &mut sqlx::PgConnection, id: Uuid) -> StoreResult<Vec<Line>> {
    let rows = sqlx::query(
        "SELECT sku, quantity FROM reservation_lines WHERE reservation_id = $1 ORDER BY sku",
    )
    .bind(id)
    .fetch_all(executor)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Line {
                sku: Sku::from_store(row.try_get("sku")?),
                quantity: row.try_get("quantity")?,
            })
        })
        .collect()
}

async fn load_reservation(
    executor: &mut sqlx::PgConnection,
    id: Uuid,
) -> StoreResult<Option<Reservation>> {
    let Some(row) = sqlx::query("SELECT status, expires_at FROM reservations WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *executor)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Reservation {
        id,
        status: ReservationStatus::parse(row.try_get("status")?),
        expires_at: row.try_get("expires_at")?,
        lines: lines_of(executor, id).await?,
    }))
}

/// Puts a reservation's units back on the shelf and marks it released.
async fn restock(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> StoreResult<()> {
    sqlx::query(
        "UPDATE products p SET stock = p.stock + l.quantity
         FROM reservation_lines l
         WHERE l.reservation_id = $1 AND p.sku = l.sku",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE reservations SET status = 'released', updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[async_trait]
impl CatalogStore for PostgresCatalog {
    async fn prepare(&self) -> StoreResult<()> {
        eshop_platform::stores::prepare_postgres(&self.pool, SCHEMA, &MIGRATOR).await
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
            Sort::Name => "name, sku",
            Sort::Price => "price_cents, sku",
            Sort::PriceDesc => "price_cents DESC, sku",
            Sort::Newest => "created_at DESC, sku",
            Sort::Relevance => "ts_rank(search, websearch_to_tsquery('english', $2)) DESC, sku",
        };
        let filter = "($1::text IS NULL OR category = $1)
             AND ($2::text IS NULL OR search @@ websearch_to_tsquery('english', $2))";
        let category = query.category.as_ref().map(Slug::as_str);
        let search = query.search.as_deref();
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM products WHERE {filter}"
        )))
        .bind(category)
        .bind(search)
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE {filter}
             ORDER BY {order} LIMIT $3 OFFSET $4"
        )))
        .bind(category)
        .bind(search)
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
            "INSERT INTO products (sku, name, description, price_cents, category, stock, weight_grams)
             SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM categories WHERE slug = $5)
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
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO reservations (id, status, expires_at) VALUES ($1, 'held', $2)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            let existing = load_reservation(&mut tx, id).await?;
            tx.rollback().await?;
            return Ok(match existing {
                Some(reservation) if reservation.lines == lines => {
                    ReserveOutcome::Existing(reservation)
                }
                _ => ReserveOutcome::IdTaken,
            });
        }
        // Lines come sorted by SKU, so every transaction locks rows in the
        // same order and two checkouts cannot deadlock.
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
        let mut tx = self.pool.begin().await?;
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM reservations WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let outcome: fn(Reservation) -> TransitionOutcome = match status
            .as_deref()
            .map(ReservationStatus::parse)
        {
            None => return Ok(TransitionOutcome::NotFound),
            Some(ReservationStatus::Released) => TransitionOutcome::Refused,
            Some(ReservationStatus::Held) => {
                sqlx::query(
                    "UPDATE reservations SET status = 'committed', updated_at = now() WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                TransitionOutcome::Done
            }
            Some(ReservationStatus::Committed) => TransitionOutcome::Done,
        };
        let reservation = load_reservation(&mut tx, id).await?;
        tx.commit().await?;
        Ok(reservation.map_or(TransitionOutcome::NotFound, outcome))
    }

    async fn release(&self, id: Uuid) -> StoreResult<TransitionOutcome> {
        let mut tx = self.pool.begin().await?;
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM reservations WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        match status.as_deref().map(ReservationStatus::parse) {
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
        let expired: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM reservations WHERE status = 'held' AND expires_at < $1",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut released = 0;
        for id in expired {
            let mut tx = self.pool.begin().await?;
            // Re-checked under the row lock: a commit may have won the race.
            let still_held: Option<String> = sqlx::query_scalar(
                "SELECT status FROM reservations WHERE id = $1 AND status = 'held' FOR UPDATE",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            if still_held.is_some() {
                restock(&mut tx, id).await?;
                released += 1;
            }
            tx.commit().await?;
        }
        Ok(released)
    }
}
