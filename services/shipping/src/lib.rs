//! The shipping service: the countries and cities the shop delivers to
//! (shipped in the crate as data), city search for address forms, and
//! quotes priced by the distance from the warehouse and the parcel's
//! weight, which checkout confirms.
//!
//! [`build`] turns [`ShippingSettings`] into a bound [`Application`]: it
//! reads the city data, picks the store for the backend (PostgreSQL or
//! SQLite), prepares it and loads the cities in the background, deletes
//! quotes once they have been expired for the retention, and assembles the
//! routes of [`routes`].

pub mod domain;
pub mod places;
pub mod pricing;
mod routes;
pub mod settings;
pub mod store;

use std::sync::Arc;

use eshop_platform::{
    auth::Auth,
    health::Readiness,
    housekeeping, metrics,
    server::{Application, BuildError, Service},
    settings::SqlStore,
    stores::{self, PostgresCheck, Preparation, SqliteCheck},
};
pub use settings::ShippingSettings;
use tokio_util::sync::CancellationToken;

use crate::{
    routes::{AppState, ShippingMetrics},
    store::{ShippingStore, postgres::PostgresShipping, sqlite::SqliteShipping},
};

/// Shipping, bound to its port and ready to run.
pub async fn build(settings: ShippingSettings) -> Result<Application, BuildError> {
    let places = places::parse(places::DATA).map_err(|error| {
        BuildError::io(
            "reading the city data",
            std::io::Error::new(std::io::ErrorKind::InvalidData, error),
        )
    })?;
    let (store, check): (Arc<dyn ShippingStore>, Arc<dyn Readiness>) = match &settings.store {
        SqlStore::Postgres { url } => {
            let pool = stores::postgres_pool(url, "shipping")?;
            (
                Arc::new(PostgresShipping::new(pool.clone())),
                Arc::new(PostgresCheck(pool)),
            )
        }
        SqlStore::Sqlite { data_dir } => {
            let shipping = SqliteShipping::open(data_dir)
                .map_err(|source| BuildError::io("opening the data directory", source))?;
            let pool = shipping.pool().clone();
            (Arc::new(shipping), Arc::new(SqliteCheck(pool)))
        }
    };
    let stopping = CancellationToken::new();
    let places = Arc::new(places);
    let preparing = store.clone();
    let preparation = Preparation::start("shipping", stopping.clone(), move || {
        let (store, places) = (preparing.clone(), places.clone());
        async move {
            store.prepare().await?;
            let changed = store.load_places(&places).await?;
            tracing::info!(cities = places.len(), changed, "city data loaded");
            Ok::<_, sqlx::Error>(())
        }
    });

    let pruning = store.clone();
    tokio::spawn(housekeeping::prune(
        "expired quotes past their retention deleted",
        settings.retention,
        preparation.clone(),
        stopping.clone(),
        move |expired_before| {
            let store = pruning.clone();
            async move { store.prune_quotes(expired_before).await }
        },
    ));

    let shipping_metrics = ShippingMetrics::default();
    let mut registry = metrics::registry();
    shipping_metrics.register(&mut registry);
    let state = AppState {
        store,
        auth: Auth::internal(settings.server.internal_token.clone()),
        metrics: shipping_metrics,
        warehouse: settings.warehouse,
        quote_ttl: settings.quote_ttl,
    };
    let (api, _) = routes::router().with_state(state).split_for_parts();
    let service = Service {
        name: "shipping",
        api,
        preparation,
        checks: vec![check],
        registry,
    };
    Application::bind(&settings.server, service, stopping)
        .await
        .map_err(|source| BuildError::io("binding the listen address", source))
}

/// Shipping's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    eshop_platform::openapi::with_platform_responses(routes::router().split_for_parts().1)
}
