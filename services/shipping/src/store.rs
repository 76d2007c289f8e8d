//! The seam between shipping and where it keeps its data: one trait, with a
//! PostgreSQL implementation (server backend) and a SQLite one (embedded).
//!
//! Both keep cities with a search key (see [`crate::domain::search_key`])
//! under an index that compares bytes, so a prefix search is an index
//! range; both confirm a quote under a lock on its row, so of two
//! confirmations with different references exactly one wins.

pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    domain::{City, CityId, CitySearch, ConfirmDecision, Country, QuoteRecord, Reference},
    places::Place,
};

/// Errors of the stores are database errors; the API maps them to 503/500.
pub type StoreResult<T> = Result<T, sqlx::Error>;

#[async_trait]
pub trait ShippingStore: Send + Sync {
    /// Creates the schema and runs migrations.
    async fn prepare(&self) -> StoreResult<()>;

    /// Adds the places and their countries, and updates those whose data
    /// changed; returns how many cities were added or changed.
    async fn load_places(&self, places: &[Place]) -> StoreResult<u64>;

    /// Every country with cities, by name.
    async fn countries(&self) -> StoreResult<Vec<Country>>;

    /// Cities whose search key starts with the search's prefix, the most
    /// populous first.
    async fn search_cities(&self, search: &CitySearch) -> StoreResult<Vec<City>>;

    async fn city(&self, id: &CityId) -> StoreResult<Option<City>>;

    async fn insert_quote(&self, quote: &QuoteRecord) -> StoreResult<()>;

    async fn quote(&self, id: Uuid) -> StoreResult<Option<QuoteRecord>>;

    /// Deletes the quotes that expired before `expired_before`, confirmed
    /// or not; says how many.
    async fn prune_quotes(&self, expired_before: OffsetDateTime) -> StoreResult<u64>;

    /// Decides under the quote's lock what confirming it for `reference` at
    /// `now` does ([`QuoteRecord::decide`]) and, if it is to be confirmed,
    /// confirms it. `None` when there is no such quote.
    async fn confirm(
        &self,
        id: Uuid,
        reference: &Reference,
        now: OffsetDateTime,
    ) -> StoreResult<Option<(ConfirmDecision, QuoteRecord)>>;
}

/// The columns a city is read from, with `cities c JOIN countries n`.
const CITY_COLUMNS: &str = "c.id AS city_id, c.name AS city_name, c.country_code, \
     n.name AS country_name, c.latitude, c.longitude";

/// Cities with their countries' names.
const CITIES: &str = "cities c JOIN countries n ON n.code = c.country_code";

/// The columns a quote is read from, with [`QUOTES`].
const QUOTE_COLUMNS: &str = "q.id, q.distance_km, q.weight_grams, q.cost_cents, \
     q.estimated_days, q.created_at, q.expires_at, q.reference, q.confirmed_at";

/// Quotes with their cities.
const QUOTES: &str = "quotes q JOIN cities c ON c.id = q.city_id \
     JOIN countries n ON n.code = c.country_code";

/// The city search: `$1` and `$2` bound the search keys, `$3` is the
/// limit and `$4`, only with a country, the country.
fn search_sql(search: &CitySearch) -> String {
    let country = if search.country.is_some() {
        " AND c.country_code = $4"
    } else {
        ""
    };
    format!(
        "SELECT {CITY_COLUMNS} FROM {CITIES}
         WHERE c.search_name >= $1 AND c.search_name < $2{country}
         ORDER BY c.population DESC, c.name, c.id LIMIT $3"
    )
}

/// A count the schema keeps within `u32`, read back.
pub(crate) fn unsigned(column: &str, value: i64) -> StoreResult<u32> {
    u32::try_from(value).map_err(|error| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: Box::new(error),
    })
}
