//! The orders service: orders with lines, totals, shipping and a status
//! lifecycle (`pending → paid → dispatched → delivered`, cancelled before
//! dispatch, returned after delivery), each user's order history, printable
//! invoices, and the events that tell other services about orders.
//!
//! [`build`] turns [`OrdersSettings`] into a bound [`Application`]: it picks
//! the store for the backend (PostgreSQL or SQLite) and the event bus that
//! goes with it (Redis Streams, or the shared SQLite bus file), prepares the
//! store in the background, and, once it is prepared, starts two workers
//! that run until the service stops: the outbox relay, which publishes the
//! events the store enqueued, and the consumer of dispatch's events, which
//! moves orders on as they are dispatched and delivered.

pub mod domain;
pub mod events;
mod invoice;
pub mod lifecycle;
mod routes;
pub mod settings;
pub mod store;

use std::{sync::Arc, time::Duration};

use eshop_contracts::DISPATCH_STREAM;
use eshop_platform::{
    auth::Auth,
    events::{self as bus, ConsumerOptions, EventBus, consume},
    health::Readiness,
    housekeeping, metrics,
    outbox::Outbox,
    server::{Application, BuildError, Service},
    settings::SqlStore,
    stores::{self, PostgresCheck, Preparation, SqliteCheck},
};
pub use settings::OrdersSettings;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    routes::{AppState, OrdersMetrics},
    store::{OrdersStore, postgres::PostgresOrders, sqlite::SqliteOrders},
};

/// How often the workers look whether the store is prepared yet.
const PREPARATION_POLL: Duration = Duration::from_millis(100);
/// The orders service, bound to its port and ready to run.
pub async fn build(settings: OrdersSettings) -> Result<Application, BuildError> {
    let auth = Auth::internal(settings.server.internal_token.clone())
        .with_users(&settings.jwt_public_key)?;
    let (store, check): (Arc<dyn OrdersStore>, Arc<dyn Readiness>) = match &settings.store {
        SqlStore::Postgres { url } => {
            let pool = stores::postgres_pool(url, "orders")?;
            (
                Arc::new(PostgresOrders::new(pool.clone())),
                Arc::new(PostgresCheck(pool)),
            )
        }
        SqlStore::Sqlite { data_dir } => {
            let orders = SqliteOrders::open(data_dir)
                .map_err(|source| BuildError::io("opening the data directory", source))?;
            let pool = orders.pool().clone();
            (Arc::new(orders), Arc::new(SqliteCheck(pool)))
        }
    };
    // The bus is not a readiness check: while it is down, orders are still
    // taken and their events wait in the outbox.
    let bus = bus::open(&settings.bus)
        .await
        .map_err(|error| BuildError::io("opening the event bus", std::io::Error::other(error)))?;
    let stopping = CancellationToken::new();
    let preparing = store.clone();
    let preparation = Preparation::start("orders", stopping.clone(), move || {
        let store = preparing.clone();
        async move { store.prepare().await }
    });

    let orders_metrics = OrdersMetrics::default();
    let mut registry = metrics::registry();
    orders_metrics.register(&mut registry);

    let outbox = Outbox::new(store.outbox());
    tokio::spawn(run_workers(
        Workers {
            store: store.clone(),
            bus,
            outbox: outbox.clone(),
            metrics: orders_metrics.clone(),
            consumer: consumer_name(),
            retention: settings.retention,
        },
        preparation.clone(),
        stopping.clone(),
    ));

    let state = AppState {
        store,
        auth,
        metrics: orders_metrics,
        outbox,
    };
    let (api, _) = routes::router().with_state(state).split_for_parts();
    let service = Service {
        name: "orders",
        api,
        preparation,
        checks: vec![check],
        registry,
    };
    Application::bind(&settings.server, service, stopping)
        .await
        .map_err(|source| BuildError::io("binding the listen address", source))
}

/// The orders service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    eshop_platform::openapi::with_platform_responses(routes::router().split_for_parts().1)
}

/// This process's name in the consumer group: the host (the pod, on
/// Kubernetes), the process id and a random part, so no two processes, nor
/// two services built in one process, share it.
fn consumer_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "orders".to_owned());
    let random = Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &random[..8])
}

/// What the background workers need.
struct Workers {
    store: Arc<dyn OrdersStore>,
    bus: Arc<dyn EventBus>,
    outbox: Outbox,
    metrics: OrdersMetrics,
    consumer: String,
    /// How long handled events, published outbox rows and acknowledged
    /// messages are kept.
    retention: Duration,
}

/// Waits for the store to be prepared, then relays the outbox and consumes
/// dispatch's events until the service stops.
async fn run_workers(workers: Workers, preparation: Preparation, stopping: CancellationToken) {
    let mut ticks = tokio::time::interval(PREPARATION_POLL);
    while !preparation.is_done() {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stopping.cancelled() => return,
        }
    }
    let Workers {
        store,
        bus,
        outbox,
        metrics,
        consumer,
        retention,
    } = workers;
    tracing::info!(
        consumer,
        "relaying the outbox and consuming dispatch's events"
    );
    let relay = outbox.relay(bus.clone(), retention, stopping.clone());
    let pruned = store.clone();
    let pruning = housekeeping::prune(
        "handled events past their retention forgotten",
        retention,
        preparation,
        stopping.clone(),
        move |handled_before| {
            let store = pruned.clone();
            async move { store.prune_handled_events(handled_before).await }
        },
    );
    let consumer = consume(
        bus,
        DISPATCH_STREAM,
        events::GROUP,
        consumer,
        ConsumerOptions {
            retention,
            ..ConsumerOptions::default()
        },
        stopping,
        move |event| {
            let (store, metrics) = (store.clone(), metrics.clone());
            async move { events::handle(store.as_ref(), &metrics, event).await }
        },
    );
    tokio::join!(relay, pruning, consumer);
}
