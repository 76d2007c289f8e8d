//! The catalog service: categories and products with prices in cents,
//! paging, sorting and full-text search, an SVG picture for every product,
//! a demo catalog, and stock reservations that never oversell.
//!
//! [`build`] turns [`CatalogSettings`] into a bound [`Application`]: it picks
//! the store for the backend (PostgreSQL or SQLite), prepares it in the
//! background, starts the worker that releases expired reservations, and
//! assembles the routes of [`routes`].

pub mod demo;
pub mod domain;
mod images;
mod routes;
pub mod settings;
pub mod store;

use std::{sync::Arc, time::Duration};

use eshop_platform::{
    auth::Auth,
    health::Readiness,
    housekeeping, metrics,
    server::{Application, BuildError, Service},
    settings::SqlStore,
    stores::{self, PostgresCheck, Preparation, SqliteCheck},
};
pub use settings::CatalogSettings;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::{
    routes::{AppState, CatalogMetrics},
    store::{CatalogStore, StoreResult, postgres::PostgresCatalog, sqlite::SqliteCatalog},
};

/// How often expired reservations are looked for: twice per hold time,
/// between every 100 ms and every 30 s.
fn expiry_sweep_interval(reservation_ttl: Duration) -> Duration {
    (reservation_ttl / 2).clamp(Duration::from_millis(100), Duration::from_secs(30))
}

/// The catalog, bound to its port and ready to run.
pub async fn build(settings: CatalogSettings) -> Result<Application, BuildError> {
    let (store, check): (Arc<dyn CatalogStore>, Arc<dyn Readiness>) = match &settings.store {
        SqlStore::Postgres { url } => {
            let pool = stores::postgres_pool(url, "catalog")?;
            (
                Arc::new(PostgresCatalog::new(pool.clone())),
                Arc::new(PostgresCheck(pool)),
            )
        }
        SqlStore::Sqlite { data_dir } => {
            let catalog = SqliteCatalog::open(data_dir)
                .map_err(|source| BuildError::io("opening the data directory", source))?;
            let pool = catalog.pool().clone();
            (Arc::new(catalog), Arc::new(SqliteCheck(pool)))
        }
    };
    let stopping = CancellationToken::new();
    let demo_data = settings.demo_data;
    let preparing = store.clone();
    let preparation = Preparation::start("catalog", stopping.clone(), move || {
        let store = preparing.clone();
        async move {
            store.prepare().await?;
            if demo_data {
                let added = demo::load(store.as_ref()).await?;
                tracing::info!(added, "demo catalog loaded");
            }
            Ok::<_, sqlx::Error>(())
        }
    });

    let catalog_metrics = CatalogMetrics::default();
    let mut registry = metrics::registry();
    catalog_metrics.register(&mut registry);
    let (releasing, counting) = (store.clone(), catalog_metrics.clone());
    tokio::spawn(housekeeping::every(
        "expired reservations released",
        expiry_sweep_interval(settings.reservation_ttl),
        preparation.clone(),
        stopping.clone(),
        move || {
            let (store, metrics) = (releasing.clone(), counting.clone());
            async move { release_expired_reservations(store.as_ref(), &metrics).await }
        },
    ));

    let state = AppState {
        store,
        auth: Auth::internal(settings.server.internal_token.clone()),
        metrics: catalog_metrics,
        reservation_ttl: settings.reservation_ttl,
    };
    let (api, _) = routes::router().with_state(state).split_for_parts();
    let service = Service {
        name: "catalog",
        api,
        preparation,
        checks: vec![check],
        registry,
    };
    Application::bind(&settings.server, service, stopping)
        .await
        .map_err(|source| BuildError::io("binding the listen address", source))
}

/// The catalog's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    eshop_platform::openapi::with_platform_responses(routes::router().split_for_parts().1)
}

/// Releases held reservations whose time ran out; answers how many.
async fn release_expired_reservations(
    store: &dyn CatalogStore,
    metrics: &CatalogMetrics,
) -> StoreResult<u64> {
    let released = store.release_expired(OffsetDateTime::now_utc()).await?;
    metrics.expired.inc_by(released);
    Ok(released)
}
