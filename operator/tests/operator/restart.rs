//! An operator killed in the middle of reconciling a shop, and started
//! again, converges: the shop becomes Ready and the Secrets the first one
//! generated are kept, not generated anew.

use std::collections::BTreeMap;

use eshop_operator::crd::EShop;
use eshop_testbed::wait;
use k8s_openapi::api::{apps::v1::StatefulSet, core::v1::Secret};
use kube::{Api, ResourceExt, api::ListParams};

use crate::support::{Operator, apply_minimal, is_ready, namespace, testbed, until_ready};

#[tokio::test]
async fn an_operator_killed_mid_reconcile_converges_when_restarted() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "restart").await;
    let client = testbed.client();
    let first = Operator::start(testbed, &namespace).await;
    apply_minimal(&client, &namespace, "shop").await;

    // The StatefulSets come after the Secrets and before the Deployments.
    let sets = Api::<StatefulSet>::namespaced(client.clone(), &namespace);
    wait::until(
        &sets,
        "shop-redis",
        "the first StatefulSet",
        |set: Option<&StatefulSet>| set.is_some(),
    )
    .await;
    first.kill().await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    let halfway = shops.get("shop").await.unwrap();
    eprintln!(
        "killed with {} of the children written; Ready: {}",
        first_writes_summary(&halfway),
        is_ready(&halfway)
    );
    let secrets = Api::<Secret>::namespaced(client.clone(), &namespace);
    let managed = ListParams::default().labels("app.kubernetes.io/managed-by=eshop-operator");
    let generated: BTreeMap<String, _> = secrets
        .list(&managed)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|secret| (secret.name_any(), secret.data))
        .collect();
    assert_eq!(generated.len(), 4, "the Secrets were written first");

    let _second = Operator::start(testbed, &namespace).await;
    until_ready(&shops, "shop").await;
    let after: BTreeMap<String, _> = secrets
        .list(&managed)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|secret| (secret.name_any(), secret.data))
        .collect();
    assert_eq!(after, generated, "no credential was generated again");
}

fn first_writes_summary(shop: &EShop) -> String {
    match &shop.status {
        Some(status) => format!("status of generation {:?}", status.observed_generation),
        None => "no status yet".to_owned(),
    }
}
