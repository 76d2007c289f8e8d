//! Many shops at once, as on a real cluster: fifty shops in five namespaces
//! exist before the operator starts. The operator runs as a process (its
//! own binary, cluster-wide, with leader election) on a control plane of
//! its own. Every shop becomes Ready; every shop's drift (a scaled
//! Deployment, a deleted NetworkPolicy) is repaired; SIGTERM ends the
//! process within 5 s and leaves the Lease free. The figures are printed.
//!
//! Before the fix, reconciles that started together awaited a cache's
//! one-shot readiness signal that woke only one of them: most shops never
//! got a status, drift stayed, and SIGTERM waited on the stuck reconciles.

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
    let mut operator =
        OperatorProcess::start(testbed.kubeconfig(), "many-shops", &lease_namespace, &[]);
    let shops = Api::<EShop>::all(client.clone());

    let to_ready = within_bound("not every shop Ready", || {
        let shops = shops.clone();
        async move {
            let list = shops.list(&ListParams::default()).await.unwrap().items;
            list.len() == shops_total && list.iter().all(is_ready)
        }
    })
    .await;
    let started = operator.metric("eshop_operator_reconciles_total").await;
    let finished = operator
        .metric("eshop_operator_reconcile_duration_seconds_count")
        .await;

    // Drift in every shop, by other field managers.
    let drifted = Instant::now();
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
    let deployments = Api::<Deployment>::all(client.clone());
    let policies = Api::<NetworkPolicy>::all(client.clone());
    within_bound("drift not repaired", || {
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
    let to_repair = drifted.elapsed();

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
    let lease = Api::<Lease>::namespaced(client.clone(), &lease_namespace)
        .get("eshop-operator")
        .await
        .unwrap();
    assert_eq!(
        lease.spec.and_then(|spec| spec.holder_identity),
        None,
        "the Lease is released"
    );
    eprintln!(
        "many shops: {shops_total} shops in {NAMESPACES} namespaces; all Ready {:.1} s after start \
         ({started} reconciles started, {finished} finished); drift in every shop repaired in {:.1} s; \
         SIGTERM to exit {:.2} s, Lease released",
        to_ready.as_secs_f64(),
        to_repair.as_secs_f64(),
        to_exit.as_secs_f64(),
    );
}
