//! The whole shop from the image, every service in its own container,
//! finding the others by the Service names the operator rendered: a
//! customer checks out through the gateway, the order is paid, and the
//! dispatch service (another container, over Redis Streams) ships it.

use std::time::Duration;

use eshop_operator::build::service_deployment::SERVICES;
use eshop_testbed::shopper::{self, Shopper};

use crate::{cluster::LoopbackCluster, podman::podman_ok};

/// How long the saga and the events between containers may take.
const SETTLE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the image: tests/run's image phase builds it and runs these"]
async fn a_checkout_through_the_gateway_with_every_service_in_its_own_container() {
    let cluster = LoopbackCluster::new().await;
    let containers: Vec<_> = SERVICES
        .iter()
        .map(|service| (service.name, cluster.start(service.name)))
        .collect();
    for (service, container) in &containers {
        let (address, path) = cluster.readiness(service);
        let waited = container.until_ready(address, &path).await;
        println!("{service:<9} ready at http://{address}, {waited:.1?} after podman run");
    }
    let running = podman_ok(&[
        "ps",
        "--filter",
        &format!("label={}", cluster.label()),
        "--format",
        "{{.Command}}",
    ]);
    let mut commands: Vec<_> = running.lines().map(str::trim).collect();
    commands.sort_unstable();
    let mut expected: Vec<_> = SERVICES
        .iter()
        .map(|service| format!("serve {}", service.name))
        .collect();
    expected.sort_unstable();
    assert_eq!(commands, expected, "one container per service");

    let gateway = cluster.url("gateway");
    let shopper = Shopper::register(&gateway).await.expect("registering");
    shopper.top_up(100_000).await.expect("topping up");
    shopper
        .add_to_cart(shopper::SKU, 1)
        .await
        .expect("adding to the cart");
    let order = shopper.check_out().await.expect("checking out");
    let paid = shopper
        .wait_for_order(&order, &["paid", "dispatched"], SETTLE)
        .await
        .expect("the order is paid");
    println!("checkout through {gateway}: order {order} is {paid}");
    let dispatched = shopper
        .wait_for_order(&order, &["dispatched", "delivered"], SETTLE)
        .await
        .expect("the dispatch service ships the order");
    println!("order {order} is {dispatched}");
}
