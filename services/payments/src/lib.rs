//! The payments service: checkout as a saga across users, cart, catalog,
//! shipping, wallet and orders (see [`saga`]), idempotent by the caller's
//! `Idempotency-Key`, persisted step by step so a crash resumes or undoes
//! it, and the refunds and restocking that cancelled and returned orders
//! call for (see [`aftercare`]).

pub mod aftercare;
pub mod domain;
mod downstream;
mod routes;
pub mod saga;
pub mod settings;
pub mod store;

use std::sync::Arc;

use eshop_contracts::ORDERS_STREAM;
use eshop_platform::{
    auth::Auth,
    events::{self, ConsumerOptions},
    health::Readiness,
    housekeeping, metrics,
    server::{Application, BuildError, Service},
    settings::SqlStore,
    stores::{self, PostgresCheck, Preparation, SqliteCheck},
};
pub use settings::PaymentsSettings;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    downstream::HttpDownstream,
    routes::AppState,
    saga::{Saga, SagaMetrics},
    store::{CheckoutStore, postgres::PostgresCheckouts, sqlite::SqliteCheckouts},
};

/// Payments, bound to its port and ready to run.
pub async fn build(settings: PaymentsSettings) -> Result<Application, BuildError> {
    let (store, check): (Arc<dyn CheckoutStore>, Arc<dyn Readiness>) = match &settings.store {
        SqlStore::Postgres { url } => {
            let pool = stores::postgres_pool(url, "payments")?;
            (
                Arc::new(PostgresCheckouts::new(pool.clone())),
                Arc::new(PostgresCheck(pool)),
            )
        }
        SqlStore::Sqlite { data_dir } => {
            let checkouts = SqliteCheckouts::open(data_dir)
                .map_err(|source| BuildError::io("opening the data directory", source))?;
            let pool = checkouts.pool().clone();
            (Arc::new(checkouts), Arc::new(SqliteCheck(pool)))
        }
    };
    let bus = events::open(&settings.bus)
        .await
        .map_err(|error| BuildError::io("opening the event bus", std::io::Error::other(error)))?;
    let stopping = CancellationToken::new();
    let preparing = store.clone();
    let preparation = Preparation::start("payments", stopping.clone(), move || {
        let store = preparing.clone();
        async move { store.prepare().await }
    });

    let saga_metrics = SagaMetrics::default();
    let mut registry = metrics::registry();
    saga_metrics.register(&mut registry);
    let saga = Arc::new(Saga {
        store: store.clone(),
        downstream: Arc::new(HttpDownstream::new(
            &settings.downstream,
            &settings.server.internal_token,
        )),
        owner: format!("payments-{}", Uuid::new_v4()),
        lease: settings.lease,
        deadline: settings.deadline,
        pause_at: settings.fault_pause_at,
        metrics: saga_metrics,
    });

    let pruning = store.clone();
    tokio::spawn(housekeeping::prune(
        "finished checkouts past their retention deleted",
        settings.retention,
        preparation.clone(),
        stopping.clone(),
        move |finished_before| {
            let store = pruning.clone();
            async move { store.prune_finished(finished_before).await }
        },
    ));
    tokio::spawn(aftercare::recover(
        saga.clone(),
        preparation.clone(),
        stopping.clone(),
    ));
    let consumer_saga = saga.clone();
    tokio::spawn(events::consume(
        bus,
        ORDERS_STREAM,
        "payments",
        saga.owner.clone(),
        ConsumerOptions {
            retention: settings.retention,
            ..ConsumerOptions::default()
        },
        stopping.clone(),
        move |event| {
            let saga = consumer_saga.clone();
            async move { aftercare::on_order_event(&saga, event).await }
        },
    ));

    let state = AppState {
        store,
        saga,
        auth: Auth::internal(settings.server.internal_token.clone())
            .with_users(&settings.jwt_public_key)?,
        fault_error_rate: settings.fault_error_rate,
    };
    let (api, _) = routes::router().with_state(state).split_for_parts();
    let service = Service {
        name: "payments",
        api,
        preparation,
        checks: vec![check],
        registry,
    };
    Application::bind(&settings.server, service, stopping)
        .await
        .map_err(|source| BuildError::io("binding the listen address", source))
}

/// The payments OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    eshop_platform::openapi::with_platform_responses(routes::router().split_for_parts().1)
}
