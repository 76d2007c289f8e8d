//! The wallet service: the shop's simulated bank, "where the client keeps
//! their money". Each user has a wallet, topped up by card; the checkout
//! saga charges it (or a card) and refunds it. Under concurrency, retries
//! and crashes no money is lost or invented: every balance change is one
//! transaction with its ledger entry and its idempotency record, balances
//! never go below zero, and refunds never exceed their charge.
//!
//! [`build`] turns [`WalletSettings`] into a bound [`Application`]: it picks
//! the store for the backend (PostgreSQL or SQLite), prepares it in the
//! background and assembles the routes.

pub mod bank;
pub mod domain;
pub mod idempotency;
mod routes;
pub mod settings;
pub mod store;

use std::sync::Arc;

use eshop_platform::{
    auth::Auth,
    health::Readiness,
    metrics,
    server::{Application, BuildError, Service},
    settings::SqlStore,
    stores::{self, PostgresCheck, Preparation, SqliteCheck},
};
pub use settings::WalletSettings;
use tokio_util::sync::CancellationToken;

use crate::{
    routes::{AppState, WalletMetrics},
    store::{WalletStore, postgres::PostgresWallet, sqlite::SqliteWallet},
};

/// The wallet, bound to its port and ready to run.
pub async fn build(settings: WalletSettings) -> Result<Application, BuildError> {
    let auth = Auth::internal(settings.server.internal_token.clone())
        .with_users(&settings.jwt_public_key)?;
    let (store, check): (Arc<dyn WalletStore>, Arc<dyn Readiness>) = match &settings.store {
        SqlStore::Postgres { url } => {
            let pool = stores::postgres_pool(url, "wallet")?;
            (
                Arc::new(PostgresWallet::new(pool.clone())),
                Arc::new(PostgresCheck(pool)),
            )
        }
        SqlStore::Sqlite { data_dir } => {
            let wallet = SqliteWallet::open(data_dir)
                .map_err(|source| BuildError::io("opening the data directory", source))?;
            let pool = wallet.pool().clone();
            (Arc::new(wallet), Arc::new(SqliteCheck(pool)))
        }
    };
    let stopping = CancellationToken::new();
    let preparing = store.clone();
    let preparation = Preparation::start("wallet", stopping.clone(), move || {
        let store = preparing.clone();
        async move { store.prepare().await }
    });

    let wallet_metrics = WalletMetrics::default();
    let mut registry = metrics::registry();
    wallet_metrics.register(&mut registry);

    let state = AppState {
        store,
        auth,
        metrics: wallet_metrics,
    };
    let (api, _) = routes::router().with_state(state).split_for_parts();
    let service = Service {
        name: "wallet",
        api,
        preparation,
        checks: vec![check],
        registry,
    };
    Application::bind(&settings.server, service, stopping)
        .await
        .map_err(|source| BuildError::io("binding the listen address", source))
}

/// The wallet's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    eshop_platform::openapi::with_platform_responses(routes::router().split_for_parts().1)
}
