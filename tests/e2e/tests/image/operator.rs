//! The operator from the image: its `--help`, and `eshop-operator run` as
//! the Deployment of `deploy/base` runs it, talking to the testbed's API
//! server through its kubeconfig mounted read-only, reconciling
//! `examples/minimal.yaml` to Ready (kwok plays the nodes, so the shop's
//! pods are simulated; the containers above are the real ones).

use std::{
    net::{SocketAddr, TcpListener},
    time::Instant,
};

use eshop_operator::{build::MANAGED_SELECTOR, crd::EShop};
use eshop_testbed::{STORAGE_CLASS, Testbed, wait};
use k8s_openapi::{
    api::{apps::v1::Deployment, core::v1::Namespace, storage::v1::StorageClass},
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, Patch, PatchParams},
    runtime::wait::conditions,
};
use serde_json::json;

use crate::{
    cluster::minimal_example,
    kubelet,
    podman::{Container, LABEL, RunSpec, image, podman_ok},
};

/// Where the kubeconfig is mounted in the container.
const KUBECONFIG: &str = "/etc/eshop/kubeconfig";
/// The field manager of what the test applies, as a user's kubectl would.
const USER: &str = "kubectl";

#[test]
#[ignore = "needs the image: tests/run's image phase builds it and runs these"]
fn the_operator_binary_in_the_image_prints_its_help() {
    let help = podman_ok(&[
        "run",
        "--rm",
        &format!("--label={LABEL}=1"),
        "--network=host",
        "--read-only",
        "--cap-drop=ALL",
        "--user=65532:65532",
        "--entrypoint=/usr/local/bin/eshop-operator",
        &image(),
        "--help",
    ]);
    println!("{help}");
    assert!(help.contains("Usage: eshop-operator"), "{help}");
    assert!(help.contains("Reconcile EShop resources"), "{help}");
    assert!(
        help.contains("Print the EShop CustomResourceDefinition"),
        "{help}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the image: tests/run's image phase builds it and runs these"]
async fn the_operator_from_the_image_reconciles_the_minimal_example_to_ready() {
    let testbed = Testbed::start().await.expect("the testbed starts");
    let client = testbed.client();
    install_crd(&client).await;
    let namespace = restricted_namespace(&testbed).await;

    let deployment: Deployment = serde_saphyr::from_str(&read("deploy/base/deployment.yaml"))
        .expect("deploy/base/deployment.yaml is a Deployment");
    let pod = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.template.spec.as_ref())
        .expect("a pod template");
    let container = &pod.containers[0];
    let mut env = kubelet::resolve_env(
        container.env.as_deref().unwrap_or_default(),
        &[],
        |field| match field {
            "metadata.name" => "eshop-operator-image-test".to_owned(),
            "metadata.namespace" => namespace.clone(),
            other => {
                panic!("the operator's Deployment reads {other}, which this test does not give")
            }
        },
    );
    let listen = free_loopback_address();
    // On the host's network the operator listens on a port of its own, and
    // it looks after the test's namespace only.
    env.extend([
        ("KUBECONFIG".to_owned(), KUBECONFIG.to_owned()),
        ("ESHOP_OPERATOR_LISTEN".to_owned(), listen.to_string()),
        ("ESHOP_OPERATOR_NAMESPACE".to_owned(), namespace.clone()),
    ]);
    let operator = Container::start(&RunSpec {
        name: "operator".to_owned(),
        launch: kubelet::launch(pod, container),
        env,
        hosts: Vec::new(),
        options: vec![format!(
            "--volume={}:{KUBECONFIG}:ro",
            testbed.kubeconfig().display()
        )],
    });
    let probe = container
        .readiness_probe
        .as_ref()
        .and_then(|probe| probe.http_get.as_ref())
        .and_then(|get| get.path.clone())
        .expect("an HTTP readiness probe");
    let waited = operator.until_ready(listen, &probe).await;
    println!("the operator from the image answers {probe} after {waited:.1?}");

    let mut shop = minimal_example();
    shop.metadata.namespace = None;
    shop.metadata.uid = None;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    let started = Instant::now();
    shops
        .patch(
            &shop.name_any(),
            &PatchParams::apply(USER),
            &Patch::Apply(&shop),
        )
        .await
        .expect("applying examples/minimal.yaml");
    let ready = wait::until(&shops, &shop.name_any(), "Ready=True", is_ready).await;
    println!(
        "{}/{} Ready after {:.1?}, reconciled by the operator in {}",
        namespace,
        ready.name_any(),
        started.elapsed(),
        operator.name()
    );
    let status = ready.status.expect("a status");
    assert!(
        status
            .components
            .values()
            .all(|component| component.ready == component.desired)
    );
    let deployments = Api::<Deployment>::namespaced(client, &namespace)
        .list(&ListParams::default().labels(MANAGED_SELECTOR))
        .await
        .expect("listing Deployments");
    assert_eq!(deployments.items.len(), 10, "one Deployment per service");
}

/// Whether the shop reports `Ready=True` for its current generation.
fn is_ready(shop: Option<&EShop>) -> bool {
    let Some(shop) = shop else { return false };
    let Some(status) = &shop.status else {
        return false;
    };
    status.observed_generation == shop.metadata.generation
        && status.conditions.iter().any(|condition| {
            condition.type_ == "Ready"
                && condition.status == "True"
                && condition.observed_generation == shop.metadata.generation
        })
}

/// `crds/eshop.yaml` applied as a user would, and kwok's StorageClass made
/// the default, since the minimal example names none.
async fn install_crd(client: &Client) {
    let crd: CustomResourceDefinition =
        serde_saphyr::from_str(&read("crds/eshop.yaml")).expect("crds/eshop.yaml is a CRD");
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    crds.patch(
        &crd.name_any(),
        &PatchParams::apply(USER),
        &Patch::Apply(&crd),
    )
    .await
    .expect("installing the CRD");
    wait::until(
        &crds,
        &crd.name_any(),
        "Established",
        conditions::is_crd_established(),
    )
    .await;
    Api::<StorageClass>::all(client.clone())
        .patch(
            STORAGE_CLASS,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {
                "storageclass.kubernetes.io/is-default-class": "true"
            }}})),
        )
        .await
        .expect("making kwok's StorageClass the default");
}

/// A new namespace that enforces the restricted Pod Security Standard.
async fn restricted_namespace(testbed: &Testbed) -> String {
    let name = testbed.create_namespace("image").await;
    Api::<Namespace>::all(testbed.client())
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            }}})),
        )
        .await
        .expect("labelling the namespace");
    name
}

fn free_loopback_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
}

/// A file of the repository.
fn read(relative: &str) -> String {
    let path = format!("{}/../../{relative}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("reading {path}: {error}"))
}
