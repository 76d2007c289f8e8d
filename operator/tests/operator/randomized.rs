//! Randomized drift, seeded and reproducible: across three shops, random
//! sequences of what happens to shops on a real cluster: children deleted
//! or edited by other field managers (ports, images, replicas, Secrets,
//! StatefulSets, NetworkPolicies, ConfigMaps), spec changes with random
//! valid values written in random spellings (`0.5` or `500m`, `1Gi` or
//! `1024Mi`), and the operator killed at any moment and started again,
//! sometimes only after more has happened.
//!
//! After each sequence, with the operator running:
//!
//! - every shop converges: every child in place and rolled out, and the
//!   shop Ready for its current generation;
//! - a resync writes nothing: a fresh operator finds nothing to change;
//! - the credentials of every store still are those its database was
//!   initialised with;
//! - every volume is the one it was: nothing deleted a claim.
//!
//! `ESHOP_DRIFT_SEEDS=7,8` runs other seeds; a failure names its seed and
//! the operations so far, so it can be replayed.

use std::{collections::BTreeMap, fmt, time::Instant};

use eshop_operator::crd::EShop;
use fastrand::Rng;
use k8s_openapi::{
    ByteString,
    api::{
        apps::v1::{Deployment, StatefulSet},
        core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service},
        networking::v1::NetworkPolicy,
    },
};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams},
};
use serde_json::{Value, json};

use crate::support::{
    Operator, apply_minimal, eventually, is_ready, namespace, patch_spec, testbed,
};

const SHOPS: usize = 3;
const SEQUENCES: usize = 3;
const OPERATIONS: usize = 6;
const SERVICES: [&str; 10] = [
    "gateway", "users", "catalog", "cart", "ratings", "wallet", "shipping", "orders", "payments",
    "dispatch",
];
const SECRETS: [&str; 4] = ["postgres", "redis", "jwt", "internal-token"];
const POLICIES: [&str; 3] = ["default-deny", "dns", "services"];
/// The same CPU and memory, spelled the ways people write them.
const CPUS: [[&str; 3]; 3] = [
    ["0.1", "100m", "0.100"],
    ["0.5", "500m", "0.50"],
    ["1", "1000m", "1.0"],
];
const MEMORIES: [[&str; 3]; 3] = [
    ["128Mi", "134217728", "0.125Gi"],
    ["256Mi", "268435456", "0.25Gi"],
    ["1Gi", "1024Mi", "1073741824"],
];
/// Redis volume sizes, growing, each in several spellings.
const SIZES: [[&str; 2]; 3] = [["1Gi", "1024Mi"], ["2Gi", "2048Mi"], ["3Gi", "3072Mi"]];

/// One thing that happens to a shop, or to the operator.
#[derive(Debug, Clone)]
enum Operation {
    DeleteChild {
        shop: usize,
        kind: &'static str,
        name: String,
    },
    EditPort {
        shop: usize,
        service: &'static str,
        port: i32,
    },
    EditImage {
        shop: usize,
        service: &'static str,
    },
    Scale {
        shop: usize,
        service: &'static str,
        replicas: i32,
    },
    ChangeSpec {
        shop: usize,
        spec: Value,
    },
    KillOperator,
    StartOperator,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DeleteChild { shop, kind, name } => {
                write!(f, "shop-{shop}: delete {kind} {name}")
            }
            Self::EditPort {
                shop,
                service,
                port,
            } => write!(f, "shop-{shop}: port of {service} to {port}"),
            Self::EditImage { shop, service } => {
                write!(f, "shop-{shop}: image of {service} edited")
            }
            Self::Scale {
                shop,
                service,
                replicas,
            } => write!(f, "shop-{shop}: scale {service} to {replicas}"),
            Self::ChangeSpec { shop, spec } => write!(f, "shop-{shop}: spec {spec}"),
            Self::KillOperator => write!(f, "kill the operator"),
            Self::StartOperator => write!(f, "start the operator"),
        }
    }
}

/// What the generator knows of each shop, so every spec it writes is valid.
#[derive(Debug, Default, Clone)]
struct Known {
    redis_size: usize,
}

fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[rng.usize(..items.len())]
}

/// A random valid spec change.
fn spec_change(rng: &mut Rng, known: &mut Known) -> Value {
    let service = pick(rng, &SERVICES);
    match rng.u8(..7) {
        0 => json!({"services": {service: {"replicas": rng.i32(0..=3)}}}),
        1 => {
            let cpus = pick(rng, &CPUS);
            let cpu = pick(rng, &cpus);
            let memory = pick(rng, &MEMORIES);
            json!({"services": {service: {"resources": {
                "requests": {"cpu": cpu, "memory": pick(rng, &memory)},
                "limits": {"memory": pick(rng, &memory)},
            }}}})
        }
        2 => json!({"image": {"tag": pick(rng, &["0.1.0", "0.2.0", "0.3.0-rc.1"])}}),
        3 => {
            known.redis_size = (known.redis_size + rng.usize(0..=1)).min(SIZES.len() - 1);
            json!({"redis": {"storage": {"size": pick(rng, &SIZES[known.redis_size])}}})
        }
        4 => {
            json!({"networkPolicies": rng.bool(), "pvcRetention": pick(rng, &["Retain", "Delete"])})
        }
        5 => {
            if rng.bool() {
                let min = rng.i32(1..=2);
                json!({"services": {service: {"autoscaling": {"minReplicas": min, "maxReplicas": min + rng.i32(0..=2)}}}})
            } else {
                json!({"services": {service: {"autoscaling": null}}})
            }
        }
        _ => {
            if rng.bool() {
                json!({"ingress": {"enabled": true, "host": format!("shop-{}.example.com", rng.u8(..10))}})
            } else {
                json!({"ingress": {"enabled": false, "host": null}})
            }
        }
    }
}

/// A random operation, given whether the operator runs.
fn operation(rng: &mut Rng, running: bool, known: &mut [Known]) -> Operation {
    let shop = rng.usize(..SHOPS);
    match rng.u8(..10) {
        0 | 1 if running => Operation::KillOperator,
        0 | 1 => Operation::StartOperator,
        2 | 3 => {
            let (kind, name) = match rng.u8(..6) {
                0 => ("Deployment", pick(rng, &SERVICES).to_owned()),
                1 => ("Service", pick(rng, &SERVICES).to_owned()),
                2 => ("StatefulSet", pick(rng, &["postgres", "redis"]).to_owned()),
                3 => ("Secret", pick(rng, &SECRETS).to_owned()),
                4 => ("NetworkPolicy", pick(rng, &POLICIES).to_owned()),
                _ => ("ConfigMap", "config".to_owned()),
            };
            Operation::DeleteChild {
                shop,
                kind,
                name: format!("shop-{shop}-{name}"),
            }
        }
        4 => Operation::EditPort {
            shop,
            service: pick(rng, &SERVICES),
            port: rng.i32(1024..60000),
        },
        5 => Operation::EditImage {
            shop,
            service: pick(rng, &SERVICES),
        },
        6 => Operation::Scale {
            shop,
            service: pick(rng, &SERVICES),
            replicas: rng.i32(0..=4),
        },
        _ => Operation::ChangeSpec {
            shop,
            spec: spec_change(rng, &mut known[shop]),
        },
    }
}

/// Deletes `name` of kind `K`; one already gone is fine.
async fn delete<K>(client: &Client, namespace: &str, name: &str)
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + fmt::Debug,
{
    match Api::<K>::namespaced(client.clone(), namespace)
        .delete(name, &DeleteParams::default())
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.is_not_found() => {}
        Err(error) => panic!("deleting {name}: {error}"),
    }
}

/// Does `operation`; the operator is `operator`.
async fn perform(
    testbed: &eshop_testbed::Testbed,
    namespace: &str,
    operation: &Operation,
    operator: &mut Option<Operator>,
) {
    let client = testbed.client();
    let shops = Api::<EShop>::namespaced(client.clone(), namespace);
    match operation {
        Operation::DeleteChild { kind, name, .. } => match *kind {
            "Deployment" => delete::<Deployment>(&client, namespace, name).await,
            "Service" => delete::<Service>(&client, namespace, name).await,
            "StatefulSet" => delete::<StatefulSet>(&client, namespace, name).await,
            "Secret" => delete::<Secret>(&client, namespace, name).await,
            "NetworkPolicy" => delete::<NetworkPolicy>(&client, namespace, name).await,
            _ => delete::<ConfigMap>(&client, namespace, name).await,
        },
        Operation::EditPort {
            shop,
            service,
            port,
        } => {
            let result = Api::<Service>::namespaced(client, namespace)
                .patch(
                    &format!("shop-{shop}-{service}"),
                    &PatchParams {
                        field_manager: Some("kubectl-patch".to_owned()),
                        ..PatchParams::default()
                    },
                    &Patch::Merge(json!({"spec": {"ports": [
                        {"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}
                    ]}})),
                )
                .await;
            tolerate_missing(result);
        }
        Operation::EditImage { shop, service } => {
            let result = Api::<Deployment>::namespaced(client, namespace)
                .patch(
                    &format!("shop-{shop}-{service}"),
                    &PatchParams::apply("kubectl-edit").force(),
                    &Patch::Apply(json!({
                        "apiVersion": "apps/v1", "kind": "Deployment",
                        "spec": {"template": {"spec": {"containers": [{"name": service, "image": "evil.example/eshop:latest"}]}}},
                    })),
                )
                .await;
            tolerate_missing(result);
        }
        Operation::Scale {
            shop,
            service,
            replicas,
        } => {
            let result = Api::<Deployment>::namespaced(client, namespace)
                .patch(
                    &format!("shop-{shop}-{service}"),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"replicas": replicas}})),
                )
                .await;
            tolerate_missing(result);
        }
        Operation::ChangeSpec { shop, spec } => {
            patch_spec(&shops, &format!("shop-{shop}"), spec.clone()).await;
        }
        Operation::KillOperator => {
            if let Some(running) = operator.take() {
                running.kill().await;
            }
        }
        Operation::StartOperator => {
            if operator.is_none() {
                *operator = Some(Operator::start(testbed, namespace).await);
            }
        }
    }
}

/// An edit of an object that another operation deleted meanwhile finds
/// nothing (404), or, as an apply, would create an incomplete object (422);
/// any other failure is not expected.
fn tolerate_missing<T>(result: Result<T, kube::Error>) {
    match result {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.is_not_found() || status.is_invalid() => {}
        Err(error) => panic!("editing a child: {error}"),
    }
}

/// The stores' credentials, by Secret name.
async fn credentials(
    client: &Client,
    namespace: &str,
) -> BTreeMap<String, BTreeMap<String, ByteString>> {
    Api::<Secret>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|secret| {
            secret.name_any().ends_with("-postgres") || secret.name_any().ends_with("-redis")
        })
        .map(|secret| (secret.name_any(), secret.data.unwrap_or_default()))
        .collect()
}

/// Every claim's uid, by name.
async fn volumes(client: &Client, namespace: &str) -> BTreeMap<String, String> {
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|claim| (claim.name_any(), claim.uid().unwrap_or_default()))
        .collect()
}

async fn all_ready(shops: &Api<EShop>) -> bool {
    let list = shops.list(&ListParams::default()).await.unwrap().items;
    list.len() == SHOPS && list.iter().all(is_ready)
}

/// Whether every shop has all its workloads, each rolled out and ready,
/// every Service, ConfigMap and Secret, as the API server says, not the
/// operator.
async fn children_in_place(client: &Client, namespace: &str) -> bool {
    let managed = ListParams::default().labels("app.kubernetes.io/managed-by=eshop-operator");
    let deployments = Api::<Deployment>::namespaced(client.clone(), namespace)
        .list(&managed)
        .await
        .unwrap()
        .items;
    let sets = Api::<StatefulSet>::namespaced(client.clone(), namespace)
        .list(&managed)
        .await
        .unwrap()
        .items;
    let count = |kind: usize| kind == SHOPS;
    let deployments_ready = deployments.iter().all(|deployment| {
        let wanted = deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.replicas)
            .unwrap_or(1);
        deployment.status.as_ref().is_some_and(|status| {
            status.observed_generation >= deployment.metadata.generation
                && status.updated_replicas.unwrap_or(0) == wanted
                && status.available_replicas.unwrap_or(0) == wanted
                && status.replicas.unwrap_or(0) == wanted
        })
    });
    let sets_ready = sets.iter().all(|set| {
        set.status.as_ref().is_some_and(|status| {
            status.observed_generation >= set.metadata.generation
                && status.ready_replicas == Some(1)
        })
    });
    let services = Api::<Service>::namespaced(client.clone(), namespace)
        .list(&managed)
        .await
        .unwrap()
        .items
        .len();
    let config_maps = Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .list(&managed)
        .await
        .unwrap()
        .items
        .len();
    let secrets = Api::<Secret>::namespaced(client.clone(), namespace)
        .list(&managed)
        .await
        .unwrap()
        .items
        .len();
    deployments.len() == SHOPS * SERVICES.len()
        && sets.len() == 2 * SHOPS
        && services == SHOPS * (SERVICES.len() + 2)
        && count(config_maps)
        && secrets == SHOPS * SECRETS.len()
        && deployments_ready
        && sets_ready
}

/// Whether the operator has no reconcile in flight.
fn idle(operator: &Operator) -> bool {
    operator.metric("eshop_operator_reconciles_total") == operator.reconciles_finished()
}

fn seeds() -> Vec<u64> {
    std::env::var("ESHOP_DRIFT_SEEDS").ok().map_or_else(
        || vec![1, 2, 3],
        |seeds| {
            seeds
                .split(',')
                .map(|seed| {
                    seed.trim()
                        .parse()
                        .expect("ESHOP_DRIFT_SEEDS is a list of numbers")
                })
                .collect()
        },
    )
}

#[tokio::test]
async fn random_drift_kills_and_spec_changes_always_converge_keeping_credentials_and_volumes() {
    let testbed = testbed().await;
    let client = testbed.client();
    for seed in seeds() {
        let mut rng = Rng::with_seed(seed);
        let namespace = namespace(testbed, &format!("random-{seed}")).await;
        let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
        let mut operator = Some(Operator::start(testbed, &namespace).await);
        for shop in 0..SHOPS {
            apply_minimal(&client, &namespace, &format!("shop-{shop}")).await;
        }
        eventually("every shop Ready at first", || all_ready(&shops)).await;
        let initial_credentials = credentials(&client, &namespace).await;
        let initial_volumes = volumes(&client, &namespace).await;
        assert_eq!(initial_credentials.len(), 2 * SHOPS);
        assert_eq!(initial_volumes.len(), 2 * SHOPS);
        let mut known = vec![Known::default(); SHOPS];
        let mut done = Vec::new();
        for sequence in 1..=SEQUENCES {
            let mut operations = Vec::new();
            for _ in 0..OPERATIONS {
                let next = operation(&mut rng, operator.is_some(), &mut known);
                perform(testbed, &namespace, &next, &mut operator).await;
                operations.push(next.to_string());
            }
            done.extend(operations.iter().cloned());
            let context = || format!("seed {seed}, operations so far:\n  {}", done.join("\n  "));
            if operator.is_none() {
                operator = Some(Operator::start(testbed, &namespace).await);
            }
            let started = Instant::now();
            let running = operator.as_ref().expect("running");
            let converged = tokio::time::timeout(eshop_testbed::wait::TIMEOUT * 2, async {
                // Settled: twice in a row, half a second apart, nothing in
                // flight, every child in place and every shop Ready.
                let mut settled_polls = 0;
                while settled_polls < 2 {
                    let settled = idle(running)
                        && children_in_place(&client, &namespace).await
                        && all_ready(&shops).await;
                    settled_polls = if settled { settled_polls + 1 } else { 0 };
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
            })
            .await;
            assert!(
                converged.is_ok(),
                "shops not Ready after {:?}; {}",
                eshop_testbed::wait::TIMEOUT * 2,
                context()
            );
            let to_ready = started.elapsed();

            // A fresh operator finds nothing to change.
            let settled = operator.take().expect("running");
            eventually("the operator to finish its passes", || {
                let finished = settled.reconciles_finished();
                async move { finished > 0 }
            })
            .await;
            settled.kill().await;
            let fresh = Operator::start(testbed, &namespace).await;
            eventually("a pass over every shop", || {
                let finished = fresh.reconciles_finished();
                async move { finished >= SHOPS as u64 }
            })
            .await;
            let writes = fresh.writes.list();
            operator = Some(fresh);
            let credentials_now = credentials(&client, &namespace).await;
            let kept = initial_credentials
                .iter()
                .filter(|(name, data)| credentials_now.get(*name) == Some(*data))
                .count();
            let volumes_now = volumes(&client, &namespace).await;
            let volumes_kept = initial_volumes
                .iter()
                .filter(|(name, uid)| volumes_now.get(*name) == Some(*uid))
                .count();
            eprintln!(
                "seed {seed} sequence {sequence}: {} operations ({})\n  \
                 every shop Ready: {SHOPS}/{SHOPS} in {:.1} s\n  \
                 resync writes: {}\n  \
                 credentials as initialised: {kept}/{}\n  \
                 volumes kept: {volumes_kept}/{}",
                operations.len(),
                operations.join("; "),
                to_ready.as_secs_f64(),
                writes.len(),
                initial_credentials.len(),
                initial_volumes.len(),
            );
            assert_eq!(
                writes,
                Vec::<String>::new(),
                "a resync writes nothing; {}",
                context()
            );
            assert_eq!(
                kept,
                initial_credentials.len(),
                "credentials changed; {}",
                context()
            );
            assert_eq!(
                volumes_kept,
                initial_volumes.len(),
                "a volume was replaced; {}",
                context()
            );
        }
    }
}
