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
    metrics,
    server::{Application, BuildError, Service},
    settings::SqlStore,
    stores::{self, PostgresCheck, Preparation, SqliteCheck},
};
pub use settings::CatalogSettings;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::{
    routes::{AppState, CatalogMetrics},
    store::{CatalogStore, postgres::PostgresCatalog, sqlite::SqliteCatalog},
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
    tokio::spawn(release_expired_reservations(
        expiry_sweep_interval(settings.reservation_ttl),
        store.clone(),
        preparation.clone(),
        catalog_metrics.clone(),
        stopping.clone(),
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

/// Releases held reservations whose time ran out, until the service stops.
async fn release_expired_reservations(
    every: Duration,
    store: Arc<dyn CatalogStore>,
    preparation: Preparation,
    metrics: CatalogMetrics,
    stopping: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stopping.cancelled() => return,
        }
        if !preparation.is_done() {
            continue;
        }
        match store.release_expired(OffsetDateTime::now_utc()).await {
            Ok(0) => {}
            Ok(released) => {
                metrics.expired.inc_by(released);
                tracing::info!(released, "expired reservations released");
            }
            Err(error) => tracing::warn!(%error, "releasing expired reservations failed"),
        }
    }
}
