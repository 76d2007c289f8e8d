//! What a cluster gives the shop's pods, played on this machine's
//! loopback, so that each service runs from the image as the operator
//! deploys it:
//!
//! - the Deployments are the operator's own (`eshop_operator::build`) for
//!   `examples/minimal.yaml`, with credentials generated for the test;
//! - each container runs as its Deployment says (see [`crate::kubelet`]),
//!   with its env resolved from the Secrets the same builder made;
//! - pods have addresses of their own: each service gets one loopback
//!   address and listens there (`ESHOP_LISTEN` and `ESHOP_ADMIN_LISTEN`,
//!   which the operator renders as `0.0.0.0:8080` and `0.0.0.0:9090`, keep
//!   their ports); the other containers resolve its
//!   Service name (`shop-users`, ...) to that address through `/etc/hosts`,
//!   so the service URLs the operator rendered are used unchanged;
//! - PostgreSQL and Redis are the loopback test servers
//!   (`ESHOP_TEST_POSTGRES_URL`, `ESHOP_TEST_REDIS_URL`), with a database
//!   and a key prefix of this cluster's own, in place of the in-cluster
//!   StatefulSets: their URLs and the key prefix are the only rendered
//!   values replaced.

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr, TcpListener},
};

use eshop_operator::{
    build::{
        self, Children, Credentials, Inputs, Shop, secrets::FoundSecrets,
        service_deployment::SERVICES,
    },
    crd::EShop,
};
use eshop_platform::settings::{
    ADMIN_LISTEN, DATABASE_URL, LISTEN, REDIS_KEY_PREFIX, REDIS_URL, Var,
};
use eshop_test_support::{TestDatabase, TestRedis};
use k8s_openapi::{
    api::{apps::v1::Deployment, core::v1::Container as PodContainer},
    apimachinery::pkg::util::intstr::IntOrString,
};

use crate::{
    kubelet::{self, replace},
    podman::{Container, RunSpec},
};

/// The minimal example's shop, its children, and where each service runs.
pub(crate) struct LoopbackCluster {
    shop: EShop,
    children: Children,
    addresses: BTreeMap<&'static str, Ipv4Addr>,
    /// Names this cluster's containers, so a test can find them.
    label: String,
    database: TestDatabase,
    redis: TestRedis,
}

impl LoopbackCluster {
    pub(crate) async fn new() -> Self {
        let shop = minimal_example();
        let inputs = Inputs {
            credentials: Credentials::from_secrets(&FoundSecrets::new()),
            claim_template_sizes: BTreeMap::new(),
        };
        let children = build::children(&shop, &inputs).expect("the operator builds the shop");
        Self {
            shop,
            children,
            addresses: free_addresses(),
            label: format!("eshop-cluster={}", uuid::Uuid::new_v4().simple()),
            database: TestDatabase::create().await,
            redis: TestRedis::create().await,
        }
    }

    /// The label on this cluster's containers, `name=value`.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// Starts `service` from the image as its Deployment says.
    pub(crate) fn start(&self, service: &str) -> Container {
        let (pod, container) = self.pod(service);
        let mut env = kubelet::resolve_env(
            container.env.as_deref().unwrap_or_default(),
            &self.children.secrets,
            |field| {
                panic!("the {service} Deployment reads {field}, which this cluster does not give")
            },
        );
        for listen in [&LISTEN, &ADMIN_LISTEN] {
            let port = rendered_address(&env, listen).port();
            replace(
                &mut env,
                listen.name,
                &self.address(service, port).to_string(),
            );
        }
        replace(&mut env, DATABASE_URL.name, &self.database.url());
        replace(&mut env, REDIS_URL.name, self.redis.url());
        replace(&mut env, REDIS_KEY_PREFIX.name, self.redis.prefix());
        Container::start(&RunSpec {
            name: service.to_owned(),
            launch: kubelet::launch(pod, container),
            env,
            hosts: self.hosts(),
            options: vec![format!("--label={}", self.label)],
        })
    }

    /// Where `service`'s readiness probe asks, and its path.
    pub(crate) fn readiness(&self, service: &str) -> (SocketAddr, String) {
        let (_, container) = self.pod(service);
        let get = container
            .readiness_probe
            .as_ref()
            .and_then(|probe| probe.http_get.as_ref())
            .expect("an HTTP readiness probe");
        let port = match &get.port {
            IntOrString::Int(port) => *port,
            IntOrString::String(name) => container_port(container, name),
        };
        let path = get.path.clone().expect("a probe path");
        (self.address(service, to_port(port)), path)
    }

    /// The base URL of `service`'s API, as a client on this machine reaches
    /// it.
    pub(crate) fn url(&self, service: &str) -> String {
        let (_, container) = self.pod(service);
        let port = to_port(container_port(container, "http"));
        format!("http://{}", self.address(service, port))
    }

    fn address(&self, service: &str, port: u16) -> SocketAddr {
        SocketAddr::from((self.addresses[service], port))
    }

    /// Every Service name of the shop and its address.
    fn hosts(&self) -> Vec<(String, String)> {
        let shop = Shop::new(&self.shop).expect("a shop");
        self.addresses
            .iter()
            .map(|(service, address)| (shop.child_name(service), address.to_string()))
            .collect()
    }

    /// The pod spec and the one container of `service`'s Deployment.
    fn pod(&self, service: &str) -> (&k8s_openapi::api::core::v1::PodSpec, &PodContainer) {
        let name = format!(
            "{}-{service}",
            self.shop.metadata.name.as_deref().unwrap_or_default()
        );
        let deployment: &Deployment = self
            .children
            .deployments
            .iter()
            .find(|deployment| deployment.metadata.name.as_deref() == Some(&name))
            .unwrap_or_else(|| panic!("the operator builds no Deployment {name}"));
        let pod = deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.template.spec.as_ref())
            .expect("a pod template");
        assert_eq!(pod.containers.len(), 1, "{name} runs one container");
        (pod, &pod.containers[0])
    }
}

/// The address the operator rendered for `listen`.
fn rendered_address(env: &[(String, String)], listen: &Var) -> SocketAddr {
    let (_, address) = env
        .iter()
        .find(|(name, _)| name == listen.name)
        .unwrap_or_else(|| panic!("every service is given {}", listen.name));
    address
        .parse()
        .unwrap_or_else(|_| panic!("{} is an address", listen.name))
}

/// The number of `container`'s port called `name`.
fn container_port(container: &PodContainer, name: &str) -> i32 {
    container
        .ports
        .iter()
        .flatten()
        .find(|port| port.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("the container has no port {name}"))
        .container_port
}

fn to_port(port: i32) -> u16 {
    u16::try_from(port).expect("a port")
}

/// `examples/minimal.yaml` as the API server would hand it to the operator.
pub(crate) fn minimal_example() -> EShop {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/minimal.yaml");
    let text = std::fs::read_to_string(path).expect("reading examples/minimal.yaml");
    let mut shop: EShop = serde_saphyr::from_str(&text).expect("the minimal example is an EShop");
    shop.metadata.namespace = Some("loopback".to_owned());
    shop.metadata.uid = Some(uuid::Uuid::new_v4().to_string());
    shop
}

/// One loopback address per service, in a block of 127.0.0.0/8 picked at
/// random so that tests running together do not meet, each checked free
/// on the services' ports.
fn free_addresses() -> BTreeMap<&'static str, Ipv4Addr> {
    let ports = [build::HTTP_PORT, build::ADMIN_PORT].map(to_port);
    loop {
        let random = uuid::Uuid::new_v4().into_bytes();
        let addresses: BTreeMap<_, _> = SERVICES
            .iter()
            .zip(1..)
            .map(|(service, host)| {
                let address = Ipv4Addr::new(127, 100 + random[0] % 100, random[1], host);
                (service.name, address)
            })
            .collect();
        if addresses.values().all(|address| {
            ports
                .iter()
                .all(|port| TcpListener::bind((*address, *port)).is_ok())
        }) {
            return addresses;
        }
    }
}
