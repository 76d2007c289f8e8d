//! The `EShop` custom resource: its spec, status and validation rules.
//!
//! The CRD in `crds/eshop.yaml` is generated from these types
//! (`eshop-operator crd`). Doc comments become the field descriptions that
//! `kubectl explain` shows, `Default` impls become the schema's defaults,
//! and the `x-kubernetes-validations` extensions become CEL rules that the
//! API server itself enforces, each with a message that names the field to
//! fix. Admission refuses every value that could never work: malformed or
//! negative quantities, a request above its limit, names that would make
//! invalid children, image references with spaces, and fields that
//! contradict each other. The patterns and rules are in [`rules`].

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{LocalObjectReference, ResourceRequirements},
    apimachinery::pkg::{api::resource::Quantity, apis::meta::v1::Condition},
};
use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

pub mod rules;

/// The API group of the `EShop` resource.
pub const GROUP: &str = "eshop-operator.github.io";

/// The image every service runs unless the spec names another.
pub const DEFAULT_IMAGE: &str = "ghcr.io/eshop-operator/eshop";
/// PostgreSQL's official image, pinned to a version, with the registry
/// spelled out so that runtimes that refuse short names pull it too.
pub const DEFAULT_POSTGRES_IMAGE: &str = "docker.io/library/postgres:17.5-alpine";
/// Redis's official image, pinned to a version.
pub const DEFAULT_REDIS_IMAGE: &str = "docker.io/library/redis:7.4.2-alpine";

/// An eShop: the shop's services, PostgreSQL, Redis and everything around
/// them, reconciled by the eshop-operator.
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "eshop-operator.github.io",
    version = "v1alpha1",
    kind = "EShop",
    plural = "eshops",
    singular = "eshop",
    shortname = "shop",
    namespaced,
    status = "EShopStatus",
    doc = "An eShop: a demo e-commerce shop of Rust services with PostgreSQL and Redis, reconciled by the eshop-operator.",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".spec.image.tag"}"#,
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".status.url"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct EShopSpec {
    /// The image of the shop's services: one image holds them all.
    #[serde(default)]
    pub image: ImageSpec,
    /// Replicas, resources and autoscaling of each service.
    #[serde(default)]
    pub services: ServicesSpec,
    /// Where the shop keeps its relational data: an in-cluster PostgreSQL
    /// (a StatefulSet the operator runs) or an external one.
    #[serde(default)]
    pub database: DatabaseSpec,
    /// The in-cluster Redis that holds carts, ratings and the event bus.
    #[serde(default)]
    pub redis: RedisSpec,
    /// An Ingress to the gateway, the shop's public entry point.
    #[serde(default)]
    pub ingress: IngressSpec,
    /// Load the demo catalog (categories and products) when the catalog starts.
    #[serde(default = "yes")]
    pub demo_data: bool,
    /// Create NetworkPolicies: deny all traffic to and from the shop's pods
    /// except the paths the shop needs (the gateway from anywhere, services
    /// from each other, services to PostgreSQL and Redis, DNS, metrics scraping).
    #[serde(default = "yes")]
    pub network_policies: bool,
    /// What happens to the PostgreSQL and Redis PersistentVolumeClaims when
    /// the EShop is deleted: `Retain` keeps them (and the data), `Delete`
    /// removes them.
    #[serde(default)]
    pub pvc_retention: PvcRetention,
    /// Stop applying changes: while true the operator leaves every child as
    /// it is and only reports status.
    #[serde(default)]
    pub paused: bool,
}

fn yes() -> bool {
    true
}

/// Which image the services run, and how it is pulled.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ImageSpec {
    /// The image repository, without a tag, such as
    /// `ghcr.io/eshop-operator/eshop`. Point it at a mirror or a private
    /// registry to pull the shop's image from there.
    #[schemars(length(min = 1, max = 255))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": rules::matches(rules::REPOSITORY), "message": "image.repository must be an image repository such as ghcr.io/eshop-operator/eshop: lowercase letters, digits, '.', '_', '-' and '/', an optional registry port, no tag and no spaces"}]))]
    pub repository: String,
    /// The image tag: the shop's version. Letters, digits, `_`, `.` and
    /// `-`, at most 128 characters.
    #[schemars(length(min = 1, max = 128))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": rules::matches(rules::TAG), "message": "image.tag must be an image tag such as 0.1.0: letters, digits, '_', '.' and '-', not starting with '.' or '-'"}]))]
    pub tag: String,
    /// When the kubelet pulls the images of every pod of the shop
    /// (services, PostgreSQL and Redis).
    pub pull_policy: PullPolicy,
    /// Secrets of type `kubernetes.io/dockerconfigjson` in the EShop's
    /// namespace with registry credentials, set as `imagePullSecrets` on
    /// every pod of the shop (services, PostgreSQL and Redis), for private
    /// registries and mirrors.
    #[schemars(schema_with = "pull_secrets")]
    pub pull_secrets: Vec<LocalObjectReference>,
}

impl Default for ImageSpec {
    fn default() -> Self {
        Self {
            repository: DEFAULT_IMAGE.to_owned(),
            tag: env!("CARGO_PKG_VERSION").to_owned(),
            pull_policy: PullPolicy::IfNotPresent,
            pull_secrets: Vec::new(),
        }
    }
}

/// Up to 16 references to Secrets, each by a name that can be a Secret's.
fn pull_secrets(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "maxItems": 16,
        "items": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {
                    "description": "The name of a Secret in the EShop's namespace.",
                    "type": "string",
                    "maxLength": 253,
                    "x-kubernetes-validations": [{
                        "rule": rules::matches(rules::DNS_SUBDOMAIN),
                        "message": "image.pullSecrets must each name a Secret: a DNS subdomain such as registry-credentials",
                    }],
                },
            },
        },
    })
}

/// A container image pull policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// Every service of the shop, each tuned on its own.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ServicesSpec {
    /// The web storefront and public API.
    pub gateway: ServiceSpec,
    /// Registration, login and users' tokens.
    pub users: ServiceSpec,
    /// Products, search and stock.
    pub catalog: ServiceSpec,
    /// Shopping carts.
    pub cart: ServiceSpec,
    /// Stars and reviews.
    pub ratings: ServiceSpec,
    /// The simulated bank.
    pub wallet: ServiceSpec,
    /// Shipping quotes.
    pub shipping: ServiceSpec,
    /// Orders and their lifecycle.
    pub orders: ServiceSpec,
    /// Checkout.
    pub payments: ServiceSpec,
    /// Ships paid orders.
    pub dispatch: ServiceSpec,
}

/// How one service runs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "self.replicas >= 0 && self.replicas <= 50", "message": "replicas must be from 0 to 50", "fieldPath": ".replicas"}]))]
pub struct ServiceSpec {
    /// How many pods run the service. Ignored while `autoscaling` is set:
    /// the HorizontalPodAutoscaler decides then.
    pub replicas: i32,
    /// CPU and memory requests and limits of the service's container.
    pub resources: Resources,
    /// Scale the service on CPU with a HorizontalPodAutoscaler.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,
}

impl Default for ServiceSpec {
    fn default() -> Self {
        Self {
            replicas: 1,
            resources: resources(("50m", "64Mi"), "256Mi"),
            autoscaling: None,
        }
    }
}

/// Requests of CPU and memory, and a memory limit. CPU is not limited by
/// default: a limit would throttle pods that have spare CPU to use.
fn resources(requests: (&str, &str), memory_limit: &str) -> Resources {
    let quantity = |value: &str| Quantity(value.to_owned());
    Resources {
        requests: BTreeMap::from([
            ("cpu".to_owned(), quantity(requests.0)),
            ("memory".to_owned(), quantity(requests.1)),
        ]),
        limits: BTreeMap::from([("memory".to_owned(), quantity(memory_limit))]),
    }
}

/// CPU and memory of a container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": rules::REQUESTS_WITHIN_LIMITS, "message": "resources.requests must not exceed resources.limits of the same resource", "fieldPath": ".requests"}]))]
pub struct Resources {
    /// What the scheduler sets aside for the container, by resource name:
    /// `cpu` (e.g. `100m` or `0.5`) and `memory` (e.g. `128Mi`), each a
    /// quantity of at least zero and at most its limit. Autoscaling
    /// measures CPU use against the CPU request.
    #[serde(default)]
    #[schemars(schema_with = "quantities")]
    pub requests: BTreeMap<String, Quantity>,
    /// The most the container may use, by resource name: beyond its
    /// `memory` limit a container is killed, beyond its `cpu` limit
    /// throttled. Each is a quantity of at least zero.
    #[serde(default)]
    #[schemars(schema_with = "quantities")]
    pub limits: BTreeMap<String, Quantity>,
}

impl Resources {
    /// As a container's resource requirements.
    pub fn requirements(&self) -> ResourceRequirements {
        let map = |quantities: &BTreeMap<String, Quantity>| {
            (!quantities.is_empty()).then(|| quantities.clone())
        };
        ResourceRequirements {
            requests: map(&self.requests),
            limits: map(&self.limits),
            ..ResourceRequirements::default()
        }
    }
}

/// A map of resource names to quantities, such as `{cpu: 100m, memory: 1Gi}`:
/// each value an integer or a quantity string (the same pattern Kubernetes
/// gives its own quantities), never negative.
fn quantities(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "maxProperties": 8,
        "additionalProperties": {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": true,
            "pattern": rules::QUANTITY,
            "maxLength": 32,
        },
        "x-kubernetes-validations": [{
            "rule": rules::NON_NEGATIVE_QUANTITIES,
            "message": "resources must be quantities of at least zero, such as 100m, 0.5 or 128Mi",
        }],
    })
}

/// Bounds and target of a service's HorizontalPodAutoscaler.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "self.minReplicas >= 1 && self.minReplicas <= self.maxReplicas", "message": "autoscaling.minReplicas must be at least 1 and at most autoscaling.maxReplicas", "fieldPath": ".minReplicas"}, {"rule": "self.maxReplicas <= 100", "message": "autoscaling.maxReplicas must be at most 100", "fieldPath": ".maxReplicas"}, {"rule": "self.targetCPUUtilizationPercentage >= 1 && self.targetCPUUtilizationPercentage <= 100", "message": "autoscaling.targetCPUUtilizationPercentage must be from 1 to 100", "fieldPath": ".targetCPUUtilizationPercentage"}]))]
pub struct AutoscalingSpec {
    /// The fewest pods.
    #[serde(default = "one")]
    pub min_replicas: i32,
    /// The most pods.
    pub max_replicas: i32,
    /// The average CPU use, in percent of the CPU request, that the
    /// autoscaler keeps the pods at.
    #[serde(default = "eighty", rename = "targetCPUUtilizationPercentage")]
    pub target_cpu_utilization_percentage: i32,
}

fn one() -> i32 {
    1
}

fn eighty() -> i32 {
    80
}

/// Where the shop's relational data lives.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "self.mode != 'External' || has(self.externalSecretRef)", "message": "database.externalSecretRef is required when database.mode is External: name the Secret that holds the PostgreSQL URL", "fieldPath": ".externalSecretRef"},
    {"rule": "self.mode == 'External' || !has(self.externalSecretRef)", "message": "database.externalSecretRef is used only when database.mode is External: remove it, or set mode: External", "fieldPath": ".externalSecretRef"},
]))]
pub struct DatabaseSpec {
    /// `InCluster` runs PostgreSQL as a StatefulSet next to the shop;
    /// `External` uses the PostgreSQL whose URL `externalSecretRef` holds.
    pub mode: DatabaseMode,
    /// The Secret key holding the URL of an external PostgreSQL, e.g.
    /// `postgres://user:password@host:5432/eshop`. Each service keeps its
    /// tables in a schema named after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_secret_ref: Option<SecretKeyRef>,
    /// The PostgreSQL image of the in-cluster database. The default is
    /// the official image, pinned to a version. Another image (a mirror, a
    /// private registry: see `image.pullSecrets`) must behave as the official
    /// Alpine one: configured by `POSTGRES_USER`, `POSTGRES_PASSWORD`,
    /// `POSTGRES_DB` and `PGDATA`, running as UID 70, with `pg_isready`.
    #[schemars(length(min = 1, max = 512))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": rules::matches(rules::IMAGE), "message": "database.image must be an image reference such as docker.io/library/postgres:17.5-alpine: no spaces or uppercase letters in the name"}]))]
    pub image: String,
    /// The in-cluster database's volume.
    pub storage: StorageSpec,
    /// CPU and memory of the in-cluster database.
    pub resources: Resources,
}

impl Default for DatabaseSpec {
    fn default() -> Self {
        Self {
            mode: DatabaseMode::InCluster,
            external_secret_ref: None,
            image: DEFAULT_POSTGRES_IMAGE.to_owned(),
            storage: StorageSpec::default(),
            resources: resources(("100m", "256Mi"), "512Mi"),
        }
    }
}

/// Where PostgreSQL runs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DatabaseMode {
    InCluster,
    External,
}

/// A key of a Secret in the EShop's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// The Secret's name, in the EShop's namespace.
    #[schemars(length(min = 1, max = 253))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": rules::matches(rules::DNS_SUBDOMAIN), "message": "externalSecretRef.name must name a Secret: a DNS subdomain such as shop-database"}]))]
    pub name: String,
    /// The key within the Secret: letters, digits, `-`, `_` and `.`.
    #[serde(default = "url_key")]
    #[schemars(length(min = 1, max = 253))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": rules::matches(rules::SECRET_KEY), "message": "externalSecretRef.key must be a Secret key: letters, digits, '-', '_' and '.'"}]))]
    pub key: String,
}

fn url_key() -> String {
    "url".to_owned()
}

/// A PersistentVolumeClaim's class and size.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)", "message": "storage.storageClassName cannot change after creation", "fieldPath": ".storageClassName"}]))]
pub struct StorageSpec {
    /// The StorageClass of the volume; the cluster's default class when
    /// unset. Fixed once the EShop exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": rules::matches(rules::DNS_SUBDOMAIN), "message": "storage.storageClassName must name a StorageClass: a DNS subdomain such as fast-ssd"}]))]
    pub storage_class_name: Option<String>,
    /// The volume's size, a positive quantity such as `10Gi`. It may grow:
    /// the operator resizes the PersistentVolumeClaims if the StorageClass
    /// allows expansion. A volume never shrinks: a size below the one the
    /// claims have is reported in status, and a growth that cannot happen
    /// may be undone by setting the size back.
    #[schemars(length(min = 1, max = 32))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))", "message": "storage.size must be a positive quantity such as 10Gi"}]))]
    pub size: String,
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            storage_class_name: None,
            size: "1Gi".to_owned(),
        }
    }
}

/// The in-cluster Redis.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct RedisSpec {
    /// The Redis image. The default is the official image, pinned to a
    /// version. Another image (a mirror, a private registry: see
    /// `image.pullSecrets`) must behave as the official Alpine one:
    /// `sh`, `redis-server` and `redis-cli` on the PATH, running as UID 999 and
    /// GID 1000.
    #[schemars(length(min = 1, max = 512))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": rules::matches(rules::IMAGE), "message": "redis.image must be an image reference such as docker.io/library/redis:7.4.2-alpine: no spaces or uppercase letters in the name"}]))]
    pub image: String,
    /// Redis's volume, which holds its append-only file.
    pub storage: StorageSpec,
    /// CPU and memory of Redis.
    pub resources: Resources,
}

impl Default for RedisSpec {
    fn default() -> Self {
        Self {
            image: DEFAULT_REDIS_IMAGE.to_owned(),
            storage: StorageSpec::default(),
            resources: resources(("50m", "64Mi"), "256Mi"),
        }
    }
}

/// The Ingress in front of the gateway.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.tlsSecretName) || has(self.host)", "message": "ingress.tlsSecretName needs ingress.host: a certificate is for a host", "fieldPath": ".tlsSecretName"},
    {"rule": "self.enabled || (!has(self.host) && !has(self.className) && !has(self.tlsSecretName))", "message": "ingress.host, ingress.className and ingress.tlsSecretName take effect only with ingress.enabled: true: enable the Ingress or remove them", "fieldPath": ".enabled"},
]))]
pub struct IngressSpec {
    /// Create the Ingress.
    pub enabled: bool,
    /// The host name the shop answers on, e.g. `shop.example.com`; any host
    /// when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": rules::matches(rules::DNS_SUBDOMAIN), "message": "ingress.host must be a DNS name such as shop.example.com: lowercase letters, digits, '-' and '.'"}]))]
    pub host: Option<String>,
    /// The IngressClass; the cluster's default when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": rules::matches(rules::DNS_SUBDOMAIN), "message": "ingress.className must name an IngressClass: a DNS subdomain such as nginx"}]))]
    pub class_name: Option<String>,
    /// A Secret of type `kubernetes.io/tls` with the host's certificate:
    /// the shop is then served over HTTPS.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": rules::matches(rules::DNS_SUBDOMAIN), "message": "ingress.tlsSecretName must name a Secret: a DNS subdomain such as shop-example-com-tls"}]))]
    pub tls_secret_name: Option<String>,
}

/// What happens to volumes when the EShop is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PvcRetention {
    /// Keep the PersistentVolumeClaims, and the data.
    #[default]
    Retain,
    /// Delete the PersistentVolumeClaims with the EShop.
    Delete,
}

/// What the operator last saw of the shop.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EShopStatus {
    /// The `metadata.generation` the status describes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (every Deployment Available and every StatefulSet ready),
    /// `Reconciling` (changes are being rolled out) and `Stalled` (the
    /// operator cannot make progress; the message says why).
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Ready and desired pods of each component (services, postgres, redis).
    #[serde(default)]
    pub components: BTreeMap<String, ComponentStatus>,
    /// Where the shop answers: the Ingress host, or the gateway's Service
    /// inside the cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Pods of one component.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ComponentStatus {
    /// Pods ready and up to date.
    pub ready: i32,
    /// Pods wanted.
    pub desired: i32,
}
