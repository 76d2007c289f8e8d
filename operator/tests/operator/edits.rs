//! What the API server and other field managers do to a shop, met as a
//! cluster meets them:
//!
//! - quantities written in any valid spelling (`0.5`, `1024Mi`, `1000m`)
//!   converge: the API server stores them canonical, and a resync of the
//!   converged shop writes nothing;
//! - a Service port changed by `kubectl patch` leaves two ports of one name
//!   when the operator applies its own; the operator takes the ports back,
//!   and every other drifted child is repaired too;
//! - handing a Deployment from `replicas: 5` to an autoscaler with
//!   `minReplicas: 5` never drops it below 5 pods.

use eshop_operator::crd::EShop;
use eshop_testbed::wait;
use futures::TryStreamExt;
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Event, Service},
    networking::v1::NetworkPolicy,
};
use kube::{
    Api, Client,
    api::{DeleteParams, ListParams, Patch, PatchParams},
    runtime::{WatchStreamExt, watcher},
};
use serde_json::json;

use crate::support::{
    Operator, apply_minimal, condition, eventually, namespace, patch_spec, testbed, until_ready,
};

/// The Events the operator published about `shop` with `reason`.
async fn events(client: &Client, namespace: &str, reason: &str) -> usize {
    Api::<Event>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|event| event.reason.as_deref() == Some(reason))
        .count()
}

#[tokio::test]
async fn non_canonical_quantities_converge_and_a_resync_writes_nothing() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "quantities").await;
    let client = testbed.client();
    let first = Operator::start(testbed, &namespace).await;
    apply_minimal(&client, &namespace, "shop").await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    patch_spec(
        &shops,
        "shop",
        json!({
            "services": {
                "cart": {"resources": {"requests": {"cpu": "0.5", "memory": "1024Mi"}, "limits": {"cpu": "1000m", "memory": "2048Mi"}}},
                "users": {"resources": {"requests": {"cpu": 1, "memory": "268435456"}, "limits": {"memory": "0.5Gi"}}},
            },
            "database": {"resources": {"requests": {"cpu": "0.25", "memory": "1.5Gi"}, "limits": {"memory": "2Gi"}}},
            "redis": {"storage": {"size": "1024Mi"}},
        }),
    )
    .await;
    until_ready(&shops, "shop").await;
    let cart = Api::<Deployment>::namespaced(client.clone(), &namespace)
        .get("shop-cart")
        .await
        .unwrap();
    let resources = cart.spec.unwrap().template.spec.unwrap().containers[0]
        .resources
        .clone()
        .unwrap();
    eprintln!(
        "the API server stored cpu 0.5 as {} and memory 1024Mi as {}",
        resources.requests.as_ref().unwrap()["cpu"].0,
        resources.requests.as_ref().unwrap()["memory"].0
    );
    eventually("the first operator to settle", || {
        let finished = first.reconciles_finished();
        async move { finished > 0 }
    })
    .await;
    first.kill().await;
    let applied_events = events(&client, &namespace, "Applied").await;

    let second = Operator::start(testbed, &namespace).await;
    eventually("a reconcile by the second operator", || {
        let finished = second.reconciles_finished();
        async move { finished >= 1 }
    })
    .await;
    assert!(crate::support::is_ready(&shops.get("shop").await.unwrap()));
    assert_eq!(
        second.writes.list(),
        Vec::<String>::new(),
        "a resync writes nothing"
    );
    assert_eq!(
        events(&client, &namespace, "Applied").await,
        applied_events,
        "and publishes no Event"
    );
}

#[tokio::test]
async fn a_hand_edited_service_port_is_taken_back_and_every_other_drift_repaired() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "port").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    apply_minimal(&client, &namespace, "shop").await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    until_ready(&shops, "shop").await;

    let services = Api::<Service>::namespaced(client.clone(), &namespace);
    let deployments = Api::<Deployment>::namespaced(client.clone(), &namespace);
    let policies = Api::<NetworkPolicy>::namespaced(client.clone(), &namespace);
    // As `kubectl patch --type merge`: the port list replaced by kubectl's.
    services
        .patch(
            "shop-gateway",
            &PatchParams {
                field_manager: Some("kubectl-patch".to_owned()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"spec": {"ports": [
                {"name": "http", "port": 9090, "targetPort": "http", "protocol": "TCP"}
            ]}})),
        )
        .await
        .unwrap();
    deployments
        .patch(
            "shop-users",
            &PatchParams::apply("kubectl-edit").force(),
            &Patch::Apply(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "spec": {"template": {"spec": {"containers": [{"name": "users", "image": "evil.example/eshop:latest"}]}}},
            })),
        )
        .await
        .unwrap();
    policies
        .delete("shop-default-deny", &DeleteParams::default())
        .await
        .unwrap();

    let service = wait::until(
        &services,
        "shop-gateway",
        "the operator's port, alone",
        |service: Option<&Service>| {
            let ports: Vec<i32> = service
                .and_then(|service| service.spec.as_ref()?.ports.clone())
                .unwrap_or_default()
                .iter()
                .map(|port| port.port)
                .collect();
            ports == [8080]
        },
    )
    .await;
    eprintln!(
        "gateway ports after repair: {:?}",
        service.spec.unwrap().ports.unwrap()
    );
    wait::until(
        &deployments,
        "shop-users",
        "the operator's image back",
        |deployment: Option<&Deployment>| {
            deployment
                .and_then(|deployment| {
                    deployment.spec.as_ref()?.template.spec.as_ref()?.containers[0]
                        .image
                        .clone()
                })
                .is_some_and(|image| image.starts_with("ghcr.io/eshop-operator/eshop:"))
        },
    )
    .await;
    wait::until(
        &policies,
        "shop-default-deny",
        "the default-deny NetworkPolicy back",
        |policy: Option<&NetworkPolicy>| policy.is_some(),
    )
    .await;
    let shop = until_ready(&shops, "shop").await;
    assert_eq!(condition(&shop, "Stalled").unwrap().status, "False");
}

#[tokio::test]
async fn replicas_handed_to_an_autoscaler_never_drop() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "handover").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    apply_minimal(&client, &namespace, "shop").await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    patch_spec(
        &shops,
        "shop",
        json!({"services": {"catalog": {"replicas": 5}}}),
    )
    .await;
    until_ready(&shops, "shop").await;

    let deployments = Api::<Deployment>::namespaced(client.clone(), &namespace);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let watching = tokio::spawn({
        let seen = std::sync::Arc::clone(&seen);
        watcher(
            deployments.clone(),
            watcher::Config::default().fields("metadata.name=shop-catalog"),
        )
        .applied_objects()
        .try_for_each(move |deployment: Deployment| {
            seen.lock()
                .unwrap()
                .push(deployment.spec.and_then(|spec| spec.replicas));
            futures::future::ready(Ok(()))
        })
    });
    patch_spec(
        &shops,
        "shop",
        json!({"services": {"catalog": {"autoscaling": {"minReplicas": 5, "maxReplicas": 8}}}}),
    )
    .await;
    until_ready(&shops, "shop").await;
    let handed = deployments.get("shop-catalog").await.unwrap();
    let owners: Vec<String> = handed
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|entry| {
            entry
                .fields_v1
                .as_ref()
                .is_some_and(|fields| fields.0["f:spec"].get("f:replicas").is_some())
        })
        .filter_map(|entry| entry.manager.clone())
        .collect();
    watching.abort();
    let seen = seen.lock().unwrap().clone();
    eprintln!("replicas seen while handing over: {seen:?}; owned by {owners:?}");
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|replicas| replicas.is_some_and(|replicas| replicas >= 5)),
        "never below 5: {seen:?}"
    );
    assert!(
        !owners.iter().any(|owner| owner == "eshop-operator"),
        "the operator no longer owns replicas: {owners:?}"
    );
}
