//! Drift is repaired: children deleted or edited by hand come back as the
//! operator wants them. A deleted token Secret is rotated: it comes back
//! with a new value and the pods roll. A deleted store Secret stays, with
//! its values, as long as the volume it opens exists.

use std::collections::BTreeMap;

use eshop_operator::crd::EShop;
use eshop_testbed::wait;
use k8s_openapi::{
    ByteString,
    api::{
        apps::v1::Deployment,
        core::v1::{Secret, Service},
    },
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams},
};
use serde_json::json;

use crate::support::{Operator, apply_minimal, namespace, testbed, until_ready};

async fn secret_values(secrets: &Api<Secret>) -> BTreeMap<String, BTreeMap<String, ByteString>> {
    secrets
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=eshop-operator"))
        .await
        .expect("listing Secrets")
        .items
        .into_iter()
        .map(|secret| (secret.name_any(), secret.data.unwrap_or_default()))
        .collect()
}

/// The object exists again, with a uid other than `old`.
fn recreated<K: kube::Resource>(old: Option<String>) -> impl Fn(Option<&K>) -> bool {
    move |object| object.is_some_and(|object| object.meta().uid != old)
}

#[tokio::test]
async fn deleted_and_edited_children_come_back_and_secrets_keep_their_values() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "drift").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    apply_minimal(&client, &namespace, "shop").await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    until_ready(&shops, "shop").await;

    let deployments = Api::<Deployment>::namespaced(client.clone(), &namespace);
    let services = Api::<Service>::namespaced(client.clone(), &namespace);
    let secrets = Api::<Secret>::namespaced(client.clone(), &namespace);
    let before = secret_values(&secrets).await;
    assert_eq!(before.len(), 4);
    let digest = |deployment: &Deployment| {
        deployment
            .spec
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
    };
    let digest_before = digest(&deployments.get("shop-users").await.unwrap());
    let old_uids = (
        deployments.get("shop-cart").await.unwrap().uid(),
        services.get("shop-cart").await.unwrap().uid(),
        secrets.get("shop-jwt").await.unwrap().uid(),
    );

    deployments
        .delete("shop-cart", &DeleteParams::default())
        .await
        .unwrap();
    services
        .delete("shop-cart", &DeleteParams::default())
        .await
        .unwrap();
    secrets
        .delete("shop-jwt", &DeleteParams::default())
        .await
        .unwrap();
    secrets
        .delete("shop-postgres", &DeleteParams::default())
        .await
        .unwrap();
    let deployment: Deployment = wait::until(
        &deployments,
        "shop-cart",
        "a new Deployment",
        recreated(old_uids.0),
    )
    .await;
    wait::until(
        &services,
        "shop-cart",
        "a new Service",
        recreated(old_uids.1),
    )
    .await;
    wait::until(&secrets, "shop-jwt", "a new Secret", recreated(old_uids.2)).await;
    wait::until(
        &deployments,
        "shop-users",
        "pods rolled with the new key",
        |deployment: Option<&Deployment>| {
            deployment.is_some_and(|deployment| digest(deployment) != digest_before)
        },
    )
    .await;
    let postgres = secrets.get("shop-postgres").await.unwrap();
    assert!(
        postgres.metadata.deletion_timestamp.is_some(),
        "the store's Secret is being deleted"
    );
    assert_eq!(
        postgres.data.as_ref(),
        before.get("shop-postgres"),
        "and held, with its values, while its volume exists"
    );
    assert_eq!(deployment.spec.unwrap().replicas, Some(1));

    deployments
        .patch(
            "shop-users",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .unwrap();
    wait::until(
        &deployments,
        "shop-users",
        "replicas set back to 1",
        |deployment: Option<&Deployment>| {
            deployment.and_then(|deployment| deployment.spec.as_ref()?.replicas) == Some(1)
        },
    )
    .await;

    until_ready(&shops, "shop").await;
    let after = secret_values(&secrets).await;
    assert_ne!(
        after["shop-jwt"], before["shop-jwt"],
        "the token key was rotated"
    );
    for name in ["shop-postgres", "shop-redis", "shop-internal-token"] {
        assert_eq!(after[name], before[name], "{name} is unchanged");
    }
}
