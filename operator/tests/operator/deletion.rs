//! Deleting an `EShop` removes everything it made, through garbage
//! collection; its volumes go or stay as `pvcRetention` says, and the
//! stores' credentials go or stay with them. Nothing else deletes a
//! volume: not deleting a StatefulSet, whatever `pvcRetention` says.

use std::collections::BTreeMap;

use eshop_operator::crd::EShop;
use eshop_testbed::wait;
use k8s_openapi::{
    ByteString,
    api::{
        apps::v1::{Deployment, StatefulSet},
        core::v1::{PersistentVolumeClaim, Secret},
    },
};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, ListParams},
};
use serde_json::json;

use crate::support::{
    Operator, apply_minimal, eventually, namespace, patch_spec, testbed, until_ready,
};

const MANAGED: &str = "app.kubernetes.io/managed-by=eshop-operator";

/// The claims' names and uids, of those not being deleted.
async fn claims(client: &Client, namespace: &str) -> BTreeMap<String, String> {
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|claim| claim.metadata.deletion_timestamp.is_none())
        .map(|claim| (claim.name_any(), claim.uid().unwrap()))
        .collect()
}

/// The data of the operator's Secrets, by name.
async fn secrets(
    client: &Client,
    namespace: &str,
) -> BTreeMap<String, BTreeMap<String, ByteString>> {
    Api::<Secret>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(MANAGED))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|secret| (secret.name_any(), secret.data.unwrap_or_default()))
        .collect()
}

/// Creates a Ready shop with `retention`, deletes it, waits until its
/// children are gone (the Secrets that go with the volumes included), and
/// returns the claims and the Secrets from before.
async fn delete_shop(
    client: &Client,
    namespace: &str,
    retention: &str,
) -> (
    BTreeMap<String, String>,
    BTreeMap<String, BTreeMap<String, ByteString>>,
) {
    apply_minimal(client, namespace, "shop").await;
    let shops = Api::<EShop>::namespaced(client.clone(), namespace);
    patch_spec(&shops, "shop", json!({"pvcRetention": retention})).await;
    until_ready(&shops, "shop").await;
    let claims_before = claims(client, namespace).await;
    assert_eq!(claims_before.len(), 2);
    let secrets_before = secrets(client, namespace).await;
    assert_eq!(secrets_before.len(), 4);

    shops
        .delete("shop", &DeleteParams::foreground())
        .await
        .unwrap();
    wait::until_deleted(&shops, "shop").await;
    let deployments = Api::<Deployment>::namespaced(client.clone(), namespace);
    let sets = Api::<StatefulSet>::namespaced(client.clone(), namespace);
    let all_secrets = Api::<Secret>::namespaced(client.clone(), namespace);
    wait::until_deleted(&sets, "shop-postgres").await;
    wait::until_deleted(&sets, "shop-redis").await;
    wait::until_deleted(&all_secrets, "shop-jwt").await;
    wait::until_deleted(&all_secrets, "shop-internal-token").await;
    let managed = ListParams::default().labels(MANAGED);
    eventually("every Deployment gone", || {
        let (deployments, managed) = (deployments.clone(), managed.clone());
        async move { deployments.list(&managed).await.unwrap().items.is_empty() }
    })
    .await;
    if retention == "Delete" {
        let claims_api = Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace);
        wait::until_deleted(&claims_api, "data-shop-postgres-0").await;
        wait::until_deleted(&claims_api, "data-shop-redis-0").await;
        wait::until_deleted(&all_secrets, "shop-postgres").await;
        wait::until_deleted(&all_secrets, "shop-redis").await;
    }
    (claims_before, secrets_before)
}

#[tokio::test]
async fn a_shop_deleted_with_its_volumes_retained_gets_them_back_with_their_credentials() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "retain").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    let (claims_before, secrets_before) = delete_shop(&client, &namespace, "Retain").await;
    assert_eq!(
        claims(&client, &namespace).await,
        claims_before,
        "the volumes stay"
    );
    let kept = secrets(&client, &namespace).await;
    assert_eq!(
        kept.keys().collect::<Vec<_>>(),
        ["shop-postgres", "shop-redis"],
        "the stores' credentials stay with their volumes"
    );
    for (name, data) in &kept {
        assert_eq!(
            Some(data),
            secrets_before.get(name),
            "{name} keeps its values"
        );
    }

    // Applied again, the shop opens its old data with the old credentials.
    apply_minimal(&client, &namespace, "shop").await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    until_ready(&shops, "shop").await;
    assert_eq!(
        claims(&client, &namespace).await,
        claims_before,
        "the same volumes"
    );
    let after = secrets(&client, &namespace).await;
    for name in ["shop-postgres", "shop-redis"] {
        assert_eq!(
            after.get(name),
            secrets_before.get(name),
            "{name} is reused"
        );
    }
}

#[tokio::test]
async fn deleting_a_shop_removes_its_claims_and_credentials_when_asked() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "delete").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    delete_shop(&client, &namespace, "Delete").await;
    assert!(claims(&client, &namespace).await.is_empty());
    assert!(secrets(&client, &namespace).await.is_empty());
}

#[tokio::test]
async fn deleting_a_statefulset_never_deletes_its_volume_even_with_pvc_retention_delete() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "sts-delete").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    apply_minimal(&client, &namespace, "shop").await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    patch_spec(&shops, "shop", json!({"pvcRetention": "Delete"})).await;
    until_ready(&shops, "shop").await;
    let before = claims(&client, &namespace).await;
    let sets = Api::<StatefulSet>::namespaced(client.clone(), &namespace);
    let old = sets.get("shop-postgres").await.unwrap().uid();

    sets.delete("shop-postgres", &DeleteParams::foreground())
        .await
        .unwrap();
    wait::until(
        &sets,
        "shop-postgres",
        "a new StatefulSet",
        |set: Option<&StatefulSet>| set.is_some_and(|set| set.uid() != old),
    )
    .await;
    until_ready(&shops, "shop").await;
    assert_eq!(
        claims(&client, &namespace).await,
        before,
        "the same claims, with the same data"
    );
}
