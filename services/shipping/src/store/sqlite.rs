//! Shipping on SQLite (the embedded backend): the city data goes in as
//! upserts in one transaction that rewrite only rows whose data changed,
//! and a confirmation runs in a `BEGIN IMMEDIATE` transaction. SQLite lets
//! one writer in at a time, so concurrent confirmations queue for the write
//! lock and each sees the last one's outcome.

use std::{collections::BTreeMap, path::Path};

use async_trait::async_trait;
use sqlx::{Row, Sqlite, SqlitePool, Transaction, sqlite::SqliteRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    CITIES, CITY_COLUMNS, QUOTE_COLUMNS, QUOTES, ShippingStore, StoreResult, search_sql, unsigned,
};
use crate::{
    domain::{
        City, CityId, CitySearch, ConfirmDecision, Confirmation, Country, CountryCode, QuoteRecord,
        Reference,
    },
    places::Place,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteShipping {
    pool: SqlitePool,
}

impl SqliteShipping {
    /// Shipping in `<data_dir>/shipping.sqlite3`.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        Ok(Self {
            pool: eshop_platform::stores::sqlite_pool(data_dir, "shipping")?,
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

fn city(row: &SqliteRow) -> StoreResult<City> {
    Ok(City {
        id: CityId::from_store(row.try_get("city_id")?),
        name: row.try_get("city_name")?,
        country_code: CountryCode::from_store(row.try_get("country_code")?),
        country_name: row.try_get("country_name")?,
        latitude: row.try_get("latitude")?,
        longitude: row.try_get("longitude")?,
    })
}

fn quote(row: &SqliteRow) -> StoreResult<QuoteRecord> {
    let reference: Option<String> = row.try_get("reference")?;
    let confirmed_at: Option<OffsetDateTime> = row.try_get("confirmed_at")?;
    Ok(QuoteRecord {
        id: row.try_get("id")?,
        city: city(row)?,
        distance_km: row.try_get("distance_km")?,
        weight_grams: unsigned("weight_grams", row.try_get("weight_grams")?)?,
        cost_cents: row.try_get("cost_cents")?,
        estimated_days: unsigned("estimated_days", row.try_get("estimated_days")?)?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        confirmation: reference
            .zip(confirmed_at)
            .map(|(reference, confirmed_at)| Confirmation {
                reference: Reference::from_store(reference),
                confirmed_at,
            }),
    })
}

#[async_trait]
impl ShippingStore for SqliteShipping {
    async fn prepare(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn load_places(&self, places: &[Place]) -> StoreResult<u64> {
        let countries: BTreeMap<&str, &str> = places
            .iter()
            .map(|place| (place.country_code.as_str(), place.country_name.as_str()))
            .collect();
        let mut tx = self.write().await?;
        for (code, name) in countries {
            sqlx::query(
                "INSERT INTO countries (code, name) VALUES ($1, $2)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name
                 WHERE countries.name <> excluded.name",
            )
            .bind(code)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        let mut changed = 0;
        for place in places {
            changed += sqlx::query(
                "INSERT INTO cities (id, country_code, name, search_name, latitude, longitude, population)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (id) DO UPDATE SET country_code = excluded.country_code,
                     name = excluded.name, search_name = excluded.search_name,
                     latitude = excluded.latitude, longitude = excluded.longitude,
                     population = excluded.population
                 WHERE (cities.country_code, cities.name, cities.search_name, cities.latitude,
                        cities.longitude, cities.population)
                     IS NOT (excluded.country_code, excluded.name, excluded.search_name,
                        excluded.latitude, excluded.longitude, excluded.population)",
            )
            .bind(place.id.as_str())
            .bind(place.country_code.as_str())
            .bind(&place.name)
            .bind(&place.search_name)
            .bind(place.coordinates.latitude)
            .bind(place.coordinates.longitude)
            .bind(place.population)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn countries(&self) -> StoreResult<Vec<Country>> {
        let rows = sqlx::query(
            "SELECT n.code, n.name, count(c.id) AS city_count
             FROM countries n JOIN cities c ON c.country_code = n.code
             GROUP BY n.code ORDER BY n.name, n.code",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Country {
                    code: CountryCode::from_store(row.try_get("code")?),
                    name: row.try_get("name")?,
                    city_count: row.try_get("city_count")?,
                })
            })
            .collect()
    }

    async fn search_cities(&self, search: &CitySearch) -> StoreResult<Vec<City>> {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(search_sql(search)))
            .bind(&search.prefix)
            .bind(&search.upper_bound)
            .bind(i64::from(search.limit));
        if let Some(country) = &search.country {
            query = query.bind(country.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(city).collect()
    }

    async fn city(&self, id: &CityId) -> StoreResult<Option<City>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CITY_COLUMNS} FROM {CITIES} WHERE c.id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(city)
        .transpose()
    }

    async fn insert_quote(&self, quote: &QuoteRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO quotes (id, city_id, distance_km, weight_grams, cost_cents,
                 estimated_days, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(quote.id)
        .bind(quote.city.id.as_str())
        .bind(quote.distance_km)
        .bind(i64::from(quote.weight_grams))
        .bind(quote.cost_cents)
        .bind(i64::from(quote.estimated_days))
        .bind(quote.created_at)
        .bind(quote.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn prune_quotes(&self, expired_before: OffsetDateTime) -> StoreResult<u64> {
        let deleted = sqlx::query("DELETE FROM quotes WHERE expires_at < $1")
            .bind(expired_before)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }

    async fn quote(&self, id: Uuid) -> StoreResult<Option<QuoteRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {QUOTE_COLUMNS}, {CITY_COLUMNS} FROM {QUOTES} WHERE q.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(quote)
        .transpose()
    }

    async fn confirm(
        &self,
        id: Uuid,
        reference: &Reference,
        now: OffsetDateTime,
    ) -> StoreResult<Option<(ConfirmDecision, QuoteRecord)>> {
        let mut tx = self.write().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {QUOTE_COLUMNS}, {CITY_COLUMNS} FROM {QUOTES} WHERE q.id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(mut record) = row.as_ref().map(quote).transpose()? else {
            return Ok(None);
        };
        let decision = record.decide(reference, now);
        if decision == ConfirmDecision::Confirm {
            sqlx::query("UPDATE quotes SET reference = $2, confirmed_at = $3 WHERE id = $1")
                .bind(id)
                .bind(reference.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            record.confirmation = Some(Confirmation {
                reference: reference.clone(),
                confirmed_at: now,
            });
        }
        tx.commit().await?;
        Ok(Some((decision, record)))
    }
}
