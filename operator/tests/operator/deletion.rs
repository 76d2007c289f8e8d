//! Deleting an `EShop` removes everything it made, through garbage
//! collection; its volumes' claims go or stay as `pvcRetention` says.

use eshop_operator::crd::EShop;
use eshop_testbed::wait;
use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    core::v1::{PersistentVolumeClaim, Secret},
};
use kube::{
    Api, Client,
    api::{DeleteParams, ListParams},
};
use serde_json::json;

use crate::support::{
    Operator, apply_minimal, eventually, namespace, patch_spec, testbed, until_ready,
};

/// Creates a Ready shop with `retention`, deletes it, waits until its
/// children are gone, and returns the names of the claims left.
async fn delete_shop(client: &Client, namespace: &str, retention: &str) -> Vec<String> {
    apply_minimal(client, namespace, "shop").await;
    let shops = Api::<EShop>::namespaced(client.clone(), namespace);
    patch_spec(&shops, "shop", json!({"pvcRetention": retention})).await;
    until_ready(&shops, "shop").await;
    let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace);
    assert_eq!(
        claims
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );

    shops
        .delete("shop", &DeleteParams::foreground())
        .await
        .unwrap();
    wait::until_deleted(&shops, "shop").await;
    let deployments = Api::<Deployment>::namespaced(client.clone(), namespace);
    let sets = Api::<StatefulSet>::namespaced(client.clone(), namespace);
    let secrets = Api::<Secret>::namespaced(client.clone(), namespace);
    wait::until_deleted(&sets, "shop-postgres").await;
    wait::until_deleted(&sets, "shop-redis").await;
    let managed = ListParams::default().labels("app.kubernetes.io/managed-by=eshop-operator");
    eventually("every Deployment and Secret gone", || {
        let (deployments, secrets, managed) =
            (deployments.clone(), secrets.clone(), managed.clone());
        async move {
            deployments.list(&managed).await.unwrap().items.is_empty()
                && secrets.list(&managed).await.unwrap().items.is_empty()
        }
    })
    .await;
    if retention == "Delete" {
        wait::until_deleted(&claims, "data-shop-postgres-0").await;
        wait::until_deleted(&claims, "data-shop-redis-0").await;
    }
    claims
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|claim| claim.metadata.deletion_timestamp.is_none())
        .map(|claim| claim.metadata.name.unwrap())
        .collect()
}

#[tokio::test]
async fn deleting_a_shop_keeps_its_claims_when_retained() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "retain").await;
    let _operator = Operator::start(testbed, &namespace).await;
    let left = delete_shop(&testbed.client(), &namespace, "Retain").await;
    assert_eq!(left, ["data-shop-postgres-0", "data-shop-redis-0"]);
}

#[tokio::test]
async fn deleting_a_shop_removes_its_claims_when_asked() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "delete").await;
    let _operator = Operator::start(testbed, &namespace).await;
    let left = delete_shop(&testbed.client(), &namespace, "Delete").await;
    assert!(left.is_empty(), "{left:?}");
}
