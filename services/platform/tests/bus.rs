//! The event bus keeps its promises on both implementations, against real
//! Redis and a real SQLite file: every group sees every event, deliveries
//! stay pending until acknowledged, idle ones are redelivered with their
//! attempt counted, poison messages end in the dead-letter stream, and
//! trimming removes only what every group is done with.

use std::{sync::Arc, time::Duration};

use eshop_platform::events::{
    ConsumerOptions, Event, EventBus, HandlerError, consume, redis::RedisBus, sqlite::SqliteBus,
};
use eshop_test_support::TestRedis;
use secrecy::SecretString;
use serde_json::json;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// A bus of a test's own, and what keeps its storage alive.
struct TestBus {
    bus: Arc<dyn EventBus>,
    _redis: Option<TestRedis>,
    _dir: Option<tempfile::TempDir>,
}

impl TestBus {
    async fn redis() -> Self {
        let redis = TestRedis::create().await;
        let bus = RedisBus::new(&SecretString::from(redis.url().to_owned()), redis.prefix())
            .expect("a Redis URL");
        Self {
            bus: Arc::new(bus),
            _redis: Some(redis),
            _dir: None,
        }
    }

    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let bus = SqliteBus::open(dir.path()).await.expect("the bus opens");
        Self {
            bus: Arc::new(bus),
            _redis: None,
            _dir: Some(dir),
        }
    }

    fn bus(&self) -> Arc<dyn EventBus> {
        self.bus.clone()
    }
}

const NOW: Duration = Duration::ZERO;
const LONG: Duration = Duration::from_secs(60);

fn order_paid(n: u32) -> Event {
    Event::new("OrderPaid", &json!({ "order": n }))
}

macro_rules! on_both_buses {
    ($($test:ident),* $(,)?) => {
        mod redis {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::TestBus::redis().await).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::TestBus::sqlite().await).await;
                }
            )*
        }
    };
}

on_both_buses!(
    every_group_sees_every_event_once_acknowledged,
    a_group_that_joins_late_still_reads_from_the_start,
    an_unacknowledged_delivery_is_redelivered_after_the_timeout,
    consumers_of_one_group_share_the_work,
    a_poison_message_ends_in_the_dead_letter_stream,
    trimming_removes_only_what_every_group_has_acknowledged_past_the_retention,
);

async fn every_group_sees_every_event_once_acknowledged(test: TestBus) {
    let bus = test.bus();
    bus.join("orders", "dispatch").await.unwrap();
    bus.join("orders", "payments").await.unwrap();
    for n in 0..3 {
        bus.publish("orders", &order_paid(n)).await.unwrap();
    }
    for group in ["dispatch", "payments"] {
        let deliveries = bus
            .receive("orders", group, "c1", 10, LONG, NOW)
            .await
            .unwrap();
        let orders: Vec<_> = deliveries
            .iter()
            .map(|d| d.event.payload["order"].clone())
            .collect();
        assert_eq!(orders, [json!(0), json!(1), json!(2)], "{group}");
        assert!(deliveries.iter().all(|delivery| delivery.attempt == 1));
        for delivery in &deliveries {
            bus.ack("orders", group, &delivery.message_id)
                .await
                .unwrap();
        }
        let again = bus
            .receive("orders", group, "c1", 10, NOW, NOW)
            .await
            .unwrap();
        assert!(
            again.is_empty(),
            "acknowledged deliveries are not redelivered"
        );
    }
    assert_eq!(bus.read_all("orders").await.unwrap().len(), 3);
}

async fn a_group_that_joins_late_still_reads_from_the_start(test: TestBus) {
    let bus = test.bus();
    let first = order_paid(1);
    bus.publish("orders", &first).await.unwrap();
    bus.join("orders", "late").await.unwrap();
    let deliveries = bus
        .receive("orders", "late", "c1", 10, LONG, NOW)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].event, first);
}

async fn an_unacknowledged_delivery_is_redelivered_after_the_timeout(test: TestBus) {
    let bus = test.bus();
    bus.join("orders", "dispatch").await.unwrap();
    let event = order_paid(7);
    bus.publish("orders", &event).await.unwrap();
    let first = bus
        .receive("orders", "dispatch", "crashes", 10, LONG, NOW)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    // Not yet idle long enough: nothing to hand out.
    let early = bus
        .receive("orders", "dispatch", "survivor", 10, LONG, NOW)
        .await
        .unwrap();
    assert!(early.is_empty());
    // Idle for longer than the timeout (zero here): another consumer gets it.
    let redelivered = bus
        .receive(
            "orders",
            "dispatch",
            "survivor",
            10,
            NOW,
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    assert_eq!(redelivered.len(), 1);
    assert_eq!(redelivered[0].event, event);
    assert_eq!(redelivered[0].attempt, 2);
    bus.ack("orders", "dispatch", &redelivered[0].message_id)
        .await
        .unwrap();
    assert!(
        bus.receive("orders", "dispatch", "survivor", 10, NOW, NOW)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn consumers_of_one_group_share_the_work(test: TestBus) {
    let bus = test.bus();
    bus.join("orders", "dispatch").await.unwrap();
    for n in 0..10 {
        bus.publish("orders", &order_paid(n)).await.unwrap();
    }
    let a = bus
        .receive("orders", "dispatch", "a", 6, LONG, NOW)
        .await
        .unwrap();
    let b = bus
        .receive("orders", "dispatch", "b", 6, LONG, NOW)
        .await
        .unwrap();
    assert_eq!((a.len(), b.len()), (6, 4));
    let mut seen: Vec<_> = a.iter().chain(&b).map(|d| d.event.id).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 10, "no event was handed to both");
}

async fn a_poison_message_ends_in_the_dead_letter_stream(test: TestBus) {
    let bus = test.bus();
    let poison = order_paid(13);
    let fine = order_paid(14);
    bus.publish("orders", &poison).await.unwrap();
    bus.publish("orders", &fine).await.unwrap();
    let stopping = CancellationToken::new();
    let handled = Arc::new(std::sync::Mutex::new(Vec::new()));
    let options = ConsumerOptions {
        redeliver_after: Duration::ZERO,
        max_attempts: 3,
        batch: 10,
        wait: Duration::from_millis(50),
        ..ConsumerOptions::default()
    };
    let consumer = tokio::spawn({
        let (bus, stopping, handled, poison_id) =
            (bus.clone(), stopping.clone(), handled.clone(), poison.id);
        consume(
            bus,
            "orders",
            "dispatch",
            "c1".to_owned(),
            options,
            stopping,
            move |event| {
                let handled = handled.clone();
                async move {
                    if event.id == poison_id {
                        return Err(HandlerError::Retry("this one always fails".to_owned()));
                    }
                    handled.lock().unwrap().push(event.id);
                    Ok(())
                }
            },
        )
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let dead = loop {
        let dead = bus.read_all("orders.dead").await.unwrap();
        if !dead.is_empty() {
            break dead;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing was dead-lettered in 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stopping.cancel();
    consumer.await.unwrap();
    assert_eq!(dead, [poison]);
    assert_eq!(
        *handled.lock().unwrap(),
        [fine.id],
        "the good event was handled once"
    );
    let left = bus
        .receive(
            "orders",
            "dispatch",
            "c1",
            10,
            Duration::ZERO,
            Duration::ZERO,
        )
        .await
        .unwrap();
    assert!(left.is_empty(), "nothing stays pending");
}

/// Receives up to `max` new deliveries of `group` and acknowledges the
/// first `acknowledged` of them.
async fn take(bus: &dyn EventBus, group: &str, max: usize, acknowledged: usize) {
    let deliveries = bus
        .receive("orders", group, group, max, LONG, NOW)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), max, "{group} receives {max}");
    for delivery in &deliveries[..acknowledged] {
        bus.ack("orders", group, &delivery.message_id)
            .await
            .unwrap();
    }
}

async fn trimming_removes_only_what_every_group_has_acknowledged_past_the_retention(test: TestBus) {
    let bus = test.bus();
    let everything = OffsetDateTime::now_utc() + Duration::from_secs(60);
    bus.join("orders", "dispatch").await.unwrap();
    bus.join("orders", "payments").await.unwrap();
    let events: Vec<Event> = (0..6).map(order_paid).collect();
    for event in &events {
        bus.publish("orders", event).await.unwrap();
    }
    // dispatch is done with all six; payments acknowledged the first two,
    // holds two pending and has not received the last two.
    take(bus.as_ref(), "dispatch", 6, 6).await;
    take(bus.as_ref(), "payments", 4, 2).await;

    let long_ago = OffsetDateTime::now_utc() - Duration::from_secs(3600);
    assert_eq!(
        bus.trim("orders", long_ago).await.unwrap(),
        0,
        "within the retention"
    );
    assert_eq!(bus.trim("orders", everything).await.unwrap(), 2);
    assert_eq!(bus.read_all("orders").await.unwrap(), events[2..]);

    // The pending two are redelivered whole after the trim.
    let redelivered = bus
        .receive("orders", "payments", "payments", 2, NOW, NOW)
        .await
        .unwrap();
    assert_eq!(
        redelivered
            .iter()
            .map(|delivery| delivery.event.clone())
            .collect::<Vec<_>>(),
        events[2..4]
    );
    for delivery in &redelivered {
        bus.ack("orders", "payments", &delivery.message_id)
            .await
            .unwrap();
    }
    take(bus.as_ref(), "payments", 2, 2).await;
    bus.trim("orders", everything).await.unwrap();
    let left = bus.read_all("orders").await.unwrap();
    assert!(
        left.len() <= 1,
        "at most the last delivered message is kept: {left:?}"
    );

    // A group that joined but has not read holds everything after.
    bus.join("orders", "audit").await.unwrap();
    for event in &events {
        bus.publish("orders", event).await.unwrap();
    }
    take(bus.as_ref(), "dispatch", 6, 6).await;
    take(bus.as_ref(), "payments", 6, 6).await;
    assert_eq!(bus.trim("orders", everything).await.unwrap(), 0);
    assert_eq!(bus.read_all("orders").await.unwrap().len(), left.len() + 6);
}
