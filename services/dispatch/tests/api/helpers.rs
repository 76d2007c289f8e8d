//! Running dispatch for a test, on either backend, next to the event bus it
//! shares with the test: the test plays the orders service, publishing
//! order events on the orders stream, and reads what dispatch emits on the
//! dispatch stream. Also typed requests against dispatch's API, and checks
//! of what the dispatch stream holds.
//!
//! A replica runs either in the test's runtime, where dropping it stops it
//! gracefully, or in a runtime of its own, which [`TestApp::crash`] drops
//! with every task in it, wherever each was: the closest an in-process test
//! gets to killing the process.

use std::{
    collections::HashMap,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use eshop_contracts::{
    DISPATCH_STREAM, Destination, EventKind, ORDERS_STREAM, OrderCancelled, OrderDelivered,
    OrderDispatched, OrderPaid,
};
use eshop_dispatch::DispatchSettings;
use eshop_platform::{
    events::{self, Event, EventBus},
    settings::Rate,
};
use eshop_test_support::{INTERNAL_TOKEN, RunningService, TestBackend, TestKeyValueStore};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tokio::runtime::Runtime;
use uuid::Uuid;

/// The delays of every test: short, and far enough apart to tell apart.
pub(crate) const DISPATCH_DELAY: Duration = Duration::from_millis(200);
pub(crate) const DELIVERY_DELAY: Duration = Duration::from_millis(400);
/// How long a delivery whose handling failed waits to be delivered again.
const REDELIVER_AFTER: Duration = Duration::from_millis(100);
/// The longest a test waits for what it expects.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// How a test wants dispatch to run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub(crate) dispatch_delay: Duration,
    pub(crate) fault_error_rate: Rate,
    /// Run the replica in a runtime of its own, so the test can crash it.
    pub(crate) crashable: bool,
    /// How long finished shipments and acknowledged messages are kept.
    pub(crate) retention: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            dispatch_delay: DISPATCH_DELAY,
            fault_error_rate: Rate::ZERO,
            crashable: false,
            retention: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

/// A replica in a runtime of its own.
struct Crashable {
    runtime: Option<Runtime>,
}

impl Crashable {
    /// Builds and runs dispatch on a new runtime; returns it with its
    /// address and its admin address.
    fn start(settings: DispatchSettings) -> (Self, String, String) {
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            let application = runtime
                .block_on(eshop_dispatch::build(settings))
                .expect("dispatch builds");
            let address = format!("http://{}", application.address().expect("an address"));
            let admin = format!(
                "http://{}",
                application.admin_address().expect("an address")
            );
            runtime.spawn(application.run_until_stopped(std::future::pending()));
            (
                Self {
                    runtime: Some(runtime),
                },
                address,
                admin,
            )
        })
        .join()
        .expect("starting a replica")
    }

    /// Drops every task of the replica where it stands.
    fn crash(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Crashable {
    fn drop(&mut self) {
        self.crash();
    }
}

/// A running dispatch.
enum Replica {
    /// Stops when dropped.
    Graceful {
        _running: RunningService,
    },
    Crashable(Crashable),
}

/// Dispatch, its stores and the bus, of a test's own.
pub(crate) struct TestApp {
    pub(crate) backend: TestBackend,
    /// The current replica's base URL.
    pub(crate) address: String,
    /// The current replica's probes and metrics.
    pub(crate) admin: String,
    pub(crate) http: reqwest::Client,
    /// The bus dispatch consumes from and publishes to.
    pub(crate) bus: Arc<dyn EventBus>,
    settings: DispatchSettings,
    replica: Option<Replica>,
    // Dropped after the replicas, which stop first.
    _store: TestKeyValueStore,
}

pub(crate) async fn spawn_with(backend: TestBackend, options: Options) -> TestApp {
    let store = TestKeyValueStore::create(backend).await;
    let settings = DispatchSettings {
        server: eshop_test_support::server_settings(),
        store: store.settings(),
        dispatch_delay: options.dispatch_delay,
        delivery_delay: DELIVERY_DELAY,
        redeliver_after: REDELIVER_AFTER,
        fault_error_rate: options.fault_error_rate,
        retention: options.retention,
    };
    // The bus on the store dispatch uses: the same Redis and key prefix, or
    // the same data directory.
    let bus = events::open(&settings.store).await.expect("the bus opens");
    let mut app = TestApp {
        backend,
        address: String::new(),
        admin: String::new(),
        http: reqwest::Client::new(),
        bus,
        settings,
        replica: None,
        _store: store,
    };
    app.start(options.crashable).await;
    app
}

impl TestApp {
    /// Starts a replica as the current one, and waits until it is ready.
    async fn start(&mut self, crashable: bool) {
        let (replica, address, admin) = if crashable {
            let (replica, address, admin) = Crashable::start(self.settings.clone());
            eshop_test_support::wait_until_ready(&admin).await;
            (Replica::Crashable(replica), address, admin)
        } else {
            let service = self.another_replica().await;
            let (address, admin) = (service.address.clone(), service.admin.clone());
            (Replica::Graceful { _running: service }, address, admin)
        };
        self.replica = Some(replica);
        self.address = address;
        self.admin = admin;
    }

    /// Another replica on the same stores and bus, ready; dropping it stops it.
    pub(crate) async fn another_replica(&self) -> RunningService {
        let application = eshop_dispatch::build(self.settings.clone())
            .await
            .expect("dispatch builds");
        eshop_test_support::run(application).await
    }

    /// Kills the current replica, which must be crashable, mid-whatever.
    pub(crate) fn crash(&mut self) {
        match self.replica.take() {
            Some(Replica::Crashable(mut replica)) => replica.crash(),
            _ => panic!("only a crashable replica can crash"),
        }
    }

    /// Starts a new current replica on the same stores and bus.
    pub(crate) async fn restart(&mut self) {
        self.start(false).await;
    }

    pub(crate) async fn publish(&self, event: &Event) {
        self.bus
            .publish(ORDERS_STREAM, event)
            .await
            .expect("publishing on the orders stream");
    }

    /// Publishes an `OrderPaid` of a new order; returns the order's id.
    pub(crate) async fn pay(&self) -> Uuid {
        let order_id = Uuid::new_v4();
        self.publish(&order_paid(order_id)).await;
        order_id
    }

    /// What dispatch emitted so far, oldest first.
    pub(crate) async fn dispatch_stream(&self) -> Vec<Event> {
        self.bus
            .read_all(DISPATCH_STREAM)
            .await
            .expect("reading the dispatch stream")
    }

    /// Waits until the dispatch stream holds an `OrderDelivered` of every
    /// order of `orders`; returns the stream then.
    pub(crate) async fn all_delivered(&self, orders: &[Uuid]) -> Vec<Event> {
        eventually(&format!("{} orders delivered", orders.len()), || async {
            let events = self.dispatch_stream().await;
            let shipped = Shipped::of(&events);
            orders
                .iter()
                .all(|order| !shipped.delivered(*order).is_empty())
                .then_some(events)
        })
        .await
    }

    pub(crate) async fn internal_get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.address))
            .header("x-internal-token", INTERNAL_TOKEN)
            .send()
            .await
            .expect("dispatch answers")
    }

    /// The order's shipment as the API shows it, `None` when unknown.
    pub(crate) async fn shipment(&self, order_id: Uuid) -> Option<Value> {
        let response = self
            .internal_get(&format!("/internal/shipments/{order_id}"))
            .await;
        match response.status() {
            StatusCode::NOT_FOUND => None,
            StatusCode::OK => Some(response.json().await.expect("a JSON shipment")),
            status => panic!("GET shipment {order_id}: {status}"),
        }
    }

    /// Waits until the order's shipment is in `status`; returns it then.
    pub(crate) async fn shipment_in(&self, order_id: Uuid, status: &str) -> Value {
        eventually(&format!("order {order_id} {status}"), || async {
            self.shipment(order_id)
                .await
                .filter(|shipment| shipment["status"] == status)
        })
        .await
    }

    pub(crate) async fn summary(&self) -> Value {
        let response = self.internal_get("/internal/shipments/summary").await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("a JSON summary")
    }

    /// A counter of the replica whose admin address is `admin`, by its
    /// full name.
    pub(crate) async fn counter_at(&self, admin: &str, name: &str) -> u64 {
        let text = self
            .http
            .get(format!("{admin}/metrics"))
            .send()
            .await
            .expect("dispatch answers")
            .text()
            .await
            .expect("a text body");
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{name} is not among the metrics:\n{text}"))
            .trim()
            .parse()
            .expect("a count")
    }

    /// A counter of the current replica.
    pub(crate) async fn counter(&self, name: &str) -> u64 {
        self.counter_at(&self.admin, name).await
    }
}

pub(crate) fn order_paid(order_id: Uuid) -> Event {
    Event::new(
        OrderPaid::KIND,
        &OrderPaid {
            order_id,
            user_id: Uuid::new_v4(),
            checkout_id: Uuid::new_v4(),
            total_cents: 4_999,
            destination: Destination {
                city: "Lyon".to_owned(),
                country_code: "FR".to_owned(),
                estimated_days: 2,
            },
        },
    )
}

pub(crate) fn order_cancelled(order_id: Uuid) -> Event {
    Event::new(
        OrderCancelled::KIND,
        &OrderCancelled {
            order_id,
            user_id: Uuid::new_v4(),
            checkout_id: Uuid::new_v4(),
            charge_id: Some(Uuid::new_v4()),
            total_cents: 4_999,
        },
    )
}

/// Polls `probe` every 20 ms until it gives a value, for at most
/// [`PATIENCE`].
///
/// # Panics
/// When it gives none in time, naming `what` was awaited.
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "waited {PATIENCE:?} for {what} in vain"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A time of the API or of an event.
pub(crate) fn time(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().expect("a time"), &Rfc3339).expect("an RFC 3339 time")
}

/// What the dispatch stream says of each order: its events, in stream
/// order, with where they stand in the stream.
#[derive(Debug, Default)]
pub(crate) struct Shipped {
    dispatched: HashMap<Uuid, Vec<(usize, Event)>>,
    delivered: HashMap<Uuid, Vec<(usize, Event)>>,
}

impl Shipped {
    pub(crate) fn of(events: &[Event]) -> Self {
        let mut shipped = Self::default();
        for (position, event) in events.iter().enumerate() {
            let entry = (position, event.clone());
            match event.kind.as_str() {
                OrderDispatched::KIND => {
                    let payload: OrderDispatched = event.payload().expect("an OrderDispatched");
                    shipped
                        .dispatched
                        .entry(payload.order_id)
                        .or_default()
                        .push(entry);
                }
                OrderDelivered::KIND => {
                    let payload: OrderDelivered = event.payload().expect("an OrderDelivered");
                    shipped
                        .delivered
                        .entry(payload.order_id)
                        .or_default()
                        .push(entry);
                }
                other => panic!("dispatch emitted a {other}"),
            }
        }
        shipped
    }

    pub(crate) fn dispatched(&self, order_id: Uuid) -> &[(usize, Event)] {
        self.dispatched.get(&order_id).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn delivered(&self, order_id: Uuid) -> &[(usize, Event)] {
        self.delivered.get(&order_id).map_or(&[], Vec::as_slice)
    }

    /// Orders the stream says anything of.
    pub(crate) fn orders(&self) -> usize {
        let mut orders: Vec<_> = self
            .dispatched
            .keys()
            .chain(self.delivered.keys())
            .collect();
        orders.sort();
        orders.dedup();
        orders.len()
    }
}

/// Asserts that the dispatch stream holds, for each of `orders` and
/// nothing else, one `OrderDispatched` and then one `OrderDelivered`.
///
/// With `copies_allowed`, an event may appear more than once with the same
/// id: the SQLite outbox relay publishes again what a crash kept it from
/// marking published, and consumers recognise the copy by its id.
pub(crate) fn assert_shipped_once(events: &[Event], orders: &[Uuid], copies_allowed: bool) {
    let shipped = Shipped::of(events);
    assert_eq!(
        shipped.orders(),
        orders.len(),
        "dispatch emitted events of orders nobody paid for"
    );
    for &order_id in orders {
        for (kind, events) in [
            ("OrderDispatched", shipped.dispatched(order_id)),
            ("OrderDelivered", shipped.delivered(order_id)),
        ] {
            let mut ids: Vec<Uuid> = events.iter().map(|(_, event)| event.id).collect();
            if !copies_allowed {
                assert_eq!(ids.len(), 1, "{kind} of {order_id}: {events:?}");
            }
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), 1, "{kind} of {order_id}: {events:?}");
        }
        let (dispatched_at, _) = shipped.dispatched(order_id)[0];
        let (delivered_at, _) = shipped.delivered(order_id)[0];
        assert!(
            dispatched_at < delivered_at,
            "order {order_id} was delivered before it was dispatched"
        );
    }
}

/// Asserts the shared error shape: status and code.
pub(crate) async fn assert_error(response: Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("errors are JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|message| !message.is_empty()),
        "{body}"
    );
}
