//! The ratings service: 1 to 5 stars and an optional short review per user
//! and product (a new rating replaces the user's previous one), each
//! product's average and count answered in O(1) from running totals, and
//! its latest reviews.
//!
//! [`build`] turns [`RatingsSettings`] into a bound [`Application`]: it picks
//! the store for the backend (Redis, or a SQLite file on the embedded
//! backend), prepares it in the background, connects a client to the
//! catalog (see [`products`]), and assembles the routes of [`routes`].

pub mod domain;
mod products;
mod routes;
pub mod settings;
pub mod store;

use std::sync::Arc;

use eshop_platform::{
    auth::Auth,
    client::{ClientPolicy, ServiceClient},
    health::Readiness,
    metrics,
    server::{Application, BuildError, Service},
    settings::KeyValueStore,
    stores::{self, Preparation, RedisCheck, SqliteCheck},
};
pub use settings::RatingsSettings;
use tokio_util::sync::CancellationToken;

use crate::{
    products::Products,
    routes::{AppState, RatingsMetrics},
    store::{RatingsStore, redis::RedisRatings, sqlite::SqliteRatings},
};

/// The ratings service, bound to its port and ready to run.
pub async fn build(settings: RatingsSettings) -> Result<Application, BuildError> {
    let auth = Auth::internal(settings.server.internal_token.clone())
        .with_users(&settings.jwt_public_key)?;
    let (store, check): (Arc<dyn RatingsStore>, Arc<dyn Readiness>) = match &settings.store {
        KeyValueStore::Redis { url, key_prefix } => {
            let connection = stores::redis_connection(url)?;
            (
                Arc::new(RedisRatings::new(connection.clone(), key_prefix)),
                Arc::new(RedisCheck(connection)),
            )
        }
        KeyValueStore::Sqlite { data_dir } => {
            let ratings = SqliteRatings::open(data_dir)
                .map_err(|source| BuildError::io("opening the data directory", source))?;
            let pool = ratings.pool().clone();
            (Arc::new(ratings), Arc::new(SqliteCheck(pool)))
        }
    };
    let stopping = CancellationToken::new();
    let preparing = store.clone();
    let preparation = Preparation::start("ratings", stopping.clone(), move || {
        let store = preparing.clone();
        async move { store.prepare().await }
    });

    let ratings_metrics = RatingsMetrics::default();
    let mut registry = metrics::registry();
    ratings_metrics.register(&mut registry);

    let catalog = ServiceClient::new(
        "catalog",
        settings.catalog_url.as_str(),
        settings.server.internal_token.clone(),
        ClientPolicy::default(),
    );
    let state = AppState {
        store,
        auth,
        products: Arc::new(Products::new(catalog, products::CONFIRMED_FOR)),
        metrics: ratings_metrics,
    };
    let (api, _) = routes::router().with_state(state).split_for_parts();
    let service = Service {
        name: "ratings",
        api,
        preparation,
        checks: vec![check],
        registry,
    };
    Application::bind(&settings.server, service, stopping)
        .await
        .map_err(|source| BuildError::io("binding the listen address", source))
}

/// The ratings service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    eshop_platform::openapi::with_platform_responses(routes::router().split_for_parts().1)
}
