//! Changes to the spec roll out: more replicas, a new image tag and a
//! larger database volume reach the children, and status passes through
//! `Reconciling` before it is `Ready` again for the new generation.

use eshop_operator::crd::EShop;
use eshop_testbed::wait;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::{apps::v1::Deployment, core::v1::PersistentVolumeClaim};
use kube::{
    Api,
    runtime::{WatchStreamExt, watcher},
};
use serde_json::json;

use crate::support::{
    Operator, apply_minimal, condition, is_ready, namespace, patch_spec, testbed, until_ready,
};

#[tokio::test]
async fn scale_image_and_storage_changes_roll_out_through_reconciling() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "changes").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    apply_minimal(&client, &namespace, "shop").await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    until_ready(&shops, "shop").await;

    // Every state the shop passes through from here on.
    let mut states = watcher(
        shops.clone(),
        watcher::Config::default().fields("metadata.name=shop"),
    )
    .applied_objects()
    .boxed();
    let changed = patch_spec(
        &shops,
        "shop",
        json!({
            "services": {"users": {"replicas": 3}},
            "image": {"tag": "9.9.9"},
            "database": {"storage": {"size": "2Gi"}},
        }),
    )
    .await;
    let generation = changed.metadata.generation;
    let mut reconciling_seen = false;
    let outcome = tokio::time::timeout(wait::TIMEOUT, async {
        while let Some(shop) = states.try_next().await.expect("watching the shop") {
            let current = shop
                .status
                .as_ref()
                .and_then(|status| status.observed_generation)
                == generation;
            if current
                && condition(&shop, "Reconciling")
                    .is_some_and(|reconciling| reconciling.status == "True")
            {
                reconciling_seen = true;
            }
            if current && is_ready(&shop) {
                return shop;
            }
        }
        panic!("the watch ended");
    })
    .await;
    let shop = outcome.expect("Ready again for the new generation in time");
    assert!(reconciling_seen, "status said Reconciling before Ready");
    assert_eq!(shop.status.unwrap().components["users"].ready, 3);

    let deployments = Api::<Deployment>::namespaced(client.clone(), &namespace);
    let users = deployments.get("shop-users").await.unwrap().spec.unwrap();
    assert_eq!(users.replicas, Some(3));
    assert_eq!(
        users.template.spec.unwrap().containers[0].image.as_deref(),
        Some("ghcr.io/eshop-operator/eshop:9.9.9")
    );
    let claims = Api::<PersistentVolumeClaim>::namespaced(client, &namespace);
    let claim = claims.get("data-shop-postgres-0").await.unwrap();
    assert_eq!(
        claim.spec.unwrap().resources.unwrap().requests.unwrap()["storage"].0,
        "2Gi"
    );
}
