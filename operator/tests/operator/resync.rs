//! A converged shop costs the API server nothing: a fresh operator, which
//! lists everything and reconciles every shop from scratch, finds the shop
//! as it wants it and makes zero write requests.

use eshop_operator::crd::EShop;
use kube::Api;

use crate::support::{Operator, apply_minimal, eventually, namespace, testbed, until_ready};

#[tokio::test]
async fn a_converged_shop_makes_no_write_request_on_resync() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "resync").await;
    let client = testbed.client();
    let first = Operator::start(testbed, &namespace).await;
    apply_minimal(&client, &namespace, "shop").await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    until_ready(&shops, "shop").await;
    // The status write that made it Ready is the last write of the first
    // operator; let it finish its pass.
    eventually("the first operator to settle", || {
        let finished = first.reconciles_finished();
        async move { finished > 0 }
    })
    .await;
    first.kill().await;

    let second = Operator::start(testbed, &namespace).await;
    eventually("a reconcile by the second operator", || {
        let finished = second.reconciles_finished();
        async move { finished >= 1 }
    })
    .await;
    let shop = shops.get("shop").await.unwrap();
    assert!(crate::support::is_ready(&shop), "still Ready");
    eprintln!(
        "converged resync: {} write requests ({:?})",
        second.writes.count(),
        second.writes.list()
    );
    assert_eq!(second.writes.list(), Vec::<String>::new());
}
