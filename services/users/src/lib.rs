//! The users service: accounts with Argon2id-hashed passwords, logins that
//! issue EdDSA JWTs, rate-limited login attempts, profiles, addresses, the
//! public key other services verify tokens with, and a look-up of users for
//! other services.
//!
//! [`build`] turns [`UsersSettings`] into a bound [`Application`]: it loads
//! the signing key, picks the store for the backend (PostgreSQL or SQLite),
//! prepares it in the background, starts the worker that purges old failed
//! logins, and assembles the routes of `routes`.

pub mod domain;
pub mod limits;
mod passwords;
mod routes;
pub mod settings;
pub mod store;

use std::{sync::Arc, time::Duration};

use axum::extract::DefaultBodyLimit;
use eshop_platform::{
    auth::Auth,
    health::Readiness,
    housekeeping,
    keys::KeyPair,
    metrics,
    server::{Application, BuildError, Service},
    settings::SqlStore,
    stores::{self, PostgresCheck, Preparation, SqliteCheck},
};
use secrecy::ExposeSecret;
pub use settings::UsersSettings;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::{
    limits::LoginLimits,
    passwords::Passwords,
    routes::{AppState, UsersMetrics},
    store::{StoreResult, UserStore, postgres::PostgresUsers, sqlite::SqliteUsers},
};

/// The largest request body users accepts: its bodies are a few short
/// strings, far below the server's general limit.
pub const BODY_LIMIT: usize = 16 * 1024;

/// How often old failed logins are purged: twice per window, between every
/// 100 ms and every minute.
fn purge_interval(window: Duration) -> Duration {
    (window / 2).clamp(Duration::from_millis(100), Duration::from_secs(60))
}

/// The users service, bound to its port and ready to run.
pub async fn build(settings: UsersSettings) -> Result<Application, BuildError> {
    let keys =
        KeyPair::from_private_pem(settings.jwt_private_key.expose_secret()).map_err(|error| {
            BuildError::io(
                "loading ESHOP_JWT_PRIVATE_KEY",
                std::io::Error::new(std::io::ErrorKind::InvalidInput, error),
            )
        })?;
    let auth =
        Auth::internal(settings.server.internal_token.clone()).with_users(&keys.public_pem)?;
    let passwords = tokio::task::spawn_blocking(Passwords::new)
        .await
        .map_err(|error| {
            BuildError::io("preparing password hashing", std::io::Error::other(error))
        })?
        .map_err(|error| {
            BuildError::io(
                "preparing password hashing",
                std::io::Error::other(error.to_string()),
            )
        })?;

    let (store, check): (Arc<dyn UserStore>, Arc<dyn Readiness>) = match &settings.store {
        SqlStore::Postgres { url } => {
            let pool = stores::postgres_pool(url, "users")?;
            (
                Arc::new(PostgresUsers::new(pool.clone())),
                Arc::new(PostgresCheck(pool)),
            )
        }
        SqlStore::Sqlite { data_dir } => {
            let users = SqliteUsers::open(data_dir)
                .map_err(|source| BuildError::io("opening the data directory", source))?;
            let pool = users.pool().clone();
            (Arc::new(users), Arc::new(SqliteCheck(pool)))
        }
    };
    let stopping = CancellationToken::new();
    let preparing = store.clone();
    let preparation = Preparation::start("users", stopping.clone(), move || {
        let store = preparing.clone();
        async move { store.prepare().await }
    });

    let users_metrics = UsersMetrics::default();
    let mut registry = metrics::registry();
    users_metrics.register(&mut registry);
    let limits = LoginLimits::with_window(settings.login_window);
    let (purging, counting, window) = (store.clone(), users_metrics.clone(), limits.window);
    tokio::spawn(housekeeping::every(
        "old failed logins deleted",
        purge_interval(window),
        preparation.clone(),
        stopping.clone(),
        move || {
            let (store, metrics) = (purging.clone(), counting.clone());
            async move { purge_failed_logins(store.as_ref(), window, &metrics).await }
        },
    ));

    let state = AppState {
        store,
        auth,
        metrics: users_metrics,
        passwords,
        keys: Arc::new(keys),
        token_ttl: settings.jwt_ttl,
        limits,
        attempt_checks: Arc::new(Semaphore::new(limits::CONCURRENT_CHECKS)),
    };
    let (api, _) = routes::router().with_state(state).split_for_parts();
    let service = Service {
        name: "users",
        api: api.layer(DefaultBodyLimit::max(BODY_LIMIT)),
        preparation,
        checks: vec![check],
        registry,
    };
    Application::bind(&settings.server, service, stopping)
        .await
        .map_err(|source| BuildError::io("binding the listen address", source))
}

/// The users service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    eshop_platform::openapi::with_platform_responses(routes::router().split_for_parts().1)
}

/// Deletes failed logins that have left the `window`; answers how many.
async fn purge_failed_logins(
    store: &dyn UserStore,
    window: Duration,
    metrics: &UsersMetrics,
) -> StoreResult<u64> {
    let purged = store.purge_attempts(domain::now() - window).await?;
    metrics.purged.inc_by(purged);
    Ok(purged)
}
