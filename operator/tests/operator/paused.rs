//! `paused` stops changes: while it is set, a new spec and a drifted child
//! are left alone, and the shop is not Ready for a generation it has not
//! applied; when it is cleared, both are put right.

use eshop_operator::crd::EShop;
use eshop_testbed::wait;
use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde_json::json;

use crate::support::{
    Operator, apply_minimal, condition, namespace, patch_spec, testbed, until_ready,
};

fn replicas(deployment: &Deployment) -> Option<i32> {
    deployment.spec.as_ref()?.replicas
}

#[tokio::test]
async fn a_paused_shop_is_left_alone_until_it_is_resumed() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "paused").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    apply_minimal(&client, &namespace, "shop").await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    until_ready(&shops, "shop").await;

    let paused = patch_spec(
        &shops,
        "shop",
        json!({"paused": true, "services": {"cart": {"replicas": 2}}}),
    )
    .await;
    let deployments = Api::<Deployment>::namespaced(client.clone(), &namespace);
    deployments
        .patch(
            "shop-users",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    let shop = wait::until(
        &shops,
        "shop",
        "the pause acknowledged",
        |shop: Option<&EShop>| {
            shop.and_then(|shop| condition(shop, "Reconciling"))
                .is_some_and(|reconciling| {
                    reconciling.reason == "Paused"
                        && reconciling.observed_generation == paused.metadata.generation
                })
        },
    )
    .await;
    // The change is pending: not Ready for this generation, still to do.
    assert_eq!(condition(&shop, "Reconciling").unwrap().status, "True");
    assert_eq!(condition(&shop, "Ready").unwrap().status, "False");
    assert_eq!(condition(&shop, "Stalled").unwrap().status, "False");
    assert_eq!(
        replicas(&deployments.get("shop-cart").await.unwrap()),
        Some(1),
        "the new spec is not applied"
    );
    assert_eq!(
        replicas(&deployments.get("shop-users").await.unwrap()),
        Some(3),
        "the drift is not repaired"
    );

    patch_spec(&shops, "shop", json!({"paused": false})).await;
    until_ready(&shops, "shop").await;
    assert_eq!(
        replicas(&deployments.get("shop-cart").await.unwrap()),
        Some(2)
    );
    assert_eq!(
        replicas(&deployments.get("shop-users").await.unwrap()),
        Some(1)
    );
}
