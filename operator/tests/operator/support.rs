//! What the tests share: the testbed with the CRD installed (and kwok's
//! StorageClass as the default one), namespaces that enforce the restricted
//! Pod Security Standard, the operator running in-process, a client that
//! counts its write requests, and waits on what status says.

use std::{
    future::Future,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    task::{Context as TaskContext, Poll},
    time::Duration,
};

use eshop_operator::{
    controller::{self, Scope},
    crd::EShop,
    crdgen,
    metrics::Metrics,
};
use eshop_testbed::{STORAGE_CLASS, Testbed, wait};
use k8s_openapi::{
    api::{core::v1::Namespace, storage::v1::StorageClass},
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Client, Config, ResourceExt,
    api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams},
    client::ClientBuilder,
    config::{KubeConfigOptions, Kubeconfig},
    runtime::wait::conditions,
};
use serde_json::{Value, json};
use tokio::{sync::OnceCell, task::JoinHandle};

/// The field manager of what the tests apply, as a user's kubectl would.
pub(crate) const USER: &str = "kubectl";

/// The testbed, with the CRD installed and established.
pub(crate) async fn testbed() -> &'static Testbed {
    static READY: OnceCell<()> = OnceCell::const_new();
    let testbed = Testbed::shared().await;
    READY
        .get_or_init(|| async {
            let client = testbed.client();
            let crds = Api::<CustomResourceDefinition>::all(client.clone());
            crds.patch(
                "eshops.eshop-operator.github.io",
                &PatchParams::apply(USER),
                &Patch::Apply(crdgen::crd()),
            )
            .await
            .expect("installing the CRD");
            wait::until(
                &crds,
                "eshops.eshop-operator.github.io",
                "Established",
                conditions::is_crd_established(),
            )
            .await;
            // The minimal example names no StorageClass: make kwok's the default.
            Api::<StorageClass>::all(client)
                .patch(
                    STORAGE_CLASS,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"annotations": {
                        "storageclass.kubernetes.io/is-default-class": "true"
                    }}})),
                )
                .await
                .expect("making kwok's StorageClass the default");
        })
        .await;
    testbed
}

/// A new namespace that enforces the restricted Pod Security Standard.
pub(crate) async fn namespace(testbed: &Testbed, prefix: &str) -> String {
    let name = testbed.create_namespace(prefix).await;
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

/// The testbed's admin configuration.
pub(crate) async fn admin_config(testbed: &Testbed) -> Config {
    let kubeconfig = Kubeconfig::read_from(testbed.kubeconfig()).expect("reading the kubeconfig");
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("the testbed's kubeconfig is valid")
}

/// The write requests (method and path) a client made.
#[derive(Debug, Clone, Default)]
pub(crate) struct Writes(Arc<Mutex<Vec<String>>>);

impl Writes {
    pub(crate) fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    pub(crate) fn list(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A tower layer that records every request that is not a read.
#[derive(Debug, Clone)]
struct CountWrites(Writes);

impl<S> tower::Layer<S> for CountWrites {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            writes: self.0.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct Counted<S> {
    inner: S,
    writes: Writes,
}

impl<S, B> tower::Service<http::Request<B>> for Counted<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.method() != http::Method::GET {
            self.writes.0.lock().unwrap().push(format!(
                "{} {}",
                request.method(),
                request.uri().path()
            ));
        }
        self.inner.call(request)
    }
}

/// A client for `config` that records its writes.
pub(crate) fn counting_client(config: Config) -> (Client, Writes) {
    let writes = Writes::default();
    let client = ClientBuilder::try_from(config)
        .expect("a client for the testbed")
        .with_layer(&CountWrites(writes.clone()))
        .build();
    (client, writes)
}

/// The operator, running in-process for one namespace until dropped.
#[derive(Debug)]
pub(crate) struct Operator {
    task: Option<JoinHandle<()>>,
    pub(crate) writes: Writes,
    pub(crate) metrics: Arc<Metrics>,
}

impl Operator {
    /// Starts the controller with the testbed's admin credentials.
    pub(crate) async fn start(testbed: &Testbed, namespace: &str) -> Self {
        Self::start_with(admin_config(testbed).await, namespace)
    }

    /// Starts the controller with the credentials in `config`.
    pub(crate) fn start_with(config: Config, namespace: &str) -> Self {
        let (client, writes) = counting_client(config);
        let metrics = Arc::new(Metrics::default());
        let task = tokio::spawn(controller::run(
            client,
            Scope {
                namespace: Some(namespace.to_owned()),
            },
            Arc::clone(&metrics),
            std::future::pending(),
        ));
        Self {
            task: Some(task),
            writes,
            metrics,
        }
    }

    /// How many reconciles have finished.
    pub(crate) fn reconciles_finished(&self) -> u64 {
        self.metrics
            .encode()
            .lines()
            .find_map(|line| line.strip_prefix("eshop_operator_reconcile_duration_seconds_count "))
            .and_then(|count| count.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Stops the controller at once, wherever it is, as a killed process would.
    pub(crate) async fn kill(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Polls `check` until it holds, for at most [`wait::TIMEOUT`].
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + wait::TIMEOUT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {what} after {:?}",
            wait::TIMEOUT
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The path of a file in the repository.
pub(crate) fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// The documents of a YAML file of the repository.
pub(crate) fn yaml_documents(relative: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo_path(relative)).expect("reading the YAML file");
    serde_saphyr::from_multiple(&text).expect("the file is valid YAML")
}

/// Applies `documents` in `namespace` as a user would with
/// `kubectl apply --server-side`.
pub(crate) async fn apply_documents(client: &Client, namespace: &str, documents: &[Value]) {
    for document in documents {
        let object: DynamicObject =
            serde_json::from_value(document.clone()).expect("a Kubernetes object");
        let types = object.types.clone().expect("apiVersion and kind");
        let (group, version) = types
            .api_version
            .split_once('/')
            .unwrap_or(("", &types.api_version));
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &types.kind));
        let api = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource);
        api.patch(
            &object.name_any(),
            &PatchParams::apply(USER),
            &Patch::Apply(&object),
        )
        .await
        .unwrap_or_else(|error| panic!("applying {} {}: {error}", types.kind, object.name_any()));
    }
}

/// A condition of the shop's status.
pub(crate) fn condition<'a>(
    shop: &'a EShop,
    type_: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    shop.status
        .as_ref()?
        .conditions
        .iter()
        .find(|condition| condition.type_ == type_)
}

/// Whether the shop reports `Ready=True` for its current generation.
pub(crate) fn is_ready(shop: &EShop) -> bool {
    let current = shop
        .status
        .as_ref()
        .and_then(|status| status.observed_generation)
        == shop.metadata.generation;
    current
        && condition(shop, "Ready").is_some_and(|ready| {
            ready.status == "True" && ready.observed_generation == shop.metadata.generation
        })
}

/// Waits until the shop is Ready for its current generation.
pub(crate) async fn until_ready(api: &Api<EShop>, name: &str) -> EShop {
    wait::until(
        api,
        name,
        "Ready=True for the current generation",
        |shop: Option<&EShop>| shop.is_some_and(is_ready),
    )
    .await
}

/// The minimal example, named `name`, applied in `namespace`.
pub(crate) async fn apply_minimal(client: &Client, namespace: &str, name: &str) {
    let mut documents = yaml_documents("examples/minimal.yaml");
    documents[0]["metadata"]["name"] = json!(name);
    apply_documents(client, namespace, &documents).await;
}

/// Changes the spec as a user would: a merge patch.
pub(crate) async fn patch_spec(api: &Api<EShop>, name: &str, spec: Value) -> EShop {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": spec})),
    )
    .await
    .expect("patching the spec")
}
