//! Smoke tests of the testbed: what the operator will rely on works against
//! the real control plane. Workloads become Available and Ready through kwok,
//! volumes bind, the API server enforces CRD schemas, the garbage collector
//! follows ownerReferences, and networking objects pass admission.

use std::collections::BTreeMap;

use eshop_testbed::{STORAGE_CLASS, Testbed, wait};
use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec},
        core::v1::{
            ConfigMap, Container, PersistentVolumeClaim, PersistentVolumeClaimSpec, Pod, PodSpec,
            PodTemplateSpec, VolumeMount, VolumeResourceRequirements,
        },
        networking::v1::{
            HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
            IngressServiceBackend, IngressSpec, NetworkPolicy, NetworkPolicySpec,
            ServiceBackendPort,
        },
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    apimachinery::pkg::{
        api::resource::Quantity,
        apis::meta::v1::{LabelSelector, OwnerReference},
    },
};
use kube::{
    Api, Resource, ResourceExt,
    api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams},
    runtime::wait::conditions,
};
use serde_json::json;

fn labels(app: &str) -> BTreeMap<String, String> {
    [("app".to_owned(), app.to_owned())].into()
}

fn pod_template(app: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(kube::api::ObjectMeta {
            labels: Some(labels(app)),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: app.to_owned(),
                // kwok never pulls or runs it.
                image: Some("registry.example/eshop:smoke".to_owned()),
                volume_mounts: None,
                ..Default::default()
            }],
            ..Default::default()
        }),
    }
}

fn named(name: &str) -> kube::api::ObjectMeta {
    kube::api::ObjectMeta {
        name: Some(name.to_owned()),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_deployment_becomes_available() {
    let testbed = Testbed::shared().await;
    let namespace = testbed.create_namespace("smoke-deployment").await;
    let deployments = Api::<Deployment>::namespaced(testbed.client(), &namespace);
    let deployment = Deployment {
        metadata: named("web"),
        spec: Some(DeploymentSpec {
            replicas: Some(2),
            selector: LabelSelector {
                match_labels: Some(labels("web")),
                ..Default::default()
            },
            template: pod_template("web"),
            ..Default::default()
        }),
        ..Default::default()
    };
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .expect("creating the Deployment");

    let available = wait::until(
        &deployments,
        "web",
        "Available=True",
        conditions::is_deployment_completed(),
    )
    .await;

    let status = available
        .status
        .expect("an available Deployment has a status");
    assert_eq!(status.available_replicas, Some(2));
    let is_available = status
        .conditions
        .unwrap_or_default()
        .iter()
        .any(|condition| condition.type_ == "Available" && condition.status == "True");
    assert!(is_available, "the Deployment reports Available=True");
}

#[tokio::test]
async fn a_statefulset_gets_its_volume_bound_and_its_pod_ready() {
    let testbed = Testbed::shared().await;
    let namespace = testbed.create_namespace("smoke-statefulset").await;
    let client = testbed.client();
    let statefulsets = Api::<StatefulSet>::namespaced(client.clone(), &namespace);
    let mut template = pod_template("db");
    template
        .spec
        .as_mut()
        .expect("the template has a spec")
        .containers[0]
        .volume_mounts = Some(vec![VolumeMount {
        name: "data".to_owned(),
        mount_path: "/var/lib/data".to_owned(),
        ..Default::default()
    }]);
    let statefulset = StatefulSet {
        metadata: named("db"),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some("db".to_owned()),
            selector: LabelSelector {
                match_labels: Some(labels("db")),
                ..Default::default()
            },
            template,
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: named("data"),
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
                    storage_class_name: Some(STORAGE_CLASS.to_owned()),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some([("storage".to_owned(), Quantity("1Gi".to_owned()))].into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    statefulsets
        .create(&PostParams::default(), &statefulset)
        .await
        .expect("creating the StatefulSet");

    let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), &namespace);
    let claim = wait::until(
        &claims,
        "data-db-0",
        "phase Bound",
        |claim: Option<&PersistentVolumeClaim>| {
            claim
                .and_then(|claim| claim.status.as_ref())
                .and_then(|status| status.phase.as_deref())
                == Some("Bound")
        },
    )
    .await;
    let spec = claim.spec.expect("a claim has a spec");
    assert_eq!(spec.storage_class_name.as_deref(), Some(STORAGE_CLASS));
    assert!(spec.volume_name.is_some(), "the claim names its volume");

    let pods = Api::<Pod>::namespaced(client.clone(), &namespace);
    wait::until(&pods, "db-0", "Ready=True", |pod: Option<&Pod>| {
        pod.and_then(|pod| pod.status.as_ref())
            .and_then(|status| status.conditions.as_ref())
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|condition| condition.type_ == "Ready" && condition.status == "True")
            })
    })
    .await;
    let ready = wait::until(
        &statefulsets,
        "db",
        "1 ready replica",
        |set: Option<&StatefulSet>| {
            set.and_then(|set| set.status.as_ref())
                .and_then(|status| status.ready_replicas)
                == Some(1)
        },
    )
    .await;
    assert_eq!(
        ready.status.and_then(|status| status.ready_replicas),
        Some(1)
    );
}

#[tokio::test]
async fn the_api_server_enforces_a_crd_schema_and_names_the_field() {
    let testbed = Testbed::shared().await;
    let namespace = testbed.create_namespace("smoke-crd").await;
    let client = testbed.client();
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "gadgets.smoke.eshop.test" },
        "spec": {
            "group": "smoke.eshop.test",
            "scope": "Namespaced",
            "names": { "plural": "gadgets", "singular": "gadget", "kind": "Gadget" },
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": { "spec": {
                        "type": "object",
                        "required": ["replicas"],
                        "properties": {
                            "replicas": { "type": "integer", "minimum": 1, "maximum": 5 },
                        },
                    }},
                }},
            }],
        },
    }))
    .expect("the CRD is well formed");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("creating the CRD");
    wait::until(
        &crds,
        "gadgets.smoke.eshop.test",
        "Established=True",
        conditions::is_crd_established(),
    )
    .await;

    let resource =
        ApiResource::from_gvk(&GroupVersionKind::gvk("smoke.eshop.test", "v1", "Gadget"));
    let gadgets = Api::<DynamicObject>::namespaced_with(client, &namespace, &resource);
    let gadget = |name: &str, replicas: i64| {
        DynamicObject::new(name, &resource).data(json!({ "spec": { "replicas": replicas } }))
    };
    gadgets
        .create(&PostParams::default(), &gadget("valid", 3))
        .await
        .expect("a gadget within the schema is accepted");

    let refused = gadgets
        .create(&PostParams::default(), &gadget("too-many", 9))
        .await
        .expect_err("a gadget outside the schema is refused");
    let kube::Error::Api(status) = refused else {
        panic!("expected an API error, got {refused}");
    };
    assert_eq!(status.code, 422, "{}", status.message);
    assert!(
        status.message.contains("spec.replicas"),
        "the message names the field: {}",
        status.message
    );
    let fields: Vec<&str> = status
        .details
        .iter()
        .flat_map(|details| &details.causes)
        .map(|cause| cause.field.as_str())
        .collect();
    assert_eq!(fields, ["spec.replicas"]);
    assert!(
        gadgets
            .get_opt("too-many")
            .await
            .expect("reading gadgets")
            .is_none()
    );
}

#[tokio::test]
async fn deleting_an_owner_garbage_collects_its_dependents() {
    let testbed = Testbed::shared().await;
    let namespace = testbed.create_namespace("smoke-gc").await;
    let config_maps = Api::<ConfigMap>::namespaced(testbed.client(), &namespace);
    let owner = config_maps
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: named("owner"),
                ..Default::default()
            },
        )
        .await
        .expect("creating the owner");
    let dependent = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some("dependent".to_owned()),
            owner_references: Some(vec![OwnerReference {
                api_version: ConfigMap::api_version(&()).into_owned(),
                kind: ConfigMap::kind(&()).into_owned(),
                name: owner.name_any(),
                uid: owner.uid().expect("a created object has a uid"),
                controller: Some(true),
                ..Default::default()
            }]),
            ..Default::default()
        },
        ..Default::default()
    };
    config_maps
        .create(&PostParams::default(), &dependent)
        .await
        .expect("creating the dependent");

    config_maps
        .delete("owner", &DeleteParams::background())
        .await
        .expect("deleting the owner");

    wait::until_deleted(&config_maps, "dependent").await;
    assert!(
        config_maps
            .get_opt("owner")
            .await
            .expect("reading")
            .is_none()
    );
}

#[tokio::test]
async fn an_ingress_and_a_network_policy_pass_a_server_side_dry_run() {
    let testbed = Testbed::shared().await;
    let namespace = testbed.create_namespace("smoke-dry-run").await;
    let client = testbed.client();
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };

    let ingresses = Api::<Ingress>::namespaced(client.clone(), &namespace);
    let ingress = Ingress {
        metadata: named("shop"),
        spec: Some(IngressSpec {
            rules: Some(vec![IngressRule {
                host: Some("shop.example.com".to_owned()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".to_owned()),
                        path_type: "Prefix".to_owned(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: "gateway".to_owned(),
                                port: Some(ServiceBackendPort {
                                    number: Some(8080),
                                    ..Default::default()
                                }),
                            }),
                            ..Default::default()
                        },
                    }],
                }),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let checked = ingresses
        .create(&dry_run, &ingress)
        .await
        .expect("the Ingress passes admission");
    assert_eq!(checked.name_any(), "shop");
    assert!(
        ingresses.get_opt("shop").await.expect("reading").is_none(),
        "a dry run stores nothing"
    );

    let policies = Api::<NetworkPolicy>::namespaced(client, &namespace);
    let policy = NetworkPolicy {
        metadata: named("default-deny"),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            ..Default::default()
        }),
    };
    let checked = policies
        .create(&dry_run, &policy)
        .await
        .expect("the NetworkPolicy passes admission");
    assert_eq!(checked.name_any(), "default-deny");
    assert!(
        policies
            .get_opt("default-deny")
            .await
            .expect("reading")
            .is_none(),
        "a dry run stores nothing"
    );
}
