//! The stores keep their promises under contention, on Redis and on SQLite,
//! as several replicas would put them to the test: an order is scheduled
//! once however many handle its payment at once, each move is made by
//! exactly one of the replicas racing for it, with exactly one event, and a
//! cancellation racing a dispatch either stops the shipment or comes late,
//! never both and never neither.

use std::{collections::HashMap, sync::Arc, time::Duration};

use eshop_contracts::{DISPATCH_STREAM, OrderDelivered, OrderDispatched};
use eshop_dispatch::{
    domain::{Cancellation, Move, Scheduling, ShipmentStatus},
    store::{DispatchStore, redis::RedisDispatch, sqlite::SqliteDispatch},
};
use eshop_platform::{
    events::{self, Event, EventBus},
    settings::KeyValueStore,
};
use eshop_test_support::{TestBackend, TestKeyValueStore, on_both_backends};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Replicas racing in each test.
const REPLICAS: usize = 4;

/// A store of a test's own, and the bus its moves' events reach.
struct TestStore {
    store: Arc<dyn DispatchStore>,
    bus: Arc<dyn EventBus>,
    /// Stops the SQLite outbox relay.
    stopping: CancellationToken,
    _storage: TestKeyValueStore,
}

impl Drop for TestStore {
    fn drop(&mut self) {
        self.stopping.cancel();
    }
}

async fn spawn(backend: TestBackend) -> TestStore {
    let storage = TestKeyValueStore::create(backend).await;
    let settings = storage.settings();
    let bus = events::open(&settings).await.expect("the bus opens");
    let stopping = CancellationToken::new();
    let store: Arc<dyn DispatchStore> = match &settings {
        KeyValueStore::Redis { url, key_prefix } => {
            let connection = eshop_platform::stores::redis_connection(url).expect("a Redis URL");
            Arc::new(RedisDispatch::new(connection, key_prefix))
        }
        KeyValueStore::Sqlite { data_dir } => {
            let shipments = SqliteDispatch::open(data_dir).expect("the data directory opens");
            tokio::spawn(shipments.outbox().clone().relay(
                bus.clone(),
                Duration::from_secs(3600),
                stopping.clone(),
            ));
            Arc::new(shipments)
        }
    };
    store.prepare().await.expect("the store prepares");
    TestStore {
        store,
        bus,
        stopping,
        _storage: storage,
    }
}

impl TestStore {
    /// Schedules `count` new orders, due at once.
    async fn due_orders(&self, count: usize) -> Vec<Uuid> {
        let now = OffsetDateTime::now_utc();
        let mut orders = Vec::with_capacity(count);
        for _ in 0..count {
            let order_id = Uuid::new_v4();
            let scheduled = self.store.schedule(order_id, now, now).await.unwrap();
            assert!(matches!(scheduled, Scheduling::Scheduled { .. }));
            orders.push(order_id);
        }
        orders
    }

    /// Waits until the dispatch stream holds `count` events; returns them
    /// by kind and order.
    async fn emitted(&self, count: usize) -> HashMap<(String, Uuid), usize> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let events = loop {
            let events = self.bus.read_all(DISPATCH_STREAM).await.unwrap();
            if events.len() >= count {
                break events;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {count} events reached the stream",
                events.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let mut emitted = HashMap::new();
        for event in &events {
            *emitted
                .entry((event.kind.clone(), order_of(event)))
                .or_default() += 1;
        }
        emitted
    }
}

/// Runs what `replica` makes on [`REPLICAS`] tasks at once; returns what
/// each gave.
async fn all<T, Fut>(mut replica: impl FnMut() -> Fut) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let running: Vec<_> = (0..REPLICAS).map(|_| tokio::spawn(replica())).collect();
    let mut outcomes = Vec::with_capacity(REPLICAS);
    for task in running {
        outcomes.push(task.await.expect("a replica finished"));
    }
    outcomes
}

fn order_of(event: &Event) -> Uuid {
    match event.kind.as_str() {
        "OrderDispatched" => event.payload::<OrderDispatched>().unwrap().order_id,
        "OrderDelivered" => event.payload::<OrderDelivered>().unwrap().order_id,
        other => panic!("dispatch emitted a {other}"),
    }
}

on_both_backends!(
    an_order_paid_at_once_by_many_is_scheduled_once,
    replicas_racing_for_due_shipments_move_each_once,
    a_cancellation_racing_a_dispatch_either_stops_it_or_comes_late,
);

async fn an_order_paid_at_once_by_many_is_scheduled_once(test: TestStore) {
    let order_id = Uuid::new_v4();
    let now = OffsetDateTime::now_utc();
    let outcomes = all(|| {
        let store = test.store.clone();
        async move { store.schedule(order_id, now, now).await.unwrap() }
    })
    .await;
    let scheduled = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Scheduling::Scheduled { .. }))
        .count();
    assert_eq!(scheduled, 1, "{outcomes:?}");
    let summary = test.store.summary().await.unwrap();
    assert_eq!((summary.scheduled, summary.total), (1, 1));
}

async fn replicas_racing_for_due_shipments_move_each_once(test: TestStore) {
    const ORDERS: usize = 40;
    let orders = test.due_orders(ORDERS).await;
    // Each replica moves what is due until nothing is left; with no
    // delivery delay, a dispatched shipment is at once due to arrive.
    let moves: Vec<Move> = all(|| {
        let store = test.store.clone();
        async move {
            let mut moves = Vec::new();
            loop {
                let now = OffsetDateTime::now_utc();
                let made = store.advance_due(now, 7, Duration::ZERO).await.unwrap();
                if made.is_empty() && store.summary().await.unwrap().delivered == ORDERS as u64 {
                    return moves;
                }
                moves.extend(made);
            }
        }
    })
    .await
    .into_iter()
    .flatten()
    .collect();

    let dispatched = moves
        .iter()
        .filter(|moved| matches!(moved, Move::Dispatched { .. }))
        .count();
    assert_eq!(
        (dispatched, moves.len() - dispatched),
        (ORDERS, ORDERS),
        "one dispatch and one delivery per order, among all replicas"
    );
    let emitted = test.emitted(2 * ORDERS).await;
    assert_eq!(emitted.len(), 2 * ORDERS, "{emitted:?}");
    for order_id in orders {
        for kind in ["OrderDispatched", "OrderDelivered"] {
            assert_eq!(emitted.get(&(kind.to_owned(), order_id)), Some(&1));
        }
        let shipment = test.store.shipment(order_id).await.unwrap().unwrap();
        assert_eq!(shipment.status, ShipmentStatus::Delivered);
    }
}

async fn a_cancellation_racing_a_dispatch_either_stops_it_or_comes_late(test: TestStore) {
    const ORDERS: usize = 30;
    let orders = test.due_orders(ORDERS).await;
    let dispatching = tokio::spawn({
        let store = test.store.clone();
        async move {
            let mut moves = Vec::new();
            for _ in 0..ORDERS {
                let now = OffsetDateTime::now_utc();
                moves.extend(
                    store
                        .advance_due(now, 1, Duration::from_secs(3600))
                        .await
                        .unwrap(),
                );
            }
            moves
        }
    });
    let mut cancellations = HashMap::new();
    for &order_id in &orders {
        let outcome = test
            .store
            .cancel(order_id, OffsetDateTime::now_utc())
            .await
            .unwrap();
        cancellations.insert(order_id, outcome);
    }
    let moves = dispatching.await.unwrap();

    let late = cancellations
        .values()
        .filter(|outcome| **outcome == Cancellation::Late)
        .count();
    assert_eq!(moves.len(), late, "{cancellations:?}");
    eprintln!("{late} of {ORDERS} cancellations came after the dispatch");
    let emitted = if late > 0 {
        test.emitted(late).await
    } else {
        HashMap::new()
    };
    for order_id in orders {
        let shipment = test.store.shipment(order_id).await.unwrap().unwrap();
        let dispatched = emitted.get(&("OrderDispatched".to_owned(), order_id));
        match cancellations[&order_id] {
            Cancellation::Stopped => {
                assert_eq!(shipment.status, ShipmentStatus::Cancelled);
                assert_eq!(dispatched, None, "a stopped shipment left");
            }
            Cancellation::Late => {
                assert_eq!(shipment.status, ShipmentStatus::Dispatched);
                assert!(shipment.late_cancellation_at.is_some());
                assert_eq!(dispatched, Some(&1));
            }
            other => panic!("order {order_id}: {other:?}"),
        }
    }
}
