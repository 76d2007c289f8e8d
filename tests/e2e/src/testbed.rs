//! Starting, using and stopping one local control plane.
//!
//! `Testbed::start` generates keys in a fresh temporary directory, picks free
//! loopback ports, starts etcd and kube-apiserver and waits for `/readyz`, then
//! starts kube-controller-manager, kube-scheduler and kwok, creates the kwok
//! storage class and a node, and waits until the node is Ready and the
//! controller manager has created the `default` service account. Dropping the
//! `Testbed` kills the processes and removes the directory. The API server
//! audits every write request to [`Testbed::audit_log`].

use std::{
    ffi::OsString,
    net::TcpListener,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use k8s_openapi::api::{
    core::v1::{Namespace, Node, ServiceAccount},
    storage::v1::StorageClass,
};
use kube::{
    Api, Client, Config,
    api::{ObjectMeta, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use tempfile::TempDir;
use tokio::sync::OnceCell;

use crate::{
    TestbedError,
    builds::{ControlPlaneBuilds, KWOK_STORAGE_CLASS},
    pki::Pki,
    processes::Processes,
};

/// How long each readiness stage may take before the start fails.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How often readiness is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Starts retried with fresh ports when another process took a chosen port first.
const START_ATTEMPTS: u32 = 3;
/// The fake node that kwok keeps Ready.
const NODE_NAME: &str = "kwok-node-0";
/// The API server's audit log, in the testbed's directory.
const AUDIT_LOG: &str = "logs/audit.log";
/// Every write request is audited (who, what, when, with what outcome);
/// reads are not.
const AUDIT_POLICY: &str = "\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
";

/// A running control plane: etcd, kube-apiserver, kube-controller-manager,
/// kube-scheduler and kwok, as local processes on loopback ports.
#[derive(Debug)]
pub struct Testbed {
    processes: Processes,
    config: Config,
    kubeconfig: PathBuf,
    kubectl_dir: PathBuf,
    started_in: Duration,
    dir: TempDir,
}

impl Testbed {
    /// Starts a new control plane and waits until it is ready for workloads.
    pub async fn start() -> Result<Self, TestbedError> {
        let builds = ControlPlaneBuilds::locate()?;
        let mut attempt = 1;
        loop {
            match Self::start_once(&builds).await {
                Err(error) if error.is_port_conflict() && attempt < START_ATTEMPTS => {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// The control plane shared by every test in this test binary, started by
    /// the first test that asks. Each test should work in its own namespace
    /// (see [`Testbed::create_namespace`]).
    ///
    /// # Panics
    /// When the control plane cannot start; the message says why.
    pub async fn shared() -> &'static Self {
        static SHARED: OnceCell<Testbed> = OnceCell::const_new();
        SHARED
            .get_or_init(|| async {
                Self::start()
                    .await
                    .unwrap_or_else(|error| panic!("the testbed did not start: {error}"))
            })
            .await
    }

    /// A client for the admin user, bound to the caller's async runtime.
    ///
    /// # Panics
    /// Never in practice: the same configuration already made a client at start.
    pub fn client(&self) -> Client {
        Client::try_from(self.config.clone()).expect("the testbed's client configuration is valid")
    }

    /// The admin kubeconfig, for `kubectl` or any other client.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The directory holding `kubectl` of the same version as the API server.
    pub fn kubectl_dir(&self) -> &Path {
        &self.kubectl_dir
    }

    /// The testbed's temporary directory: keys, etcd data and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The API server's audit log: one JSON event per write request.
    pub fn audit_log(&self) -> PathBuf {
        self.dir.path().join(AUDIT_LOG)
    }

    /// How long the start took, from nothing to ready for workloads.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// Creates a namespace named `<prefix>-<n>`, unique within this testbed.
    ///
    /// # Panics
    /// When the API server refuses to create it.
    pub async fn create_namespace(&self, prefix: &str) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let name = format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(self.client())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap_or_else(|error| panic!("creating namespace {name}: {error}"));
        name
    }

    async fn start_once(builds: &ControlPlaneBuilds) -> Result<Self, TestbedError> {
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("eshop-testbed-")
            .tempdir()
            .map_err(|source| TestbedError::io("creating the testbed directory", source))?;
        let files = TestbedFiles::write(dir.path())?;
        let [etcd_client, etcd_peer, apiserver] = free_ports()?;
        let mut processes = Processes::new(dir.path())
            .map_err(|source| TestbedError::io("starting the guardian", source))?;

        processes.spawn(
            "etcd",
            &builds.etcd(),
            etcd_args(dir.path(), etcd_client, etcd_peer),
        )?;
        processes.spawn(
            "kube-apiserver",
            &builds.kubernetes_binary("kube-apiserver"),
            apiserver_args(&files, etcd_client, apiserver),
        )?;
        let kubeconfig = files.write_kubeconfig(apiserver)?;
        let config = Config::from_custom_kubeconfig(
            Kubeconfig::read_from(&kubeconfig)?,
            &KubeConfigOptions::default(),
        )
        .await?;
        let client = Client::try_from(config.clone())?;
        wait_until(&mut processes, "kube-apiserver", "/readyz", || async {
            let request = http::Request::get("/readyz")
                .body(Vec::new())
                .expect("a GET request without a body is valid");
            client.request_text(request).await.is_ok()
        })
        .await?;

        processes.spawn(
            "kube-controller-manager",
            &builds.kubernetes_binary("kube-controller-manager"),
            controller_manager_args(&files, &kubeconfig),
        )?;
        processes.spawn(
            "kube-scheduler",
            &builds.kubernetes_binary("kube-scheduler"),
            scheduler_args(&kubeconfig),
        )?;
        processes.spawn("kwok", &builds.kwok(), kwok_args(builds, &kubeconfig))?;

        create_storage_class_and_node(&client).await?;
        let nodes = Api::<Node>::all(client.clone());
        wait_until(&mut processes, "kwok", "node to be Ready", || async {
            nodes
                .get_opt(NODE_NAME)
                .await
                .ok()
                .flatten()
                .is_some_and(|node| is_ready(&node))
        })
        .await?;
        let service_accounts = Api::<ServiceAccount>::namespaced(client.clone(), "default");
        wait_until(
            &mut processes,
            "kube-controller-manager",
            "default service account",
            || async { matches!(service_accounts.get_opt("default").await, Ok(Some(_))) },
        )
        .await?;

        Ok(Self {
            processes,
            config,
            kubeconfig,
            kubectl_dir: builds.kubernetes_dir().to_owned(),
            started_in: started.elapsed(),
            dir,
        })
    }
}

impl Drop for Testbed {
    /// Stops the processes; the directory goes with the `TempDir` afterwards.
    fn drop(&mut self) {
        self.processes.stop_all();
    }
}

/// Polls `ready` until it holds, failing early when a process exits and with
/// `component`'s log when `READY_TIMEOUT` passes.
async fn wait_until<F, Fut>(
    processes: &mut Processes,
    component: &'static str,
    what: &'static str,
    mut ready: F,
) -> Result<(), TestbedError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        processes.ensure_running()?;
        if ready().await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(TestbedError::NotReady {
                component,
                what,
                waited: READY_TIMEOUT,
                log_tail: processes.log_tail(component),
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|condition| condition.type_ == "Ready" && condition.status == "True")
        })
}

async fn create_storage_class_and_node(client: &Client) -> Result<(), TestbedError> {
    let storage_class = StorageClass {
        metadata: ObjectMeta {
            name: Some(KWOK_STORAGE_CLASS.to_owned()),
            ..ObjectMeta::default()
        },
        provisioner: "kwok.x-k8s.io/volume".to_owned(),
        reclaim_policy: Some("Delete".to_owned()),
        volume_binding_mode: Some("Immediate".to_owned()),
        allow_volume_expansion: Some(true),
        ..StorageClass::default()
    };
    Api::<StorageClass>::all(client.clone())
        .create(&PostParams::default(), &storage_class)
        .await?;
    let node = Node {
        metadata: ObjectMeta {
            name: Some(NODE_NAME.to_owned()),
            labels: Some(
                [
                    ("type".to_owned(), "kwok".to_owned()),
                    ("kubernetes.io/hostname".to_owned(), NODE_NAME.to_owned()),
                    ("kubernetes.io/os".to_owned(), "linux".to_owned()),
                ]
                .into(),
            ),
            annotations: Some([("kwok.x-k8s.io/node".to_owned(), "fake".to_owned())].into()),
            ..ObjectMeta::default()
        },
        ..Node::default()
    };
    Api::<Node>::all(client.clone())
        .create(&PostParams::default(), &node)
        .await?;
    Ok(())
}

/// The key and certificate files in the testbed's directory.
#[derive(Debug)]
struct TestbedFiles {
    dir: PathBuf,
    pki: Pki,
}

impl TestbedFiles {
    fn write(dir: &Path) -> Result<Self, TestbedError> {
        let pki = Pki::generate()?;
        let files = [
            ("ca.crt", &pki.ca.cert_pem),
            ("ca.key", &pki.ca.key_pem),
            ("apiserver.crt", &pki.serving.cert_pem),
            ("apiserver.key", &pki.serving.key_pem),
            ("service-account.key", &pki.service_account_key_pem),
            ("service-account.pub", &pki.service_account_public_pem),
        ];
        let policy = ("audit-policy.yaml", AUDIT_POLICY.as_bytes());
        for (name, contents) in files
            .iter()
            .map(|(name, contents)| (*name, contents.as_bytes()))
            .chain([policy])
        {
            std::fs::write(dir.join(name), contents)
                .map_err(|source| TestbedError::io("writing keys", source))?;
        }
        Ok(Self {
            dir: dir.to_owned(),
            pki,
        })
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Writes the admin kubeconfig (JSON, which is YAML too) with the
    /// certificates inline, so it works when copied or mounted elsewhere.
    fn write_kubeconfig(&self, apiserver_port: u16) -> Result<PathBuf, TestbedError> {
        let kubeconfig = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{
                "name": "eshop-testbed",
                "cluster": {
                    "server": format!("https://127.0.0.1:{apiserver_port}"),
                    "certificate-authority-data": BASE64.encode(&self.pki.ca.cert_pem),
                },
            }],
            "users": [{
                "name": "eshop-testbed-admin",
                "user": {
                    "client-certificate-data": BASE64.encode(&self.pki.admin.cert_pem),
                    "client-key-data": BASE64.encode(&self.pki.admin.key_pem),
                },
            }],
            "contexts": [{
                "name": "eshop-testbed",
                "context": { "cluster": "eshop-testbed", "user": "eshop-testbed-admin" },
            }],
            "current-context": "eshop-testbed",
        });
        let path = self.dir.join("admin.kubeconfig");
        std::fs::write(&path, kubeconfig.to_string())
            .map_err(|source| TestbedError::io("writing the kubeconfig", source))?;
        Ok(path)
    }
}

/// Distinct loopback ports that are free right now. Another process may still
/// take one before the component binds it; `Testbed::start` then retries.
fn free_ports<const N: usize>() -> Result<[u16; N], TestbedError> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind(("127.0.0.1", 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TestbedError::io("finding free ports", source))?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener
            .local_addr()
            .map_err(|source| TestbedError::io("finding free ports", source))?
            .port();
    }
    Ok(ports)
}

fn args<const N: usize>(args: [String; N]) -> Vec<OsString> {
    args.into_iter().map(OsString::from).collect()
}

fn etcd_args(dir: &Path, client_port: u16, peer_port: u16) -> Vec<OsString> {
    let client = format!("http://127.0.0.1:{client_port}");
    let peer = format!("http://127.0.0.1:{peer_port}");
    args([
        "--name=testbed".to_owned(),
        format!("--data-dir={}", dir.join("etcd").display()),
        format!("--listen-client-urls={client}"),
        format!("--advertise-client-urls={client}"),
        format!("--listen-peer-urls={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster=testbed={peer}"),
        "--unsafe-no-fsync=true".to_owned(),
        "--log-level=warn".to_owned(),
    ])
}

fn apiserver_args(files: &TestbedFiles, etcd_port: u16, port: u16) -> Vec<OsString> {
    args([
        format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
        "--bind-address=127.0.0.1".to_owned(),
        // Without an explicit address it looks for a default route and exits
        // on machines that have none.
        "--advertise-address=127.0.0.1".to_owned(),
        format!("--secure-port={port}"),
        format!("--tls-cert-file={}", files.path("apiserver.crt")),
        format!("--tls-private-key-file={}", files.path("apiserver.key")),
        format!("--client-ca-file={}", files.path("ca.crt")),
        "--authorization-mode=RBAC".to_owned(),
        "--service-account-issuer=https://kubernetes.default.svc".to_owned(),
        format!(
            "--service-account-key-file={}",
            files.path("service-account.pub")
        ),
        format!(
            "--service-account-signing-key-file={}",
            files.path("service-account.key")
        ),
        "--service-cluster-ip-range=10.96.0.0/16".to_owned(),
        "--allow-privileged=true".to_owned(),
        "--endpoint-reconciler-type=none".to_owned(),
        "--profiling=false".to_owned(),
        format!("--audit-policy-file={}", files.path("audit-policy.yaml")),
        format!("--audit-log-path={}", files.path(AUDIT_LOG)),
        "--audit-log-format=json".to_owned(),
    ])
}

fn controller_manager_args(files: &TestbedFiles, kubeconfig: &Path) -> Vec<OsString> {
    args([
        format!("--kubeconfig={}", kubeconfig.display()),
        "--leader-elect=false".to_owned(),
        // 0 serves nothing: the default binds a fixed port on every interface.
        "--secure-port=0".to_owned(),
        format!(
            "--service-account-private-key-file={}",
            files.path("service-account.key")
        ),
        format!("--root-ca-file={}", files.path("ca.crt")),
        format!("--cluster-signing-cert-file={}", files.path("ca.crt")),
        format!("--cluster-signing-key-file={}", files.path("ca.key")),
        "--profiling=false".to_owned(),
    ])
}

fn scheduler_args(kubeconfig: &Path) -> Vec<OsString> {
    args([
        format!("--kubeconfig={}", kubeconfig.display()),
        "--leader-elect=false".to_owned(),
        "--secure-port=0".to_owned(),
        "--profiling=false".to_owned(),
    ])
}

fn kwok_args(builds: &ControlPlaneBuilds, kubeconfig: &Path) -> Vec<OsString> {
    let mut kwok = args([
        format!("--kubeconfig={}", kubeconfig.display()),
        "--manage-all-nodes=true".to_owned(),
        "--node-lease-duration-seconds=40".to_owned(),
        "--cidr=10.244.0.0/16".to_owned(),
        "--node-ip=127.0.0.1".to_owned(),
    ]);
    kwok.extend(
        builds
            .kwok_stages()
            .into_iter()
            .map(|stage| OsString::from(format!("--config={}", stage.display()))),
    );
    kwok
}
