//! The dispatch service: it takes in `OrderPaid` from the orders stream,
//! ships each paid order after `ESHOP_DISPATCH_DELAY` (emitting
//! `OrderDispatched` on the dispatch stream) and reports it delivered
//! `ESHOP_DELIVERY_DELAY` later (`OrderDelivered`). An `OrderCancelled` that
//! arrives before the shipment leaves stops it; a later one is recorded and
//! ignored. Each effect happens exactly once, across redeliveries, restarts
//! and replicas (see [`store`]).
//!
//! [`build`] turns [`DispatchSettings`] into a bound [`Application`]: it
//! picks the store and the bus for the backend (Redis and Redis Streams, or
//! SQLite files and the shared SQLite bus), prepares the store in the
//! background, and once it is prepared starts the workers on the
//! application's stopping token: the consumer of the orders stream, the
//! scheduler, and on SQLite the outbox relay.

mod consumer;
pub mod domain;
mod routes;
mod scheduler;
pub mod settings;
pub mod store;

use std::{future::Future, sync::Arc, time::Duration};

use eshop_platform::{
    auth::Auth,
    events,
    health::Readiness,
    housekeeping, metrics,
    outbox::Outbox,
    server::{Application, BuildError, Service},
    settings::KeyValueStore,
    stores::{self, Preparation, RedisCheck, SqliteCheck},
};
pub use settings::DispatchSettings;
use tokio_util::sync::CancellationToken;

use crate::{
    consumer::{BusCheck, Handler},
    routes::{AppState, DispatchMetrics},
    scheduler::Scheduler,
    store::{DispatchStore, redis::RedisDispatch, sqlite::SqliteDispatch},
};

/// The store, what checks it and, on SQLite, the outbox where moves leave
/// their events for the relay.
type Shipments = (Arc<dyn DispatchStore>, Arc<dyn Readiness>, Option<Outbox>);

fn shipments(store: &KeyValueStore) -> Result<Shipments, BuildError> {
    Ok(match store {
        KeyValueStore::Redis { url, key_prefix } => {
            let connection = stores::redis_connection(url)?;
            (
                Arc::new(RedisDispatch::new(connection.clone(), key_prefix)),
                Arc::new(RedisCheck(connection)),
                None,
            )
        }
        KeyValueStore::Sqlite { data_dir } => {
            let shipments = SqliteDispatch::open(data_dir)
                .map_err(|source| BuildError::io("opening the data directory", source))?;
            (
                Arc::new(shipments.clone()),
                Arc::new(SqliteCheck(shipments.pool().clone())),
                Some(shipments.outbox().clone()),
            )
        }
    })
}

/// Dispatch, bound to its port and ready to run.
pub async fn build(settings: DispatchSettings) -> Result<Application, BuildError> {
    let (store, check, outbox) = shipments(&settings.store)?;
    let bus = events::open(&settings.store)
        .await
        .map_err(|error| BuildError::io("opening the event bus", std::io::Error::other(error)))?;
    let stopping = CancellationToken::new();
    let preparing = store.clone();
    let preparation = Preparation::start("dispatch", stopping.clone(), move || {
        let store = preparing.clone();
        async move { store.prepare().await }
    });

    let dispatch_metrics = DispatchMetrics::default();
    let mut registry = metrics::registry();
    dispatch_metrics.register(&mut registry);
    let state = AppState {
        store: store.clone(),
        auth: Auth::internal(settings.server.internal_token.clone()),
    };
    let (api, _) = routes::router().with_state(state).split_for_parts();
    let service = Service {
        name: "dispatch",
        api,
        preparation: preparation.clone(),
        checks: vec![check, Arc::new(BusCheck(bus.clone()))],
        registry,
    };
    let application = Application::bind(&settings.server, service, stopping.clone())
        .await
        .map_err(|source| {
            stopping.cancel();
            BuildError::io("binding the listen address", source)
        })?;

    let handler = Handler {
        store: store.clone(),
        dispatch_delay: settings.dispatch_delay,
        fault_error_rate: settings.fault_error_rate,
        metrics: dispatch_metrics.clone(),
    };
    spawn_once_prepared(
        &preparation,
        &stopping,
        consumer::consume_orders(
            bus.clone(),
            handler,
            settings.redeliver_after,
            settings.retention,
            stopping.clone(),
        ),
    );
    let pruning = store.clone();
    tokio::spawn(housekeeping::prune(
        "finished shipments past their retention deleted",
        settings.retention,
        preparation.clone(),
        stopping.clone(),
        move |finished_before| {
            let store = pruning.clone();
            async move { store.prune_finished(finished_before).await }
        },
    ));
    let scheduler = Scheduler {
        store,
        every: scheduler::tick_interval(settings.dispatch_delay, settings.delivery_delay),
        delivery_delay: settings.delivery_delay,
        metrics: dispatch_metrics,
    };
    spawn_once_prepared(&preparation, &stopping, scheduler.run(stopping.clone()));
    if let Some(outbox) = outbox {
        spawn_once_prepared(
            &preparation,
            &stopping,
            outbox.relay(bus, settings.retention, stopping.clone()),
        );
    }
    Ok(application)
}

/// Dispatch's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    eshop_platform::openapi::with_platform_responses(routes::router().split_for_parts().1)
}

/// Runs `worker` once the store is prepared, unless the service stops first.
fn spawn_once_prepared(
    preparation: &Preparation,
    stopping: &CancellationToken,
    worker: impl Future<Output = ()> + Send + 'static,
) {
    let (preparation, stopping) = (preparation.clone(), stopping.clone());
    tokio::spawn(async move {
        let mut looks = tokio::time::interval(Duration::from_millis(50));
        while !preparation.is_done() {
            tokio::select! {
                _ = looks.tick() => {}
                () = stopping.cancelled() => return,
            }
        }
        worker.await;
    });
}
