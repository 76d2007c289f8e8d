//! The cart service: a cart per user and per anonymous session, with lines
//! priced and checked against the catalog when they are added, merged into
//! the user's cart at login, and dropped when nobody touched them for
//! `ESHOP_CART_TTL`.
//!
//! [`build`] turns [`CartSettings`] into a bound [`Application`]: it picks
//! the store for the backend (Redis or a SQLite file), prepares it in the
//! background, starts the worker that deletes expired carts (SQLite only;
//! Redis expires keys itself), and assembles the routes of [`routes`].

pub mod domain;
mod routes;
pub mod settings;
pub mod store;

use std::{sync::Arc, time::Duration};

use eshop_catalog_api::CatalogClient;
use eshop_platform::{
    auth::Auth,
    client::{ClientPolicy, ServiceClient},
    health::Readiness,
    housekeeping, metrics,
    server::{Application, BuildError, Service},
    settings::KeyValueStore,
    stores::{self, Preparation, RedisCheck, SqliteCheck},
};
pub use routes::SESSION_HEADER;
pub use settings::CartSettings;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::{
    routes::{AppState, CartMetrics},
    store::{CartStore, StoreResult, redis::RedisCarts, sqlite::SqliteCarts},
};

/// How often expired carts are purged: four times per time to live,
/// between every 100 ms and every minute.
fn purge_interval(cart_ttl: Duration) -> Duration {
    (cart_ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(60))
}

/// The cart, bound to its port and ready to run.
pub async fn build(settings: CartSettings) -> Result<Application, BuildError> {
    let (store, check, purged): (Arc<dyn CartStore>, Arc<dyn Readiness>, Option<SqliteCarts>) =
        match &settings.store {
            KeyValueStore::Redis { url, key_prefix } => {
                let connection = stores::redis_connection(url)?;
                (
                    Arc::new(RedisCarts::new(connection.clone(), key_prefix)),
                    Arc::new(RedisCheck(connection)),
                    None,
                )
            }
            KeyValueStore::Sqlite { data_dir } => {
                let carts = SqliteCarts::open(data_dir)
                    .map_err(|source| BuildError::io("opening the data directory", source))?;
                (
                    Arc::new(carts.clone()),
                    Arc::new(SqliteCheck(carts.pool().clone())),
                    Some(carts),
                )
            }
        };
    let auth = Auth::internal(settings.server.internal_token.clone())
        .with_users(&settings.jwt_public_key)?;
    let stopping = CancellationToken::new();
    let preparing = store.clone();
    let preparation = Preparation::start("cart", stopping.clone(), move || {
        let store = preparing.clone();
        async move { store.prepare().await }
    });

    let cart_metrics = CartMetrics::default();
    let mut registry = metrics::registry();
    cart_metrics.register(&mut registry);
    if let Some(carts) = purged {
        let counting = cart_metrics.clone();
        tokio::spawn(housekeeping::every(
            "expired carts deleted",
            purge_interval(settings.cart_ttl),
            preparation.clone(),
            stopping.clone(),
            move || {
                let (carts, metrics) = (carts.clone(), counting.clone());
                async move { purge_expired_carts(&carts, &metrics).await }
            },
        ));
    }

    let state = AppState {
        store,
        auth,
        catalog: CatalogClient::new(ServiceClient::new(
            "catalog",
            settings.catalog_url.as_str(),
            settings.server.internal_token.clone(),
            ClientPolicy::default(),
        )),
        metrics: cart_metrics,
        ttl: settings.cart_ttl,
    };
    let (api, _) = routes::router().with_state(state).split_for_parts();
    let service = Service {
        name: "cart",
        api,
        preparation,
        checks: vec![check],
        registry,
    };
    Application::bind(&settings.server, service, stopping)
        .await
        .map_err(|source| BuildError::io("binding the listen address", source))
}

/// The cart's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    eshop_platform::openapi::with_platform_responses(routes::router().split_for_parts().1)
}

/// Deletes expired carts from the SQLite file; answers how many.
async fn purge_expired_carts(carts: &SqliteCarts, metrics: &CartMetrics) -> StoreResult<u64> {
    let purged = carts.purge_expired(OffsetDateTime::now_utc()).await?;
    metrics.expired.inc_by(purged);
    Ok(purged)
}
