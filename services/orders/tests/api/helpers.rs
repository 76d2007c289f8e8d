//! Running the orders service for a test, on its own store and its own
//! event bus, and typed requests against it.
//!
//! On the server backend the orders live in a fresh PostgreSQL database and
//! the bus on a fresh Redis key prefix; on the embedded backend one
//! temporary directory holds the SQLite orders file and the SQLite bus. The
//! test holds a bus of its own on the same storage, to publish dispatch's
//! events and to read what orders published.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use eshop_contracts::{DISPATCH_STREAM, EventKind, ORDERS_STREAM, OrderDelivered, OrderDispatched};
use eshop_orders::OrdersSettings;
use eshop_platform::{
    events::{Event, EventBus, redis::RedisBus, sqlite::SqliteBus},
    settings::{KeyValueStore, SqlStore},
};
use eshop_test_support::{
    INTERNAL_TOKEN, RunningService, TestBackend, TestKeys, TestRedis, TestSqlStore,
};
use reqwest::{Method, Response, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

pub(crate) use eshop_test_support::assert_error;

/// How long a test waits for something that happens in the background.
const PATIENCE: Duration = Duration::from_secs(15);

/// The orders service of a test, and the bus it talks on.
pub(crate) struct TestApp {
    // Fields drop in order: the service stops before its storage goes.
    service: RunningService,
    pub(crate) http: reqwest::Client,
    pub(crate) keys: TestKeys,
    /// The same bus the service uses.
    pub(crate) bus: Arc<dyn EventBus>,
    _redis: Option<TestRedis>,
    _store: TestSqlStore,
}

/// A customer, with a valid token.
pub(crate) struct TestUser {
    pub(crate) id: Uuid,
    pub(crate) token: String,
}

pub(crate) async fn spawn(backend: TestBackend) -> TestApp {
    let store = TestSqlStore::create(backend).await;
    let (bus_settings, bus, redis): (KeyValueStore, Arc<dyn EventBus>, _) = match store.settings() {
        SqlStore::Postgres { .. } => {
            let redis = TestRedis::create().await;
            let url = SecretString::from(redis.url().to_owned());
            let bus = RedisBus::new(&url, redis.prefix()).expect("a Redis URL");
            let settings = KeyValueStore::Redis {
                url,
                key_prefix: redis.prefix().to_owned(),
            };
            (settings, Arc::new(bus), Some(redis))
        }
        SqlStore::Sqlite { data_dir } => {
            let bus = SqliteBus::open(&data_dir).await.expect("the bus opens");
            (KeyValueStore::Sqlite { data_dir }, Arc::new(bus), None)
        }
    };
    let keys = TestKeys::generate();
    let settings = OrdersSettings {
        server: eshop_test_support::server_settings(),
        store: store.settings(),
        jwt_public_key: keys.public_pem.clone(),
        bus: bus_settings,
        retention: Duration::from_secs(7 * 24 * 60 * 60),
    };
    let application = eshop_orders::build(settings)
        .await
        .expect("the orders service builds");
    TestApp {
        service: eshop_test_support::run(application).await,
        http: reqwest::Client::new(),
        keys,
        bus,
        _redis: redis,
        _store: store,
    }
}

/// Polls `check` until it gives a value, for at most [`PATIENCE`].
///
/// # Panics
/// When it gives none in time, saying what was awaited.
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "waited {PATIENCE:?} for {what} in vain"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A valid `POST /internal/orders` body for `user_id`, with a checkout of
/// its own: two robot arms at $19.99 and three gears at $2.50, shipped for
/// $4.99 (items $47.48, total $52.47).
pub(crate) fn order_body(user_id: Uuid) -> Value {
    json!({
        "checkout_id": Uuid::new_v4(),
        "user_id": user_id,
        "lines": [
            {"sku": "ROBOT-ARM-2", "name": "Robot arm", "quantity": 2, "unit_price_cents": 1999},
            {"sku": "GEAR-7", "name": "Gear", "quantity": 3, "unit_price_cents": 250},
        ],
        "shipping": {
            "name": "Ada Lovelace",
            "line1": "1 Harbour Street",
            "line2": "Floor 3",
            "city": "Rotterdam",
            "postal_code": "3011 AA",
            "country_code": "NL",
            "city_id": "nl-rotterdam",
            "quote_id": Uuid::new_v4(),
            "cost_cents": 499,
            "estimated_days": 2,
        },
        "payment": {"charge_id": Uuid::new_v4(), "method": "wallet"},
        "reservation_id": Uuid::new_v4(),
    })
}

/// What [`order_body`] totals to, in cents.
pub(crate) const ITEMS_TOTAL: i64 = 2 * 1999 + 3 * 250;
pub(crate) const TOTAL: i64 = ITEMS_TOTAL + 499;

/// The order's id in an order or summary body.
pub(crate) fn id_of(order: &Value) -> Uuid {
    uuid_of(&order["id"])
}

/// A UUID in a body.
pub(crate) fn uuid_of(value: &Value) -> Uuid {
    value
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("a UUID")
}

/// The statuses of an order's history, oldest first.
pub(crate) fn history_of(order: &Value) -> Vec<String> {
    order["history"]
        .as_array()
        .expect("a history")
        .iter()
        .map(|change| change["status"].as_str().expect("a status").to_owned())
        .collect()
}

/// An RFC 3339 time in a body.
pub(crate) fn time_of(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(
        value.as_str().expect("a time"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("an RFC 3339 time")
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.service.address)
    }

    /// `GET` of the service's probes and metrics, on its admin address.
    pub(crate) async fn admin_get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.service.admin))
            .send()
            .await
            .expect("orders answers")
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("orders answers")
    }

    /// A new customer.
    pub(crate) fn user(&self) -> TestUser {
        let id = Uuid::new_v4();
        TestUser {
            id,
            token: self.keys.token_for(id),
        }
    }

    /// A call with the internal credential.
    pub(crate) async fn internal(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("x-internal-token", INTERNAL_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("orders answers")
    }

    /// `POST /internal/orders`.
    pub(crate) async fn create(&self, body: &Value) -> Response {
        self.internal(Method::POST, "/internal/orders", Some(body.clone()))
            .await
    }

    /// Places an order of [`order_body`] for `user`; returns it.
    pub(crate) async fn place(&self, user: &TestUser) -> Value {
        self.place_body(&order_body(user.id)).await
    }

    /// Creates the order `body` describes, expecting 201; returns it.
    pub(crate) async fn place_body(&self, body: &Value) -> Value {
        let response = self.create(body).await;
        let status = response.status();
        let order: Value = response.json().await.expect("a JSON body");
        assert_eq!(status, StatusCode::CREATED, "{order}");
        order
    }

    /// A call as `user`, with their bearer token.
    pub(crate) async fn as_user(&self, method: Method, path: &str, user: &TestUser) -> Response {
        self.with_token(method, path, &user.token).await
    }

    /// A call with `authorization: Bearer <token>`.
    pub(crate) async fn with_token(&self, method: Method, path: &str, token: &str) -> Response {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("orders answers")
    }

    /// `GET /v1/orders/{id}` as `user`, expecting 200.
    pub(crate) async fn order(&self, user: &TestUser, id: Uuid) -> Value {
        let response = self
            .as_user(Method::GET, &format!("/v1/orders/{id}"), user)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("a JSON body")
    }

    /// `POST /v1/orders/{id}/{action}` as `user`: cancel or return.
    pub(crate) async fn act(&self, user: &TestUser, id: Uuid, action: &str) -> Response {
        self.as_user(Method::POST, &format!("/v1/orders/{id}/{action}"), user)
            .await
    }

    /// Waits until `user`'s order `id` is `status`; returns it.
    pub(crate) async fn await_status(&self, user: &TestUser, id: Uuid, status: &str) -> Value {
        eventually(&format!("order {id} to be {status}"), || async {
            let order = self.order(user, id).await;
            (order["status"] == status).then_some(order)
        })
        .await
    }

    /// What orders published about order `id` so far, oldest first.
    pub(crate) async fn events_about(&self, id: Uuid) -> Vec<Event> {
        self.bus
            .read_all(ORDERS_STREAM)
            .await
            .expect("the orders stream reads")
            .into_iter()
            .filter(|event| event.payload["order_id"] == id.to_string())
            .collect()
    }

    /// Waits until orders published `count` events about order `id`.
    pub(crate) async fn await_events(&self, id: Uuid, count: usize) -> Vec<Event> {
        eventually(&format!("{count} events about order {id}"), || async {
            let events = self.events_about(id).await;
            (events.len() >= count).then_some(events)
        })
        .await
    }

    /// Publishes `event` on dispatch's stream, as dispatch would.
    pub(crate) async fn publish_dispatch(&self, event: &Event) {
        self.bus
            .publish(DISPATCH_STREAM, event)
            .await
            .expect("publishing works");
    }

    /// Places an order for a user of its own and waits until its events
    /// are published; returns the user and the order's id. Everything
    /// enqueued before has been published by then: the relay publishes in
    /// order.
    pub(crate) async fn settle_outbox(&self) -> (TestUser, Uuid) {
        let user = self.user();
        let marker = id_of(&self.place(&user).await);
        self.await_events(marker, 2).await;
        (user, marker)
    }

    /// Has dispatch report an order of its own dispatched, and waits until
    /// orders applied it. Everything published on dispatch's stream before
    /// has been handled by then: the consumer handles the stream in order.
    /// The outbox is settled too.
    pub(crate) async fn settle_dispatch_stream(&self) {
        let (user, marker) = self.settle_outbox().await;
        self.publish_dispatch(&dispatched(marker, "MARKER")).await;
        self.await_status(&user, marker, "dispatched").await;
    }

    /// The body of `GET /internal/orders/summary`.
    pub(crate) async fn summary(&self) -> Value {
        let response = self
            .internal(Method::GET, "/internal/orders/summary", None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("a JSON body")
    }
}

/// A whole second, which every store keeps exactly.
pub(crate) fn whole_second(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(0).expect("zero nanoseconds is valid")
}

/// Dispatch's `OrderDispatched` for order `id`.
pub(crate) fn dispatched(id: Uuid, tracking_number: &str) -> Event {
    Event::new(
        OrderDispatched::KIND,
        &OrderDispatched {
            order_id: id,
            tracking_number: tracking_number.to_owned(),
            dispatched_at: whole_second(OffsetDateTime::now_utc()),
        },
    )
}

/// Dispatch's `OrderDelivered` for order `id`.
pub(crate) fn delivered(id: Uuid) -> Event {
    Event::new(
        OrderDelivered::KIND,
        &OrderDelivered {
            order_id: id,
            delivered_at: whole_second(OffsetDateTime::now_utc()),
        },
    )
}
