//! Building the desired children of an `EShop`: pure functions from the
//! resource and what was read for it ([`Inputs`]) to typed Kubernetes
//! objects ([`Children`]). Nothing here talks to the API server, so every
//! builder is unit-tested on its own.
//!
//! One file per kind of child: [`secrets`], [`config_map`], [`postgres`],
//! [`redis`], [`service_deployment`] (with [`env`], the services' settings
//! rendered into env), [`ingress`], [`network_policy`], [`pdb`], [`hpa`];
//! [`security`] holds the restricted Pod Security Standard contexts all
//! pods share.

pub mod config_map;
pub mod env;
pub mod hpa;
pub mod ingress;
pub mod network_policy;
pub mod pdb;
pub mod postgres;
pub mod redis;
pub mod secrets;
pub mod security;
pub mod service_deployment;

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, StatefulSet},
        autoscaling::v2::HorizontalPodAutoscaler,
        core::v1::{ConfigMap, Secret, Service},
        networking::v1::{Ingress, NetworkPolicy},
        policy::v1::PodDisruptionBudget,
    },
    apimachinery::pkg::api::resource::Quantity,
};
use kube::{Resource, ResourceExt, api::ObjectMeta};
use sha2::{Digest, Sha256};

pub use self::secrets::Credentials;
use crate::crd::{DatabaseMode, EShop};

/// The field manager of every write, and the `managed-by` label value.
pub const MANAGER: &str = "eshop-operator";

pub const LABEL_NAME: &str = "app.kubernetes.io/name";
pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
pub const LABEL_PART_OF: &str = "app.kubernetes.io/part-of";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// The label selector of everything the operator manages, which its
/// watches use.
pub const MANAGED_SELECTOR: &str = "app.kubernetes.io/managed-by=eshop-operator";

/// Annotation on pod templates: a digest of the credentials and
/// configuration the pods read at start, so a change rolls them.
pub const CONFIG_DIGEST: &str = "eshop-operator.github.io/config-digest";

/// The port every service of the shop serves its API on.
pub const HTTP_PORT: i32 = 8080;
/// The port every service serves `/healthz`, `/readyz` and `/metrics` on:
/// the kubelet and Prometheus reach it, the Ingress and the other shop
/// services do not.
pub const ADMIN_PORT: i32 = 9090;
pub const POSTGRES_PORT: i32 = 5432;
pub const REDIS_PORT: i32 = 6379;

/// What the builders need besides the `EShop` itself, read by the reconciler.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The generated credentials: read back from the Secrets, or new.
    pub credentials: Credentials,
    /// The size in each existing StatefulSet's volume claim template, by
    /// component (`postgres`, `redis`). The template cannot change once
    /// created: a larger size is applied to the claims instead.
    pub claim_template_sizes: BTreeMap<&'static str, Quantity>,
}

/// Every child an `EShop` should have, by kind.
#[derive(Debug, Clone, Default)]
pub struct Children {
    pub secrets: Vec<Secret>,
    pub config_maps: Vec<ConfigMap>,
    pub stateful_sets: Vec<StatefulSet>,
    pub deployments: Vec<Deployment>,
    pub services: Vec<Service>,
    pub ingresses: Vec<Ingress>,
    pub network_policies: Vec<NetworkPolicy>,
    pub pod_disruption_budgets: Vec<PodDisruptionBudget>,
    pub autoscalers: Vec<HorizontalPodAutoscaler>,
}

impl Children {
    /// How many objects there are.
    pub fn len(&self) -> usize {
        self.secrets.len()
            + self.config_maps.len()
            + self.stateful_sets.len()
            + self.deployments.len()
            + self.services.len()
            + self.ingresses.len()
            + self.network_policies.len()
            + self.pod_disruption_budgets.len()
            + self.autoscalers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why the children could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the EShop has no namespace")]
    NoNamespace,
    #[error("the EShop has no uid yet")]
    NoUid,
    #[error("the {service} service's settings do not load: {source}")]
    Settings {
        service: &'static str,
        source: eshop_platform::settings::SettingsError,
    },
    #[error("{var} of the {service} service is a secret the operator has no Secret for")]
    UnknownSecret {
        service: &'static str,
        var: &'static str,
    },
}

/// Builds every child of `shop`.
pub fn children(shop: &EShop, inputs: &Inputs) -> Result<Children, BuildError> {
    let context = Shop::new(shop)?;
    let mut children = Children {
        secrets: secrets::secrets(&context, &inputs.credentials),
        config_maps: vec![config_map::config_map(&context)],
        ..Children::default()
    };
    let digest = config_digest(&inputs.credentials, &children.config_maps);
    if context.spec().database.mode == DatabaseMode::InCluster {
        let size = inputs.claim_template_sizes.get(postgres::COMPONENT);
        children
            .stateful_sets
            .push(postgres::stateful_set(&context, size, &digest));
        children.services.push(postgres::service(&context));
    }
    let size = inputs.claim_template_sizes.get(redis::COMPONENT);
    children
        .stateful_sets
        .push(redis::stateful_set(&context, size, &digest));
    children.services.push(redis::service(&context));
    for service in &service_deployment::SERVICES {
        let spec = service.spec(context.spec());
        let env = env::service_env(&context, service, &inputs.credentials)?;
        children.deployments.push(service_deployment::deployment(
            &context, service, env, &digest,
        ));
        children
            .services
            .push(service_deployment::service(&context, service));
        children
            .pod_disruption_budgets
            .extend(pdb::pod_disruption_budget(&context, service.name, spec));
        children
            .autoscalers
            .extend(hpa::autoscaler(&context, service.name, spec));
    }
    children.ingresses.extend(ingress::ingress(&context));
    if context.spec().network_policies {
        children.network_policies = network_policy::network_policies(&context);
    }
    Ok(children)
}

/// The `EShop` with what every builder asks of it: its name, namespace and
/// the ownerReference its children carry.
#[derive(Debug, Clone)]
pub struct Shop<'a> {
    shop: &'a EShop,
    name: String,
    namespace: String,
    owner: k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
}

impl<'a> Shop<'a> {
    pub fn new(shop: &'a EShop) -> Result<Self, BuildError> {
        Ok(Self {
            name: shop.name_any(),
            namespace: shop.namespace().ok_or(BuildError::NoNamespace)?,
            owner: shop.controller_owner_ref(&()).ok_or(BuildError::NoUid)?,
            shop,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn spec(&self) -> &crate::crd::EShopSpec {
        &self.shop.spec
    }

    /// The name of the child for `component`: `<shop>-<component>`.
    pub fn child_name(&self, component: &str) -> String {
        format!("{}-{component}", self.name)
    }

    /// Metadata of a child: name, namespace, labels and the controller
    /// ownerReference.
    pub fn metadata(&self, name: String, component: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels(component)),
            owner_references: Some(vec![self.owner.clone()]),
            ..ObjectMeta::default()
        }
    }

    /// Every label of a child or pod of `component`.
    pub fn labels(&self, component: &str) -> BTreeMap<String, String> {
        let mut labels = self.selector(component);
        labels.insert(LABEL_PART_OF.to_owned(), "eshop".to_owned());
        labels.insert(LABEL_MANAGED_BY.to_owned(), MANAGER.to_owned());
        labels
    }

    /// The labels that select the pods of `component`.
    pub fn selector(&self, component: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (LABEL_NAME.to_owned(), "eshop".to_owned()),
            (LABEL_INSTANCE.to_owned(), self.name.clone()),
            (LABEL_COMPONENT.to_owned(), component.to_owned()),
        ])
    }

    /// The labels that select every pod of this shop.
    pub fn instance_selector(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (LABEL_NAME.to_owned(), "eshop".to_owned()),
            (LABEL_INSTANCE.to_owned(), self.name.clone()),
        ])
    }

    /// The URL of one of the shop's services inside the cluster.
    pub fn service_url(&self, service: &str) -> String {
        format!("http://{}:{HTTP_PORT}", self.child_name(service))
    }

    /// Whether the shop is served over HTTPS.
    pub fn tls(&self) -> bool {
        let ingress = &self.spec().ingress;
        ingress.enabled && ingress.tls_secret_name.is_some()
    }

    /// Where users reach the shop: the Ingress host, or the gateway's
    /// Service inside the cluster.
    pub fn url(&self) -> String {
        let ingress = &self.spec().ingress;
        match (&ingress.host, ingress.enabled) {
            (Some(host), true) => {
                let scheme = if self.tls() { "https" } else { "http" };
                format!("{scheme}://{host}")
            }
            _ => format!(
                "http://{}.{}.svc:{HTTP_PORT}",
                self.child_name(service_deployment::GATEWAY),
                self.namespace
            ),
        }
    }

    pub fn resource(&self) -> &EShop {
        self.shop
    }
}

/// A short digest of the credentials and the ConfigMaps, for pod template
/// annotations.
fn config_digest(credentials: &Credentials, config_maps: &[ConfigMap]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(credentials.digest_input());
    for config_map in config_maps {
        for (key, value) in config_map.data.iter().flatten() {
            hasher.update(key.as_bytes());
            hasher.update(value.as_bytes());
        }
    }
    hex(&hasher.finalize()[..8])
}

/// Lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The volume claim template `data` of a StatefulSet: the spec's storage
/// class, and the size the template already has (it cannot change) or else
/// the spec's.
fn claim_template(
    shop: &Shop<'_>,
    component: &str,
    storage: &crate::crd::StorageSpec,
    existing_size: Option<&Quantity>,
) -> k8s_openapi::api::core::v1::PersistentVolumeClaim {
    use k8s_openapi::api::core::v1::{
        PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
    };
    let size = existing_size
        .cloned()
        .unwrap_or_else(|| Quantity(storage.size.clone()));
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(DATA_VOLUME.to_owned()),
            labels: Some(shop.labels(component)),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), size)])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

/// What differs between the stores' StatefulSets: the component, its pod's
/// security context, its one container, its volumes besides the data claim,
/// and its storage.
struct StorePod<'a> {
    component: &'static str,
    security_context: k8s_openapi::api::core::v1::PodSecurityContext,
    container: k8s_openapi::api::core::v1::Container,
    volumes: Vec<k8s_openapi::api::core::v1::Volume>,
    storage: &'a crate::crd::StorageSpec,
}

/// A store's StatefulSet: one pod of `pod`, its data on a claim from
/// `volumeClaimTemplates` (of `existing_size` once the claim exists, since
/// the template cannot change; growing is done on the claims), rolled when
/// the credentials' `digest` changes.
fn store_stateful_set(
    shop: &Shop<'_>,
    pod: StorePod<'_>,
    existing_size: Option<&Quantity>,
    digest: &str,
) -> StatefulSet {
    use k8s_openapi::{
        api::{
            apps::v1::StatefulSetSpec,
            core::v1::{PodSpec, PodTemplateSpec},
        },
        apimachinery::pkg::apis::meta::v1::LabelSelector,
    };
    let component = pod.component;
    StatefulSet {
        metadata: shop.metadata(shop.child_name(component), component),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(shop.child_name(component)),
            selector: LabelSelector {
                match_labels: Some(shop.selector(component)),
                ..LabelSelector::default()
            },
            persistent_volume_claim_retention_policy: Some(retention_policy()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(shop.labels(component)),
                    annotations: Some(BTreeMap::from([(
                        CONFIG_DIGEST.to_owned(),
                        digest.to_owned(),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(pod.security_context),
                    image_pull_secrets: pull_secrets(shop),
                    containers: vec![pod.container],
                    volumes: Some(pod.volumes),
                    ..PodSpec::default()
                }),
            },
            volume_claim_templates: Some(vec![claim_template(
                shop,
                component,
                pod.storage,
                existing_size,
            )]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

/// The name of the StatefulSets' data volume; claims are named
/// `data-<statefulset>-<ordinal>`.
pub const DATA_VOLUME: &str = "data";

/// The StatefulSets keep their claims whatever happens to them: a
/// StatefulSet deleted by hand is recreated and finds its data.
/// `pvcRetention: Delete` is done by making the shop an owner of the claims
/// ([`crate::storage`]), so they go only with the shop.
fn retention_policy() -> k8s_openapi::api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy
{
    k8s_openapi::api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy {
        when_deleted: Some("Retain".to_owned()),
        when_scaled: Some("Retain".to_owned()),
    }
}

/// A headless Service in front of a StatefulSet's pods.
fn headless_service(shop: &Shop<'_>, component: &str, port: i32) -> Service {
    use k8s_openapi::{
        api::core::v1::{ServicePort, ServiceSpec},
        apimachinery::pkg::util::intstr::IntOrString,
    };
    Service {
        metadata: shop.metadata(shop.child_name(component), component),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            selector: Some(shop.selector(component)),
            ports: Some(vec![ServicePort {
                name: Some(component.to_owned()),
                port,
                target_port: Some(IntOrString::String(component.to_owned())),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The image pull secrets of every pod, or none.
fn pull_secrets(shop: &Shop<'_>) -> Option<Vec<k8s_openapi::api::core::v1::LocalObjectReference>> {
    let secrets = &shop.spec().image.pull_secrets;
    (!secrets.is_empty()).then(|| secrets.clone())
}

/// An `EShop` as the API server would hand it over, for builder tests.
#[cfg(test)]
pub(crate) fn test_shop(spec: &serde_json::Value) -> EShop {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "eshop-operator.github.io/v1alpha1",
        "kind": "EShop",
        "metadata": {"name": "shop", "namespace": "store", "uid": "0000-1111", "generation": 1},
        "spec": spec,
    }))
    .expect("a valid EShop")
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{api::core::v1::PodSpec, apimachinery::pkg::util::intstr::IntOrString};
    use serde_json::json;

    use super::*;
    use crate::build::secrets::FoundSecrets;

    fn inputs() -> Inputs {
        Inputs {
            credentials: Credentials::from_secrets(&FoundSecrets::new()),
            claim_template_sizes: BTreeMap::new(),
        }
    }

    fn names<K: Resource>(objects: &[K]) -> Vec<String> {
        objects
            .iter()
            .map(|object| object.meta().name.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn a_minimal_shop_has_every_child_owned_and_labelled() {
        let shop = test_shop(&json!({}));
        let children = children(&shop, &inputs()).unwrap();
        assert_eq!(
            names(&children.secrets),
            [
                "shop-postgres",
                "shop-redis",
                "shop-jwt",
                "shop-internal-token"
            ]
        );
        assert_eq!(
            names(&children.stateful_sets),
            ["shop-postgres", "shop-redis"]
        );
        assert_eq!(
            children.deployments.len(),
            service_deployment::SERVICES.len()
        );
        assert_eq!(
            children.services.len(),
            service_deployment::SERVICES.len() + 2
        );
        assert_eq!(children.network_policies.len(), 6);
        assert!(children.ingresses.is_empty());
        assert!(children.pod_disruption_budgets.is_empty());
        assert!(children.autoscalers.is_empty());

        let metas = children
            .secrets
            .iter()
            .map(|object| &object.metadata)
            .chain(children.config_maps.iter().map(|object| &object.metadata))
            .chain(children.stateful_sets.iter().map(|object| &object.metadata))
            .chain(children.deployments.iter().map(|object| &object.metadata))
            .chain(children.services.iter().map(|object| &object.metadata))
            .chain(
                children
                    .network_policies
                    .iter()
                    .map(|object| &object.metadata),
            );
        for meta in metas {
            let owner = &meta.owner_references.as_ref().unwrap()[0];
            assert_eq!(
                (owner.kind.as_str(), owner.uid.as_str()),
                ("EShop", "0000-1111")
            );
            assert_eq!(owner.controller, Some(true));
            assert_eq!(meta.namespace.as_deref(), Some("store"));
            assert_eq!(meta.labels.as_ref().unwrap()[LABEL_MANAGED_BY], MANAGER);
        }
    }

    fn pod_specs(children: &Children) -> Vec<&PodSpec> {
        children
            .deployments
            .iter()
            .filter_map(|deployment| deployment.spec.as_ref()?.template.spec.as_ref())
            .chain(
                children
                    .stateful_sets
                    .iter()
                    .filter_map(|set| set.spec.as_ref()?.template.spec.as_ref()),
            )
            .collect()
    }

    #[test]
    fn every_pod_meets_the_restricted_pod_security_standard() {
        let children = children(&test_shop(&json!({})), &inputs()).unwrap();
        let pods = pod_specs(&children);
        assert_eq!(pods.len(), service_deployment::SERVICES.len() + 2);
        for pod in pods {
            let context = pod.security_context.as_ref().unwrap();
            assert_eq!(context.run_as_non_root, Some(true));
            assert!(context.run_as_user.unwrap() > 0);
            assert_eq!(
                context.seccomp_profile.as_ref().unwrap().type_,
                "RuntimeDefault"
            );
            for container in &pod.containers {
                let context = container.security_context.as_ref().unwrap();
                assert_eq!(context.allow_privilege_escalation, Some(false));
                assert_eq!(context.read_only_root_filesystem, Some(true));
                assert_eq!(
                    context.capabilities.as_ref().unwrap().drop.as_deref(),
                    Some(&["ALL".to_owned()][..])
                );
                let tmp = container
                    .volume_mounts
                    .iter()
                    .flatten()
                    .find(|mount| mount.mount_path == "/tmp");
                let volume = pod
                    .volumes
                    .iter()
                    .flatten()
                    .find(|volume| Some(&volume.name) == tmp.map(|mount| &mount.name));
                assert!(
                    volume
                        .and_then(|volume| volume.empty_dir.as_ref())
                        .is_some(),
                    "/tmp is an emptyDir"
                );
            }
        }
    }

    #[test]
    fn probes_and_metrics_are_on_the_admin_port_which_only_prometheus_reaches() {
        let shop = test_shop(&json!({
            "ingress": {"enabled": true, "host": "shop.example.com"},
        }));
        let children = children(&shop, &inputs()).unwrap();
        for deployment in &children.deployments {
            let template = &deployment.spec.as_ref().unwrap().template;
            let container = &template.spec.as_ref().unwrap().containers[0];
            let port_named = |name: &str| {
                container
                    .ports
                    .iter()
                    .flatten()
                    .find(|port| port.name.as_deref() == Some(name))
                    .map(|port| port.container_port)
            };
            assert_eq!(port_named("http"), Some(HTTP_PORT));
            assert_eq!(port_named("admin"), Some(ADMIN_PORT));
            let env = |name: &str| {
                container
                    .env
                    .iter()
                    .flatten()
                    .find(|var| var.name == name)
                    .and_then(|var| var.value.clone())
            };
            assert_eq!(env("ESHOP_LISTEN").as_deref(), Some("0.0.0.0:8080"));
            assert_eq!(env("ESHOP_ADMIN_LISTEN").as_deref(), Some("0.0.0.0:9090"));
            for probe in [&container.readiness_probe, &container.liveness_probe] {
                let get = probe.as_ref().unwrap().http_get.as_ref().unwrap();
                assert_eq!(get.port, IntOrString::String("admin".to_owned()));
            }
            let annotations = template
                .metadata
                .as_ref()
                .unwrap()
                .annotations
                .as_ref()
                .unwrap();
            assert_eq!(annotations["prometheus.io/scrape"], "true");
            assert_eq!(annotations["prometheus.io/port"], "9090");
            assert_eq!(annotations["prometheus.io/path"], "/metrics");
        }

        let service_targets: Vec<_> = children
            .services
            .iter()
            .filter(|service| service.metadata.name.as_deref() != Some("shop-postgres"))
            .filter(|service| service.metadata.name.as_deref() != Some("shop-redis"))
            .flat_map(|service| service.spec.as_ref().unwrap().ports.iter().flatten())
            .map(|port| (port.port, port.target_port.clone()))
            .collect();
        assert_eq!(service_targets.len(), service_deployment::SERVICES.len());
        assert!(
            service_targets
                .iter()
                .all(|target| *target == (HTTP_PORT, Some(IntOrString::String("http".to_owned())))),
            "{service_targets:?}"
        );
        let ingress_ports: Vec<_> = children.ingresses[0]
            .spec
            .iter()
            .flat_map(|spec| spec.rules.iter().flatten())
            .flat_map(|rule| rule.http.iter().flat_map(|http| &http.paths))
            .filter_map(|path| path.backend.service.as_ref()?.port.as_ref()?.number)
            .collect();
        assert_eq!(ingress_ports, [HTTP_PORT]);

        let admin = Some(IntOrString::Int(ADMIN_PORT));
        let rules_opening_admin: Vec<_> = children
            .network_policies
            .iter()
            .flat_map(|policy| policy.spec.as_ref().unwrap().ingress.iter().flatten())
            .filter(|rule| {
                rule.ports.is_none() || rule.ports.iter().flatten().any(|port| port.port == admin)
            })
            .collect();
        assert_eq!(rules_opening_admin.len(), 1, "{rules_opening_admin:?}");
        let peers = rules_opening_admin[0].from.as_ref().unwrap();
        assert_eq!(peers.len(), 1);
        let prometheus = peers[0]
            .pod_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref();
        assert_eq!(
            prometheus.unwrap()["app.kubernetes.io/name"],
            "prometheus",
            "only Prometheus may reach the admin port"
        );
        assert_eq!(rules_opening_admin[0].ports.as_ref().unwrap().len(), 1);
    }

    #[test]
    fn replicas_autoscaling_ingress_and_storage_follow_the_spec() {
        let shop = test_shop(&json!({
            "services": {
                "users": {"replicas": 3},
                "catalog": {"autoscaling": {"minReplicas": 2, "maxReplicas": 5}},
            },
            "database": {"storage": {"storageClassName": "fast", "size": "10Gi"}},
            "ingress": {"enabled": true, "host": "shop.example.com", "tlsSecretName": "tls"},
            "pvcRetention": "Delete",
            "image": {"tag": "1.2.3", "pullSecrets": [{"name": "registry"}]},
        }));
        let mut inputs = inputs();
        inputs
            .claim_template_sizes
            .insert(redis::COMPONENT, Quantity("1Gi".to_owned()));
        let children = children(&shop, &inputs).unwrap();

        let deployment = |name: &str| {
            children
                .deployments
                .iter()
                .find(|deployment| deployment.metadata.name.as_deref() == Some(name))
                .unwrap()
        };
        assert_eq!(
            deployment("shop-users").spec.as_ref().unwrap().replicas,
            Some(3)
        );
        assert_eq!(
            deployment("shop-catalog").spec.as_ref().unwrap().replicas,
            None
        );
        let pod = deployment("shop-users")
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap();
        assert_eq!(
            pod.containers[0].image.as_deref(),
            Some("ghcr.io/eshop-operator/eshop:1.2.3")
        );
        assert_eq!(
            pod.containers[0].args.as_deref(),
            Some(&["serve".to_owned(), "users".to_owned()][..])
        );
        assert_eq!(pod.image_pull_secrets.as_ref().unwrap()[0].name, "registry");
        assert_eq!(
            names(&children.pod_disruption_budgets),
            ["shop-users", "shop-catalog"]
        );
        assert_eq!(names(&children.autoscalers), ["shop-catalog"]);

        let ingress = children.ingresses[0].spec.as_ref().unwrap();
        let tls = &ingress.tls.as_ref().unwrap()[0];
        assert_eq!(
            tls.hosts.as_deref(),
            Some(&["shop.example.com".to_owned()][..])
        );
        assert_eq!(Shop::new(&shop).unwrap().url(), "https://shop.example.com");

        let claim = |set: &StatefulSet| {
            set.spec
                .as_ref()
                .unwrap()
                .volume_claim_templates
                .as_ref()
                .unwrap()[0]
                .spec
                .clone()
                .unwrap()
        };
        let postgres = claim(&children.stateful_sets[0]);
        assert_eq!(postgres.storage_class_name.as_deref(), Some("fast"));
        assert_eq!(
            postgres.resources.unwrap().requests.unwrap()["storage"].0,
            "10Gi"
        );
        let redis = claim(&children.stateful_sets[1]);
        assert_eq!(
            redis.resources.unwrap().requests.unwrap()["storage"].0,
            "1Gi",
            "the existing template's size"
        );
        let retention = children.stateful_sets[0]
            .spec
            .as_ref()
            .unwrap()
            .persistent_volume_claim_retention_policy
            .clone()
            .unwrap();
        assert_eq!(
            retention.when_deleted.as_deref(),
            Some("Retain"),
            "pvcRetention: Delete is the shop's ownership of the claims, never the StatefulSet's"
        );
    }

    #[test]
    fn the_stores_run_the_pinned_official_images_unless_the_spec_names_others() {
        let images = |children: &Children| -> Vec<String> {
            pod_specs(children)
                .iter()
                .flat_map(|pod| &pod.containers)
                .filter_map(|container| container.image.clone())
                .filter(|image| !image.starts_with(crate::crd::DEFAULT_IMAGE))
                .collect()
        };
        let defaults = children(&test_shop(&json!({})), &inputs()).unwrap();
        assert_eq!(
            images(&defaults),
            [
                "docker.io/library/postgres:17.5-alpine",
                "docker.io/library/redis:7.4.2-alpine"
            ]
        );
        let mirrored = test_shop(&json!({
            "database": {"image": "registry.internal/postgres:17.5-alpine"},
            "redis": {"image": "registry.internal/redis:7.4.2-alpine"},
        }));
        assert_eq!(
            images(&children(&mirrored, &inputs()).unwrap()),
            [
                "registry.internal/postgres:17.5-alpine",
                "registry.internal/redis:7.4.2-alpine"
            ]
        );
    }

    #[test]
    fn every_pod_pulls_with_the_specs_pull_secrets_and_none_without_them() {
        let shop = test_shop(&json!({
            "image": {"repository": "registry.internal/eshop", "pullSecrets": [{"name": "registry"}, {"name": "mirror"}]},
        }));
        let with = children(&shop, &inputs()).unwrap();
        let pods = pod_specs(&with);
        assert_eq!(pods.len(), service_deployment::SERVICES.len() + 2);
        for pod in pods {
            let secrets: Vec<_> = pod
                .image_pull_secrets
                .iter()
                .flatten()
                .map(|secret| secret.name.as_str())
                .collect();
            assert_eq!(
                secrets,
                ["registry", "mirror"],
                "{:?}",
                pod.containers[0].name
            );
        }
        let without = children(&test_shop(&json!({})), &inputs()).unwrap();
        assert!(
            pod_specs(&without)
                .iter()
                .all(|pod| pod.image_pull_secrets.is_none())
        );
    }

    #[test]
    fn an_external_database_replaces_the_in_cluster_one() {
        let shop = test_shop(&json!({
            "database": {"mode": "External", "externalSecretRef": {"name": "db", "key": "url"}},
            "networkPolicies": false,
        }));
        let children = children(&shop, &inputs()).unwrap();
        assert_eq!(names(&children.stateful_sets), ["shop-redis"]);
        assert!(children.network_policies.is_empty());
        assert!(!names(&children.services).contains(&"shop-postgres".to_owned()));
    }

    #[test]
    fn a_new_credential_changes_the_pods_config_digest() {
        let shop = test_shop(&json!({}));
        let first = inputs();
        let digest = |inputs: &Inputs| {
            let children = children(&shop, inputs).unwrap();
            children.deployments[0]
                .spec
                .clone()
                .unwrap()
                .template
                .metadata
                .unwrap()
                .annotations
                .unwrap()[CONFIG_DIGEST]
                .clone()
        };
        assert_eq!(digest(&first), digest(&first.clone()));
        assert_ne!(digest(&first), digest(&inputs()));
    }
}
