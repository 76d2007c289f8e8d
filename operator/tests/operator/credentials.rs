//! Credentials follow the data. A store's Secret deleted while the
//! operator is down stays (held by its finalizer) with the password the
//! database was initialised with, and nothing rolls; a Secret lost anyway
//! (its finalizer removed by hand) is reported, never replaced by a
//! password the data does not know, and the shop recovers when the Secret
//! is restored.

use std::collections::BTreeMap;

use eshop_operator::{
    crd::EShop,
    credentials::{FINALIZER, FINGERPRINT},
};
use eshop_testbed::wait;
use k8s_openapi::{
    ByteString,
    api::{
        apps::v1::StatefulSet,
        core::v1::{PersistentVolumeClaim, Secret},
    },
};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde_json::json;

use crate::support::{Operator, apply_minimal, condition, namespace, testbed, until_ready};

fn config_digest(set: &StatefulSet) -> String {
    set.spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .as_ref()
        .unwrap()["eshop-operator.github.io/config-digest"]
        .clone()
}

#[tokio::test]
async fn a_store_secret_deleted_while_the_operator_is_down_keeps_its_password() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "creds-down").await;
    let client = testbed.client();
    let operator = Operator::start(testbed, &namespace).await;
    apply_minimal(&client, &namespace, "shop").await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    until_ready(&shops, "shop").await;
    let secrets = Api::<Secret>::namespaced(client.clone(), &namespace);
    let sets = Api::<StatefulSet>::namespaced(client.clone(), &namespace);
    let password = secrets.get("shop-postgres").await.unwrap().data;
    let digest = config_digest(&sets.get("shop-postgres").await.unwrap());
    let claim = Api::<PersistentVolumeClaim>::namespaced(client.clone(), &namespace)
        .get("data-shop-postgres-0")
        .await
        .unwrap();
    assert!(
        claim
            .metadata
            .annotations
            .unwrap()
            .contains_key(FINGERPRINT),
        "the volume knows which credentials it was paired with"
    );

    operator.kill().await;
    secrets
        .delete("shop-postgres", &DeleteParams::default())
        .await
        .unwrap();
    let held = secrets.get("shop-postgres").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(
        held.metadata.finalizers.as_deref(),
        Some(&[FINALIZER.to_owned()][..])
    );

    let _operator = Operator::start(testbed, &namespace).await;
    until_ready(&shops, "shop").await;
    assert_eq!(
        secrets.get("shop-postgres").await.unwrap().data,
        password,
        "the password the database was initialised with"
    );
    assert_eq!(
        config_digest(&sets.get("shop-postgres").await.unwrap()),
        digest,
        "the database did not roll"
    );
}

#[tokio::test]
async fn lost_credentials_are_reported_not_regenerated_and_recover_when_restored() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "creds-lost").await;
    let client = testbed.client();
    let operator = Operator::start(testbed, &namespace).await;
    apply_minimal(&client, &namespace, "shop").await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    until_ready(&shops, "shop").await;
    let secrets = Api::<Secret>::namespaced(client.clone(), &namespace);
    let data: BTreeMap<String, ByteString> =
        secrets.get("shop-postgres").await.unwrap().data.unwrap();

    // Someone removes the finalizer by hand and deletes the Secret while
    // the operator is down.
    operator.kill().await;
    secrets
        .patch(
            "shop-postgres",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    secrets
        .delete("shop-postgres", &DeleteParams::default())
        .await
        .unwrap();
    wait::until_deleted(&secrets, "shop-postgres").await;

    let _operator = Operator::start(testbed, &namespace).await;
    let shop = wait::until(&shops, "shop", "CredentialsLost", |shop: Option<&EShop>| {
        shop.and_then(|shop| condition(shop, "Stalled"))
            .is_some_and(|stalled| stalled.status == "True" && stalled.reason == "CredentialsLost")
    })
    .await;
    eprintln!("{}", condition(&shop, "Stalled").unwrap().message);
    assert!(
        secrets.get_opt("shop-postgres").await.unwrap().is_none(),
        "no password the data does not know"
    );

    let restored: Secret = serde_json::from_value(json!({
        "metadata": {"name": "shop-postgres"},
        "data": data,
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &restored)
        .await
        .unwrap();
    until_ready(&shops, "shop").await;
    assert_eq!(secrets.get("shop-postgres").await.unwrap().data, Some(data));
}
