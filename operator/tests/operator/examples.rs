//! Each example of `examples/` applied as a user would: the shop becomes
//! Ready for its generation, and every child exists with the EShop as its
//! controller, the operator as its field manager, the requested storage
//! class and the restricted security context (the namespace enforces it).

use std::time::Instant;

use eshop_operator::crd::EShop;
use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    autoscaling::v2::HorizontalPodAutoscaler,
    core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret, Service},
    networking::v1::{Ingress, NetworkPolicy},
    policy::v1::PodDisruptionBudget,
};
use kube::{Api, Client, Resource, ResourceExt, api::ListParams};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::support::{Operator, apply_documents, namespace, testbed, until_ready, yaml_documents};

const MANAGED: &str = "app.kubernetes.io/managed-by=eshop-operator";

/// Every object of kind `K` the operator made in `namespace`, checked for
/// the EShop as controller and the operator as field manager.
async fn children<K>(client: &Client, namespace: &str, shop: &EShop) -> Vec<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let objects = Api::<K>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(MANAGED))
        .await
        .expect("listing children")
        .items;
    for object in &objects {
        let kind = K::kind(&());
        let owner = object
            .owner_references()
            .iter()
            .find(|owner| owner.controller == Some(true))
            .unwrap_or_else(|| panic!("{kind} {} has no controller", object.name_any()));
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("EShop", shop.uid().unwrap().as_str()),
            "{kind} {}",
            object.name_any()
        );
        // Secrets are created once, the rest applied.
        let operation = if kind == "Secret" { "Update" } else { "Apply" };
        assert!(
            object
                .managed_fields()
                .iter()
                .any(|fields| fields.manager.as_deref() == Some("eshop-operator")
                    && fields.operation.as_deref() == Some(operation)),
            "{kind} {} is written by eshop-operator",
            object.name_any()
        );
    }
    objects
}

fn names<K: Resource>(objects: &[K]) -> Vec<String> {
    let mut names: Vec<String> = objects
        .iter()
        .map(|object| object.meta().name.clone().unwrap())
        .collect();
    names.sort();
    names
}

/// Every pod of the shop runs as non-root with every capability dropped.
async fn assert_pods_restricted(client: &Client, namespace: &str, expected: usize) {
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels("app.kubernetes.io/part-of=eshop"))
        .await
        .expect("listing pods")
        .items;
    assert_eq!(pods.len(), expected, "every pod was admitted");
    for pod in pods {
        let spec = pod.spec.unwrap();
        assert_eq!(spec.security_context.unwrap().run_as_non_root, Some(true));
        let container = spec.containers[0].security_context.clone().unwrap();
        assert_eq!(container.allow_privilege_escalation, Some(false));
        assert_eq!(container.capabilities.unwrap().drop.unwrap(), ["ALL"]);
    }
}

#[tokio::test]
async fn the_minimal_example_becomes_ready_with_every_child_owned_and_restricted() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "minimal").await;
    let client = testbed.client();
    let operator = Operator::start(testbed, &namespace).await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);

    let applied = Instant::now();
    apply_documents(
        &client,
        &namespace,
        &yaml_documents("examples/minimal.yaml"),
    )
    .await;
    let shop = until_ready(&shops, "shop").await;
    let elapsed = applied.elapsed();

    let status = shop.status.clone().unwrap();
    assert_eq!(status.observed_generation, shop.metadata.generation);
    assert_eq!(
        status.url.as_deref(),
        Some(format!("http://shop-gateway.{namespace}.svc:8080").as_str())
    );
    assert!(
        status
            .components
            .values()
            .all(|pods| pods.ready == pods.desired && pods.desired == 1)
    );

    let secrets: Vec<Secret> = children(&client, &namespace, &shop).await;
    let config_maps: Vec<ConfigMap> = children(&client, &namespace, &shop).await;
    let sets: Vec<StatefulSet> = children(&client, &namespace, &shop).await;
    let deployments: Vec<Deployment> = children(&client, &namespace, &shop).await;
    let services: Vec<Service> = children(&client, &namespace, &shop).await;
    let policies: Vec<NetworkPolicy> = children(&client, &namespace, &shop).await;
    let ingresses: Vec<Ingress> = children(&client, &namespace, &shop).await;
    assert_eq!(
        names(&secrets),
        [
            "shop-internal-token",
            "shop-jwt",
            "shop-postgres",
            "shop-redis"
        ]
    );
    assert_eq!(names(&config_maps), ["shop-config"]);
    assert_eq!(names(&sets), ["shop-postgres", "shop-redis"]);
    assert_eq!(deployments.len(), status.components.len() - 2);
    assert_eq!(services.len(), deployments.len() + 2);
    assert_eq!(policies.len(), 6);
    assert!(ingresses.is_empty());

    let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), &namespace)
        .list(&ListParams::default().labels(MANAGED))
        .await
        .unwrap()
        .items;
    assert_eq!(
        names(&claims),
        ["data-shop-postgres-0", "data-shop-redis-0"]
    );
    for claim in &claims {
        assert_eq!(
            claim.spec.as_ref().unwrap().storage_class_name.as_deref(),
            Some(eshop_testbed::STORAGE_CLASS),
            "the cluster's default class"
        );
    }
    assert_pods_restricted(&client, &namespace, deployments.len() + 2).await;

    let children_count = secrets.len()
        + config_maps.len()
        + sets.len()
        + deployments.len()
        + services.len()
        + policies.len();
    let writes = operator.writes.list();
    let first_status = writes
        .iter()
        .position(|write| write.ends_with("/status"))
        .unwrap()
        + 1;
    eprintln!(
        "minimal example: Ready {:.2}s after apply; {children_count} children; \
         first reconcile: {first_status} writes (children and status); \
         {} writes in all until Ready",
        elapsed.as_secs_f64(),
        writes.len()
    );
}

#[tokio::test]
async fn the_production_example_gets_replicas_autoscaling_tls_and_its_storage_class() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "production").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    let mut documents = yaml_documents("examples/production.yaml");
    // The example names `fast-ssd`, as on a real cluster; kwok provisions
    // only its own class, so the test points the example at that one.
    assert_eq!(
        documents[0]["spec"]["database"]["storage"]["storageClassName"],
        "fast-ssd"
    );
    for store in ["database", "redis"] {
        documents[0]["spec"][store]["storage"]["storageClassName"] =
            json!(eshop_testbed::STORAGE_CLASS);
    }
    apply_documents(&client, &namespace, &documents).await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    let shop = until_ready(&shops, "shop").await;
    assert_eq!(
        shop.status.as_ref().unwrap().url.as_deref(),
        Some("https://shop.example.com")
    );

    let deployments: Vec<Deployment> = children(&client, &namespace, &shop).await;
    let replicas = |name: &str| {
        deployments
            .iter()
            .find(|deployment| deployment.name_any() == name)
            .unwrap()
            .spec
            .as_ref()
            .unwrap()
            .replicas
    };
    assert_eq!(replicas("shop-users"), Some(2));
    let autoscalers: Vec<HorizontalPodAutoscaler> = children(&client, &namespace, &shop).await;
    assert_eq!(names(&autoscalers), ["shop-catalog", "shop-gateway"]);
    let catalog = autoscalers[0].spec.clone().unwrap();
    assert_eq!((catalog.min_replicas, catalog.max_replicas), (Some(2), 4));
    let catalog = deployments
        .iter()
        .find(|deployment| deployment.name_any() == "shop-catalog")
        .unwrap();
    let replicas_owned_by_operator = catalog.managed_fields().iter().any(|fields| {
        fields.manager.as_deref() == Some("eshop-operator")
            && fields
                .fields_v1
                .as_ref()
                .is_some_and(|fields| fields.0.to_string().contains("f:replicas"))
    });
    assert!(
        !replicas_owned_by_operator,
        "the replicas of an autoscaled Deployment are the autoscaler's"
    );
    let budgets: Vec<PodDisruptionBudget> = children(&client, &namespace, &shop).await;
    assert_eq!(
        names(&budgets),
        [
            "shop-cart",
            "shop-catalog",
            "shop-gateway",
            "shop-orders",
            "shop-payments",
            "shop-users"
        ]
    );
    let ingresses: Vec<Ingress> = children(&client, &namespace, &shop).await;
    let ingress = ingresses[0].spec.clone().unwrap();
    assert_eq!(ingress.ingress_class_name.as_deref(), Some("nginx"));
    assert_eq!(
        ingress.tls.unwrap()[0].secret_name.as_deref(),
        Some("shop-example-com-tls")
    );

    let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), &namespace);
    let claim = claims
        .get("data-shop-postgres-0")
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(
        claim.storage_class_name.as_deref(),
        Some(eshop_testbed::STORAGE_CLASS)
    );
    assert_eq!(
        claim.resources.unwrap().requests.unwrap()["storage"].0,
        "10Gi"
    );
    let pods = Api::<Pod>::namespaced(client.clone(), &namespace)
        .list(&ListParams::default().labels("app.kubernetes.io/part-of=eshop"))
        .await
        .unwrap()
        .items;
    assert_pods_restricted(&client, &namespace, pods.len()).await;
}

#[tokio::test]
async fn the_external_database_example_runs_no_postgres_and_reads_the_url_from_the_secret() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "external").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    apply_documents(
        &client,
        &namespace,
        &yaml_documents("examples/external-database.yaml"),
    )
    .await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    let shop = until_ready(&shops, "shop").await;
    assert!(
        !shop
            .status
            .as_ref()
            .unwrap()
            .components
            .contains_key("postgres")
    );

    let sets: Vec<StatefulSet> = children(&client, &namespace, &shop).await;
    assert_eq!(names(&sets), ["shop-redis"]);
    let deployments: Vec<Deployment> = children(&client, &namespace, &shop).await;
    let orders = deployments
        .iter()
        .find(|deployment| deployment.name_any() == "shop-orders")
        .unwrap();
    let env = orders
        .spec
        .clone()
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers[0]
        .env
        .clone()
        .unwrap();
    let url = env
        .iter()
        .find(|var| var.name == "ESHOP_DATABASE_URL")
        .unwrap();
    let reference = url.value_from.clone().unwrap().secret_key_ref.unwrap();
    assert_eq!(
        (reference.name.as_str(), reference.key.as_str()),
        ("shop-database", "url")
    );
}
