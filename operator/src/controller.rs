//! The controller: a kube-runtime `Controller` over `EShop`s that owns every
//! child kind, so a change to any child (or its deletion) triggers a
//! reconcile of its shop.
//!
//! Each child kind is watched once, filtered to the operator's own objects
//! by label, and the same watch fills a cache ([`Caches`]) that the
//! reconciler compares against before writing. Secrets' values are also
//! remembered from the watch ([`Remembered`]), so a generated Secret that
//! someone deletes comes back with the values it had. Failures back off
//! per object ([`Backoff`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::{
    ByteString,
    api::{
        apps::v1::{Deployment, StatefulSet},
        autoscaling::v2::HorizontalPodAutoscaler,
        core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service},
        networking::v1::{Ingress, NetworkPolicy},
        policy::v1::PodDisruptionBudget,
    },
};
use kube::{
    Api, Client, Resource, ResourceExt,
    runtime::{
        Controller, WatchStreamExt,
        controller::Action,
        events::{Recorder, Reporter},
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};

use crate::{
    build::{LABEL_INSTANCE, MANAGED_SELECTOR, MANAGER},
    crd::EShop,
    metrics::Metrics,
    reconcile::{self, Child, Error},
};

/// The caches of every child kind, filled by the controller's watches.
#[derive(Debug, Clone)]
pub struct Caches {
    pub secrets: Store<Secret>,
    pub config_maps: Store<ConfigMap>,
    pub stateful_sets: Store<StatefulSet>,
    pub deployments: Store<Deployment>,
    pub services: Store<Service>,
    pub ingresses: Store<Ingress>,
    pub network_policies: Store<NetworkPolicy>,
    pub pod_disruption_budgets: Store<PodDisruptionBudget>,
    pub autoscalers: Store<HorizontalPodAutoscaler>,
    pub claims: Store<PersistentVolumeClaim>,
}

impl Caches {
    /// Waits until every watch has listed its objects once: before that,
    /// an object missing from a cache may still exist.
    pub async fn wait_until_ready(&self) {
        // A store only fails to become ready when its writer is dropped,
        // which happens when the controller stops.
        let _ = futures::join!(
            self.secrets.wait_until_ready(),
            self.config_maps.wait_until_ready(),
            self.stateful_sets.wait_until_ready(),
            self.deployments.wait_until_ready(),
            self.services.wait_until_ready(),
            self.ingresses.wait_until_ready(),
            self.network_policies.wait_until_ready(),
            self.pod_disruption_budgets.wait_until_ready(),
            self.autoscalers.wait_until_ready(),
            self.claims.wait_until_ready(),
        );
    }
}

/// A Secret's namespace and name.
type SecretKey = (String, String);
/// The uid of the shop that owned a Secret, and the Secret's data.
type OwnedData = (String, std::collections::BTreeMap<String, ByteString>);

/// The data of Secrets the operator has seen, by namespace and name, with
/// the uid of the shop that owned them.
#[derive(Debug, Default)]
pub struct Remembered {
    secrets: Mutex<HashMap<SecretKey, OwnedData>>,
}

impl Remembered {
    fn observe(&self, event: &watcher::Event<Secret>) {
        let (watcher::Event::Apply(secret)
        | watcher::Event::InitApply(secret)
        | watcher::Event::Delete(secret)) = event
        else {
            return;
        };
        let owner = secret
            .owner_references()
            .iter()
            .find(|owner| owner.controller == Some(true))
            .map(|owner| owner.uid.clone());
        if let (Some(owner), Some(data)) = (owner, secret.data.clone()) {
            let key = (secret.namespace().unwrap_or_default(), secret.name_any());
            self.secrets
                .lock()
                .expect("the lock is never poisoned")
                .insert(key, (owner, data));
        }
    }

    /// The last data seen of Secret `name` while `owner` owned it.
    pub fn recall(
        &self,
        namespace: &str,
        name: &str,
        owner: &str,
    ) -> Option<std::collections::BTreeMap<String, ByteString>> {
        let secrets = self.secrets.lock().expect("the lock is never poisoned");
        secrets
            .get(&(namespace.to_owned(), name.to_owned()))
            .filter(|(seen_owner, _)| seen_owner == owner)
            .map(|(_, data)| data.clone())
    }
}

/// Failures in a row per shop, for exponential backoff.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<ObjectRef<EShop>, u32>>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_secs(1);
    const LONGEST: Duration = Duration::from_secs(300);

    /// Counts a failure; returns how long to wait before the next try:
    /// 1 s, 2 s, 4 s, ... up to 5 minutes.
    pub fn failed(&self, shop: &EShop) -> Duration {
        let mut failures = self.failures.lock().expect("the lock is never poisoned");
        let count = failures.entry(ObjectRef::from(shop)).or_insert(0);
        *count = count.saturating_add(1);
        Self::delay(*count)
    }

    fn delay(failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(16);
        (Self::FIRST * 2u32.pow(exponent)).min(Self::LONGEST)
    }

    pub fn succeeded(&self, shop: &EShop) {
        self.failures
            .lock()
            .expect("the lock is never poisoned")
            .remove(&ObjectRef::from(shop));
    }
}

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub caches: Caches,
    pub remembered: Arc<Remembered>,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub backoff: Backoff,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("caches", &self.caches)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// Which shops the controller looks after.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only this namespace's; every namespace's when `None`.
    pub namespace: Option<String>,
}

impl Scope {
    fn api<K>(&self, client: &Client) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        match &self.namespace {
            Some(namespace) => Api::namespaced(client.clone(), namespace),
            None => Api::all(client.clone()),
        }
    }
}

/// A watch of the operator's objects of kind `K` that also fills a cache.
/// Managed fields are dropped from the cache: they are large and unused.
fn cached<K: Child>(
    client: &Client,
    scope: &Scope,
) -> (
    Store<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
) {
    cached_observed(client, scope, |_| {})
}

fn cached_observed<K: Child>(
    client: &Client,
    scope: &Scope,
    observe: impl Fn(&watcher::Event<K>) + Send + 'static,
) -> (
    Store<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
) {
    let (reader, writer) = reflector::store();
    let stream = watcher(
        scope.api::<K>(client),
        watcher::Config::default().labels(MANAGED_SELECTOR),
    )
    .default_backoff()
    .modify(|object| {
        object.managed_fields_mut().clear();
    })
    .map_ok(move |event| {
        observe(&event);
        event
    })
    .reflect(writer)
    .touched_objects();
    (reader, stream)
}

/// Runs the controller until `shutdown` completes.
pub async fn run(
    client: Client,
    scope: Scope,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let remembered = Arc::new(Remembered::default());
    let observer = Arc::clone(&remembered);
    let (secrets, secret_events) =
        cached_observed(&client, &scope, move |event| observer.observe(event));
    let (config_maps, config_map_events) = cached(&client, &scope);
    let (stateful_sets, stateful_set_events) = cached(&client, &scope);
    let (deployments, deployment_events) = cached(&client, &scope);
    let (services, service_events) = cached(&client, &scope);
    let (ingresses, ingress_events) = cached(&client, &scope);
    let (network_policies, network_policy_events) = cached(&client, &scope);
    let (pod_disruption_budgets, pdb_events) = cached(&client, &scope);
    let (autoscalers, autoscaler_events) = cached(&client, &scope);
    let (claims, claim_events) = cached::<PersistentVolumeClaim>(&client, &scope);
    let context = Arc::new(Context {
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: MANAGER.to_owned(),
                instance: std::env::var("POD_NAME").ok(),
            },
        ),
        client: client.clone(),
        caches: Caches {
            secrets,
            config_maps,
            stateful_sets,
            deployments,
            services,
            ingresses,
            network_policies,
            pod_disruption_budgets,
            autoscalers,
            claims,
        },
        remembered,
        metrics,
        backoff: Backoff::default(),
    });
    Controller::new(scope.api::<EShop>(&client), watcher::Config::default())
        .owns_stream(secret_events)
        .owns_stream(config_map_events)
        .owns_stream(stateful_set_events)
        .owns_stream(deployment_events)
        .owns_stream(service_events)
        .owns_stream(ingress_events)
        .owns_stream(network_policy_events)
        .owns_stream(pdb_events)
        .owns_stream(autoscaler_events)
        // Claims belong to the StatefulSets, not to the shop: their
        // instance label names it.
        .watches_stream(claim_events, |claim: PersistentVolumeClaim| {
            let namespace = claim.namespace()?;
            let shop = claim.labels().get(LABEL_INSTANCE)?.clone();
            Some(ObjectRef::<EShop>::new(&shop).within(&namespace))
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile, error_policy, context)
        .for_each(|_| std::future::ready(()))
        .await;
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "the signature kube-runtime's Controller::run asks for"
)]
fn error_policy(shop: Arc<EShop>, error: &Error, context: Arc<Context>) -> Action {
    context.metrics.failed(error.label());
    Action::requeue(context.backoff.failed(&shop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let delays: Vec<u64> = (1..=11).map(|n| Backoff::delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(Backoff::delay(u32::MAX), Backoff::LONGEST);
    }
}
