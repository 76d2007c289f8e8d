//! The seam between the catalog and where it keeps its data: one trait, with
//! a PostgreSQL implementation (server backend) and a SQLite one (embedded).
//!
//! Both guarantee the same things: stock never goes below zero (a `CHECK`
//! in the schema, and conditional updates), a reservation takes all of its
//! lines or none, and reservations with the same id are taken once.

pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{
    Category, Line, NewProduct, Page, Product, ProductQuery, Reservation, ReserveOutcome, Sku,
    Slug, TransitionOutcome,
};

/// Errors of the stores are database errors; the API maps them to 503/500.
pub type StoreResult<T> = Result<T, sqlx::Error>;

#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Creates the schema and runs migrations.
    async fn prepare(&self) -> StoreResult<()>;

    async fn categories(&self) -> StoreResult<Vec<Category>>;

    async fn upsert_category(&self, slug: &Slug, name: &str, description: &str) -> StoreResult<()>;

    async fn products(&self, query: &ProductQuery) -> StoreResult<Page<Product>>;

    async fn product(&self, sku: &Sku) -> StoreResult<Option<Product>>;

    /// Creates or replaces a product; `None` when its category does not exist.
    async fn upsert_product(&self, product: &NewProduct) -> StoreResult<Option<Product>>;

    /// Holds `lines` under `id` until `expires_at`, all or nothing.
    async fn reserve(
        &self,
        id: Uuid,
        lines: &[Line],
        expires_at: OffsetDateTime,
    ) -> StoreResult<ReserveOutcome>;

    async fn reservation(&self, id: Uuid) -> StoreResult<Option<Reservation>>;

    /// Held to committed; committing twice is the same as once.
    async fn commit(&self, id: Uuid) -> StoreResult<TransitionOutcome>;

    /// Held or committed to released, returning the stock; idempotent.
    async fn release(&self, id: Uuid) -> StoreResult<TransitionOutcome>;

    /// Releases held reservations that expired before `now`; returns how many.
    async fn release_expired(&self, now: OffsetDateTime) -> StoreResult<u64>;
}

/// The image path of a product.
pub(crate) fn image_url(sku: &str) -> String {
    format!("/v1/products/{sku}/image.svg")
}
