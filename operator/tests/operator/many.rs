//! Many shops at once, as on a real cluster: fifty shops in five namespaces,
//! with all their children, exist before the operator starts. The operator
//! runs as a process (its own binary, cluster-wide, with leader election)
//! on a control plane of its own:
//!
//! 1. a first operator brings the fifty new shops to Ready, and SIGTERM
//!    stops it;
//! 2. while no operator runs, every shop drifts (a scaled Deployment, a
//!    deleted NetworkPolicy);
//! 3. a second operator starts among 1,800 existing children: every drift
//!    is repaired and every shop is Ready again; SIGTERM ends it within
//!    5 s and leaves the Lease free.
//!
//! The figures are printed. Before the fix, reconciles that started
//! together awaited a cache's one-shot readiness signal that woke only one
//! of them: shops stayed drifted with no write, and SIGTERM waited on the
//! stuck reconciles.

use std::time::{Duration, Instant};

use eshop_operator::crd::EShop;
use eshop_testbed::Testbed;
use k8s_openapi::api::{
    apps::v1::Deployment, coordination::v1::Lease, networking::v1::NetworkPolicy,
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams},
};
use nix::sys::signal::Signal;
use serde_json::json;

use crate::support::{
    OperatorProcess, apply_minimal, install_crd, is_ready, namespace, set_default_storage_class,
};

const NAMESPACES: usize = 5;
const SHOPS_PER_NAMESPACE: usize = 10;
/// How long all shops may take to become Ready, or to be repaired.
const BOUND: Duration = Duration::from_secs(240);
const MANAGED: &str = "app.kubernetes.io/managed-by=eshop-operator";

/// Polls `check` every half second until it returns true, at most [`BOUND`];
/// returns how long it took.
async fn within_bound<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < BOUND, "{what} after {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn fifty_shops_present_at_start_become_ready_are_repaired_and_sigterm_is_prompt() {
    let testbed = Testbed::start().await.expect("a control plane of its own");
    install_crd(&testbed).await;
    set_default_storage_class(&testbed, true).await;
    let client = testbed.client();
    let mut namespaces = Vec::new();
    for _ in 0..NAMESPACES {
        let namespace = namespace(&testbed, "many").await;
        for shop in 0..SHOPS_PER_NAMESPACE {
            apply_minimal(&client, &namespace, &format!("shop-{shop}")).await;
        }
        namespaces.push(namespace);
    }
    let shops_total = NAMESPACES * SHOPS_PER_NAMESPACE;
    let lease_namespace = namespace(&testbed, "operator").await;
    let shops = Api::<EShop>::all(client.clone());
    let all_ready = || {
        let shops = shops.clone();
        async move {
            let list = shops.list(&ListParams::default()).await.unwrap().items;
            list.len() == shops_total && list.iter().all(is_ready)
        }
    };

    let mut first = OperatorProcess::start(testbed.kubeconfig(), "first", &lease_namespace, &[]);
    let to_ready = within_bound("not every new shop Ready", all_ready).await;
    let (first_exit, _) = terminate(&mut first, &client, &lease_namespace).await;

    // Drift in every shop, by other field managers, while no operator runs.
    for namespace in &namespaces {
        let deployments = Api::<Deployment>::namespaced(client.clone(), namespace);
        let policies = Api::<NetworkPolicy>::namespaced(client.clone(), namespace);
        for shop in 0..SHOPS_PER_NAMESPACE {
            deployments
                .patch(
                    &format!("shop-{shop}-users"),
                    &PatchParams::apply("kubectl-scale").force(),
                    &Patch::Apply(json!({
                        "apiVersion": "apps/v1", "kind": "Deployment",
                        "spec": {"replicas": 3},
                    })),
                )
                .await
                .unwrap();
            policies
                .delete(
                    &format!("shop-{shop}-default-deny"),
                    &DeleteParams::default(),
                )
                .await
                .unwrap();
        }
    }
    let children = count_children(&client).await;

    let mut second = OperatorProcess::start(testbed.kubeconfig(), "second", &lease_namespace, &[]);
    let deployments = Api::<Deployment>::all(client.clone());
    let policies = Api::<NetworkPolicy>::all(client.clone());
    let to_repair = within_bound("drift not repaired", || {
        let (deployments, policies) = (deployments.clone(), policies.clone());
        async move {
            let managed = ListParams::default().labels(MANAGED);
            let scaled = deployments
                .list(&managed)
                .await
                .unwrap()
                .items
                .iter()
                .filter(|deployment| deployment.name_any().ends_with("-users"))
                .filter(|deployment| {
                    deployment.spec.as_ref().and_then(|spec| spec.replicas) != Some(1)
                })
                .count();
            let denies = policies
                .list(&managed)
                .await
                .unwrap()
                .items
                .iter()
                .filter(|policy| policy.name_any().ends_with("-default-deny"))
                .count();
            scaled == 0 && denies == shops_total
        }
    })
    .await;
    let to_ready_again = within_bound("not every shop Ready again", all_ready).await + to_repair;
    let started = second.metric("eshop_operator_reconciles_total").await;
    let finished = second
        .metric("eshop_operator_reconcile_duration_seconds_count")
        .await;
    let (second_exit, status) = terminate(&mut second, &client, &lease_namespace).await;
    eprintln!(
        "many shops: {shops_total} new shops in {NAMESPACES} namespaces all Ready {:.1} s after the first \
         operator started; SIGTERM to exit {:.2} s. Restarted among {children} children with every shop \
         drifted: all drift repaired in {:.1} s, all Ready in {:.1} s ({started} reconciles started, \
         {finished} finished); SIGTERM to exit {:.2} s ({status}); Lease released both times",
        to_ready.as_secs_f64(),
        first_exit.as_secs_f64(),
        to_repair.as_secs_f64(),
        to_ready_again.as_secs_f64(),
        second_exit.as_secs_f64(),
    );
}

/// Sends SIGTERM and waits at most 5 s for the process to exit with
/// success and leave the Lease free; how long it took, and the status.
async fn terminate(
    operator: &mut OperatorProcess,
    client: &kube::Client,
    lease_namespace: &str,
) -> (Duration, std::process::ExitStatus) {
    let terminated = Instant::now();
    operator.signal(Signal::SIGTERM);
    let status = operator
        .exited_within(Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("no exit within 5 s of SIGTERM; log:\n{}", operator.log()));
    let to_exit = terminated.elapsed();
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        operator.log()
    );
    let lease = Api::<Lease>::namespaced(client.clone(), lease_namespace)
        .get("eshop-operator")
        .await
        .unwrap();
    assert_eq!(
        lease.spec.and_then(|spec| spec.holder_identity),
        None,
        "the Lease is released"
    );
    (to_exit, status)
}

/// How many objects the operator manages, across the cluster.
async fn count_children(client: &kube::Client) -> usize {
    use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
    let managed = ListParams::default().labels(MANAGED);
    Api::<Deployment>::all(client.clone())
        .list(&managed)
        .await
        .unwrap()
        .items
        .len()
        + Api::<k8s_openapi::api::apps::v1::StatefulSet>::all(client.clone())
            .list(&managed)
            .await
            .unwrap()
            .items
            .len()
        + Api::<Service>::all(client.clone())
            .list(&managed)
            .await
            .unwrap()
            .items
            .len()
        + Api::<Secret>::all(client.clone())
            .list(&managed)
            .await
            .unwrap()
            .items
            .len()
        + Api::<ConfigMap>::all(client.clone())
            .list(&managed)
            .await
            .unwrap()
            .items
            .len()
        + Api::<NetworkPolicy>::all(client.clone())
            .list(&managed)
            .await
            .unwrap()
            .items
            .len()
}
