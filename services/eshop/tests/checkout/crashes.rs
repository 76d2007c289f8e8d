//! Crashes of real processes.
//!
//! Payments runs as `eshop serve payments`, with the fault knob
//! `ESHOP_FAULT_PAUSE_AT` stopping checkouts right after a step's call
//! returned and before its outcome was saved, the worst moment to die. The
//! test SIGKILLs it there, at each step in turn, and starts it again: the
//! checkout ends completed exactly once, and the invariants hold.
//!
//! Dispatch runs as `eshop serve dispatch` and is SIGKILLed while it is
//! shipping a batch of paid orders: after a restart every order is
//! dispatched and delivered, and no shipment event is emitted twice.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{BufRead, BufReader},
    net::{SocketAddr, TcpListener},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use eshop_contracts::DISPATCH_STREAM;
use eshop_payments::domain::Step;
use eshop_platform::{events, settings::Settings};
use eshop_test_support::TestBackend;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestShop, Timing, checkout_body, spawn_with, wallet};

/// A child process that is killed (SIGKILL) when dropped, even when the
/// test panics.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `eshop serve <service>` with the environment `settings` render.
fn start(service: &str, settings: &impl Settings) -> Killed {
    Command::new(env!("CARGO_BIN_EXE_eshop"))
        .args(["serve", service])
        .env_clear()
        .envs(
            settings
                .render()
                .iter()
                .map(|(var, value)| (var.name, value)),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map(Killed)
        .expect("eshop starts")
}

/// `eshop serve payments` on `address`, with its probes on `admin`,
/// pausing after `pause_at` if given.
fn start_payments(
    shop: &TestShop,
    (address, admin): (SocketAddr, SocketAddr),
    pause_at: Option<Step>,
) -> Killed {
    let mut settings = shop.config.payments(&shop.shop);
    settings.server.listen = address;
    settings.server.admin_listen = admin;
    settings.server.log = "warn,eshop_payments=info".to_owned();
    settings.fault_pause_at = pause_at;
    start("payments", &settings)
}

fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// Reads the process's JSON logs until the pause knob has fired.
fn wait_until_paused(payments: &mut Killed) {
    let stdout = payments.0.stdout.take().expect("stdout is piped");
    let paused = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("fault knob: paused"));
    assert!(paused, "payments exited before pausing");
}

async fn crash_at_every_step(backend: TestBackend) {
    let mut shop = spawn_with(backend, Timing::default(), &["payments"]).await;
    let (address, admin) = (free_address(), free_address());
    shop.shop.add_elsewhere("payments", address);
    let payments_url = format!("http://{address}");
    let payments_admin = format!("http://{admin}");

    let mut previous: Option<Killed> = None;
    for step in Step::ALL {
        let customer = shop.customer().await;
        shop.top_up(&customer, 300_000).await;
        shop.add_to_cart(&customer, "KIT-GRIPPER", 1).await;
        let stock = shop.stock("KIT-GRIPPER").await;
        let key = format!("crash-at-{}", step.as_str());

        drop(previous.take());
        let mut payments = start_payments(&shop, (address, admin), Some(step));
        eshop_test_support::wait_until_ready(&payments_admin).await;
        let attempt = {
            let (shop_http, customer, key) = (shop.http.clone(), customer.clone(), key.clone());
            let checkout_url = format!("{payments_url}/v1/checkouts");
            tokio::spawn(async move {
                shop_http
                    .post(checkout_url)
                    .bearer_auth(&customer.token)
                    .header("idempotency-key", key)
                    .json(&checkout_body(&wallet()))
                    .send()
                    .await
            })
        };
        let payments = tokio::task::spawn_blocking(move || {
            wait_until_paused(&mut payments);
            payments
        })
        .await
        .expect("the log reader finishes");
        drop(payments);
        assert!(
            attempt.await.expect("the request task ends").is_err(),
            "the customer's request died with the process"
        );

        // Started again without the knob, payments resumes the checkout
        // once the dead process's lease runs out; the customer's retry with
        // the same key gets the outcome.
        let restarted = start_payments(&shop, (address, admin), None);
        eshop_test_support::wait_until_ready(&payments_admin).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let outcome = loop {
            let response = shop.checkout(&customer, &key, wallet()).await;
            if response.status() != StatusCode::ACCEPTED {
                break response;
            }
            assert!(
                Instant::now() < deadline,
                "the checkout crashed at {step:?} never ended"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let status = outcome.status();
        let checkout: Value = outcome.json().await.expect("JSON");
        assert_eq!(status, StatusCode::CREATED, "crash at {step:?}: {checkout}");
        let total = checkout["total_cents"].as_i64().expect("a total");
        assert_eq!(
            shop.stock("KIT-GRIPPER").await,
            stock - 1,
            "crash at {step:?}: stock taken once"
        );
        assert_eq!(
            shop.balance(&customer).await,
            300_000 - total,
            "crash at {step:?}: charged once"
        );
        assert_eq!(shop.cart_items(&customer).await, 0, "crash at {step:?}");
        let figures = shop.settle().await;
        eprintln!(
            "crash at {}: completed after restart; {figures}",
            step.as_str()
        );
        previous = Some(restarted);
    }
    let figures = shop.settle().await;
    assert_eq!(figures.orders, 7);
    assert_eq!(figures.completed_checkouts, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_killed_at_every_step_completes_each_checkout_once_on_postgres() {
    crash_at_every_step(TestBackend::Server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_killed_at_every_step_completes_each_checkout_once_on_sqlite() {
    crash_at_every_step(TestBackend::Embedded).await;
}

/// Events of `kind` on the dispatch stream, by order: the distinct event
/// ids seen for each.
async fn shipment_events(shop: &TestShop, kind: &str) -> BTreeMap<String, BTreeSet<String>> {
    let bus = events::open(&shop.config.key_value_store())
        .await
        .expect("the bus opens");
    let mut by_order: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for event in bus
        .read_all(DISPATCH_STREAM)
        .await
        .expect("the stream reads")
    {
        if event.kind == kind {
            let order = event.payload["order_id"]
                .as_str()
                .expect("an order id")
                .to_owned();
            by_order
                .entry(order)
                .or_default()
                .insert(event.id.to_string());
        }
    }
    by_order
}

async fn dispatch_killed_mid_stream(backend: TestBackend) {
    let timing = Timing {
        dispatch_delay: Duration::from_millis(800),
        ..Timing::default()
    };
    let shop = spawn_with(backend, timing, &["dispatch"]).await;
    let mut settings = shop.config.dispatch();
    settings.server.listen = free_address();
    settings.server.admin_listen = free_address();
    settings.delivery_delay = Duration::from_millis(800);
    let dispatch = start("dispatch", &settings);
    eshop_test_support::wait_until_ready(&format!("http://{}", settings.server.admin_listen)).await;

    let shop = &shop;
    let orders = futures::future::join_all((0..6).map(|n| async move {
        let customer = shop.customer().await;
        shop.top_up(&customer, 300_000).await;
        shop.add_to_cart(&customer, "KIT-SERVO-PACK", 1).await;
        let (status, checkout) = shop
            .checkout_patiently(&customer, &format!("ship-{n}"), wallet())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{checkout}");
        (
            customer,
            checkout["order_id"].as_str().expect("an order").to_owned(),
        )
    }))
    .await;

    // Kill it once it has started shipping, before it has finished.
    let deadline = Instant::now() + Duration::from_secs(30);
    while shipment_events(shop, "OrderDispatched").await.is_empty() {
        assert!(Instant::now() < deadline, "nothing was dispatched");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered_before = shipment_events(shop, "OrderDelivered").await.len();
    drop(dispatch);
    eprintln!("dispatch killed with {delivered_before} of 6 orders delivered");
    assert!(delivered_before < 6, "the kill came mid-stream");

    let _restarted = start("dispatch", &settings);
    for (customer, order) in &orders {
        shop.wait_for_order(customer, order, "delivered").await;
    }
    let dispatched = shipment_events(shop, "OrderDispatched").await;
    let delivered = shipment_events(shop, "OrderDelivered").await;
    for (_, order) in &orders {
        assert_eq!(
            dispatched.get(order).map(BTreeSet::len),
            Some(1),
            "order {order} dispatched once"
        );
        assert_eq!(
            delivered.get(order).map(BTreeSet::len),
            Some(1),
            "order {order} delivered once"
        );
    }
    shop.settle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_killed_mid_stream_loses_and_repeats_nothing_on_redis() {
    dispatch_killed_mid_stream(TestBackend::Server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_killed_mid_stream_loses_and_repeats_nothing_on_sqlite() {
    dispatch_killed_mid_stream(TestBackend::Embedded).await;
}
