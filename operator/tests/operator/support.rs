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
use eshop_testbed::{STORAGE_CLASS, Testbed, judge_binary, wait};
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

/// The testbed, with the CRD installed and established and kwok's
/// StorageClass as the default one.
pub(crate) async fn testbed() -> &'static Testbed {
    static READY: OnceCell<()> = OnceCell::const_new();
    let testbed = Testbed::shared().await;
    READY
        .get_or_init(|| async {
            install_crd(testbed).await;
            // The minimal example names no StorageClass: make kwok's the default.
            set_default_storage_class(testbed, true).await;
        })
        .await;
    testbed
}

/// Installs the CRD and waits until it is established.
pub(crate) async fn install_crd(testbed: &Testbed) {
    let crds = Api::<CustomResourceDefinition>::all(testbed.client());
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
}

/// Makes kwok's StorageClass the cluster's default, or not.
pub(crate) async fn set_default_storage_class(testbed: &Testbed, default: bool) {
    Api::<StorageClass>::all(testbed.client())
        .patch(
            STORAGE_CLASS,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {
                "storageclass.kubernetes.io/is-default-class": default.to_string()
            }}})),
        )
        .await
        .expect("marking kwok's StorageClass");
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

/// Requests to fail on purpose, as a flaky network or a busy API server
/// would: each failing request fails before it leaves the client.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults(Arc<Mutex<Option<Fault>>>);

#[derive(Debug, Clone)]
enum Fault {
    /// The writes whose path contains the fragment.
    WritesTo(String),
    /// Every request: the client is cut off from the API server.
    Partition,
}

impl Faults {
    /// Fails the writes whose path contains `fragment`.
    pub(crate) fn fail_writes_to(&self, fragment: &str) {
        *self.0.lock().unwrap() = Some(Fault::WritesTo(fragment.to_owned()));
    }

    /// Fails every request, reads included.
    pub(crate) fn partition(&self) {
        *self.0.lock().unwrap() = Some(Fault::Partition);
    }

    pub(crate) fn stop(&self) {
        *self.0.lock().unwrap() = None;
    }

    fn fails(&self, write: bool, path: &str) -> bool {
        match &*self.0.lock().unwrap() {
            Some(Fault::WritesTo(fragment)) => write && path.contains(fragment.as_str()),
            Some(Fault::Partition) => true,
            None => false,
        }
    }
}

/// A tower layer that records every request that is not a read, and fails
/// those that [`Faults`] says to.
#[derive(Debug, Clone)]
struct CountWrites(Writes, Faults);

impl<S> tower::Layer<S> for CountWrites {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            writes: self.0.clone(),
            faults: self.1.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct Counted<S> {
    inner: S,
    writes: Writes,
    faults: Faults,
}

impl<S, B> tower::Service<http::Request<B>> for Counted<S>
where
    S: tower::Service<http::Request<B>>,
    S::Response: Send + 'static,
    S::Error: Into<tower::BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = tower::BoxError;
    type Future = futures::future::BoxFuture<'static, Result<S::Response, tower::BoxError>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let write = request.method() != http::Method::GET;
        let path = request.uri().path().to_owned();
        if write {
            self.writes
                .0
                .lock()
                .unwrap()
                .push(format!("{} {path}", request.method()));
        }
        if self.faults.fails(write, &path) {
            return Box::pin(std::future::ready(Err(
                "injected fault: connection reset by peer".into(),
            )));
        }
        let response = self.inner.call(request);
        Box::pin(async move { response.await.map_err(Into::into) })
    }
}

/// A client for `config` that records its writes and fails those `faults`
/// says to.
pub(crate) fn counting_client(config: Config, faults: Faults) -> (Client, Writes) {
    let writes = Writes::default();
    let client = ClientBuilder::try_from(config)
        .expect("a client for the testbed")
        .with_layer(&CountWrites(writes.clone(), faults))
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
        Self::start_with_faults(config, namespace, Faults::default())
    }

    /// Starts the controller with the credentials in `config`, failing the
    /// writes `faults` says to.
    pub(crate) fn start_with_faults(config: Config, namespace: &str, faults: Faults) -> Self {
        let (client, writes) = counting_client(config, faults);
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
        self.metric("eshop_operator_reconcile_duration_seconds_count")
    }

    /// A counter of the operator's metrics, by its name and labels as
    /// Prometheus' text format writes them; 0 when absent.
    pub(crate) fn metric(&self, series: &str) -> u64 {
        self.metrics
            .encode()
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{series} ")))
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

/// What outside tools make of a shop's status: kstatus (as Flux reads it)
/// and Argo CD's Lua health check, run by `eshop-judge`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub(crate) struct Judgement {
    pub(crate) kstatus: Verdict,
    pub(crate) argo: Verdict,
}

/// One tool's status and message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub(crate) struct Verdict {
    pub(crate) status: String,
    pub(crate) message: String,
}

/// Judges `shop` as it is (or its absence).
pub(crate) fn judge(shop: Option<&EShop>) -> Judgement {
    use std::io::Write;
    let binary = judge_binary();
    let mut child = std::process::Command::new(&binary)
        .arg(repo_path(
            "deploy/argocd/eshop-operator.github.io/EShop/health.lua",
        ))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "running {} (built by tests/e2e/build-control-plane.sh): {error}",
                binary.display()
            )
        });
    let input = serde_json::to_vec(&shop).expect("an EShop serializes");
    child
        .stdin
        .take()
        .expect("a piped stdin")
        .write_all(&input)
        .expect("writing to the judge");
    let output = child.wait_with_output().expect("the judge runs");
    assert!(
        output.status.success(),
        "the judge failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the judge prints its verdicts as JSON")
}

/// The operator's binary running as a process against the testbed, killed
/// when dropped.
#[derive(Debug)]
pub(crate) struct OperatorProcess {
    child: tokio::process::Child,
    pid: nix::unistd::Pid,
    metrics_port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl OperatorProcess {
    /// Starts `eshop-operator run` with `kubeconfig`, as `identity`, holding
    /// its Lease in `lease_namespace`, with `extra` arguments.
    pub(crate) fn start(
        kubeconfig: &Path,
        identity: &str,
        lease_namespace: &str,
        extra: &[&str],
    ) -> Self {
        let dir = tempfile::tempdir().expect("a directory for the operator's log");
        let log = dir.path().join("operator.log");
        let out = std::fs::File::create(&log).expect("creating the log");
        let err = out.try_clone().expect("sharing the log");
        let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_eshop-operator"))
            .arg("run")
            .args(["--listen", &format!("127.0.0.1:{metrics_port}")])
            .args(["--lease-namespace", lease_namespace])
            .args(["--identity", identity])
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .env("ESHOP_OPERATOR_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .expect("starting eshop-operator");
        let pid = nix::unistd::Pid::from_raw(
            i32::try_from(child.id().expect("a running child")).expect("a pid fits in i32"),
        );
        Self {
            child,
            pid,
            metrics_port,
            log,
            _dir: dir,
        }
    }

    /// Sends `signal` to the process.
    pub(crate) fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid, signal).expect("signalling the operator");
    }

    /// Waits at most `within` for the process to exit; its exit status.
    pub(crate) async fn exited_within(
        &mut self,
        within: Duration,
    ) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(within, self.child.wait())
            .await
            .ok()
            .map(|status| status.expect("waiting for the operator"))
    }

    /// What the operator logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A counter or gauge from `/metrics`, 0 when absent or unreachable.
    pub(crate) async fn metric(&self, name: &str) -> f64 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", self.metrics_port)).await
        else {
            return 0.0;
        };
        let request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        let mut response = String::new();
        if stream.write_all(request.as_bytes()).await.is_err()
            || stream.read_to_string(&mut response).await.is_err()
        {
            return 0.0;
        }
        response
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

/// A kubeconfig for the testbed that authenticates as the ServiceAccount
/// `name` of `namespace`, bound to `cluster_role`, written to `path`.
pub(crate) async fn service_account_kubeconfig(
    testbed: &Testbed,
    namespace: &str,
    name: &str,
    cluster_role: &str,
    path: &Path,
) {
    use k8s_openapi::api::{
        authentication::v1::{TokenRequest, TokenRequestSpec},
        core::v1::ServiceAccount,
        rbac::v1::{ClusterRoleBinding, RoleRef, Subject},
    };
    let client = testbed.client();
    let accounts = Api::<ServiceAccount>::namespaced(client.clone(), namespace);
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": name}})).expect("a ServiceAccount");
    accounts
        .create(&kube::api::PostParams::default(), &account)
        .await
        .expect("creating the ServiceAccount");
    let binding = ClusterRoleBinding {
        metadata: kube::api::ObjectMeta {
            name: Some(format!("{namespace}-{name}")),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "ClusterRole".to_owned(),
            name: cluster_role.to_owned(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: name.to_owned(),
            namespace: Some(namespace.to_owned()),
            ..Default::default()
        }]),
    };
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&kube::api::PostParams::default(), &binding)
        .await
        .expect("binding the ServiceAccount");
    let token = accounts
        .create_token_request(
            name,
            &kube::api::PostParams::default(),
            &TokenRequest {
                spec: TokenRequestSpec {
                    audiences: vec![],
                    expiration_seconds: Some(3600),
                    ..TokenRequestSpec::default()
                },
                ..TokenRequest::default()
            },
        )
        .await
        .expect("a token of the ServiceAccount")
        .status
        .expect("a token")
        .token;
    let mut kubeconfig: Value = serde_json::from_str(
        &std::fs::read_to_string(testbed.kubeconfig()).expect("reading the admin kubeconfig"),
    )
    .expect("the testbed's kubeconfig is JSON");
    kubeconfig["users"][0]["user"] = json!({"token": token});
    std::fs::write(path, kubeconfig.to_string()).expect("writing the kubeconfig");
}

/// The write requests the API server audited, as JSON events, oldest first.
pub(crate) fn audit_events(testbed: &Testbed) -> Vec<Value> {
    std::fs::read_to_string(testbed.audit_log())
        .expect("reading the audit log")
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["stage"] == "ResponseComplete")
        .collect()
}

/// A timestamp of an audit event (`requestReceivedTimestamp` or
/// `stageTimestamp`).
pub(crate) fn audit_time(event: &Value, field: &str) -> k8s_openapi::jiff::Timestamp {
    event[field]
        .as_str()
        .and_then(|time| time.parse().ok())
        .unwrap_or_else(|| panic!("an audit event has a {field}: {event}"))
}
