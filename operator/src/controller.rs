//! The controller: the watches that fill the caches, and a kube-runtime
//! `Controller` over `EShop`s that they trigger.
//!
//! Each child kind is watched once, filtered to the operator's own objects
//! by label, into a cache ([`Caches`]) that the reconciler compares against
//! before writing. The watches run on their own ([`crate::watches`]) and
//! the controller starts only once every cache has listed its objects, so
//! no reconcile ever waits on a cache: a shared one-shot signal awaited by
//! many reconciles at once wakes only some of them (see [`crate::watches`]).
//! Any change to a child, to a Secret a shop refers to or to a
//! StorageClass triggers a reconcile of the shops concerned. Failures back
//! off per shop ([`Backoff`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{FutureExt, StreamExt, channel::mpsc};
use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    autoscaling::v2::HorizontalPodAutoscaler,
    core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service},
    networking::v1::{Ingress, NetworkPolicy},
    policy::v1::PodDisruptionBudget,
    storage::v1::StorageClass,
};
use kube::{
    Api, Client, Resource,
    runtime::{
        Controller,
        controller::{Action, Config},
        events::{Recorder, Reporter},
        reflector::{ObjectRef, Store},
        watcher,
    },
};

use crate::{
    build::MANAGER,
    crd::EShop,
    credentials,
    metrics::Metrics,
    reconcile::{self, Error},
    watches::{self, Watches},
};

/// The caches of every child kind and of StorageClasses, filled by the
/// watches.
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
    pub storage_classes: Store<StorageClass>,
}

/// Failures in a row per shop, for exponential backoff. Entries of shops
/// that no longer exist are dropped at the next failure of any shop.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<ObjectRef<EShop>, u32>>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_secs(1);
    const LONGEST: Duration = Duration::from_secs(300);

    /// Counts a failure; returns how long to wait before the next try:
    /// 1 s, 2 s, 4 s, ... up to 5 minutes.
    pub fn failed(&self, shop: &EShop, shops: &Store<EShop>) -> Duration {
        let mut failures = self.failures.lock().expect("the lock is never poisoned");
        failures.retain(|key, _| shops.get(key).is_some());
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

    /// How many shops are backing off now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.failures
            .lock()
            .expect("the lock is never poisoned")
            .len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub caches: Caches,
    pub shops: Store<EShop>,
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
    pub(crate) fn api<K>(&self, client: &Client) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        match &self.namespace {
            Some(namespace) => Api::namespaced(client.clone(), namespace),
            None => Api::all(client.clone()),
        }
    }
}

/// Runs the controller until `shutdown` completes: starts the watches,
/// waits until every cache is filled, then reconciles. Returns once the
/// reconciles in flight at shutdown have ended.
pub async fn run(
    client: Client,
    scope: Scope,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let controller = Controller::new(scope.api::<EShop>(&client), watcher::Config::default())
        .with_config(Config::default().debounce(Duration::from_millis(100)));
    let shops = controller.store();
    let (triggers, triggered) = mpsc::unbounded();
    let Watches {
        caches,
        mut tasks,
        credentials_changes,
    } = watches::start(&client, &scope, &shops, &triggers);
    let shutdown = shutdown.shared();
    tokio::select! {
        () = watches::until_filled(&caches) => {}
        () = shutdown.clone() => return,
    }
    tracing::info!("every cache is filled: reconciling");
    tasks.spawn(credentials::release(
        client.clone(),
        caches.secrets.clone(),
        credentials_changes,
    ));
    let context = Arc::new(Context {
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: MANAGER.to_owned(),
                instance: std::env::var("POD_NAME").ok(),
            },
        ),
        client,
        caches,
        shops,
        metrics,
        backoff: Backoff::default(),
    });
    controller
        .reconcile_on(triggered)
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile, error_policy, context)
        .for_each(|_| std::future::ready(()))
        .await;
    drop(tasks);
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "the signature kube-runtime's Controller::run asks for"
)]
fn error_policy(shop: Arc<EShop>, error: &Error, context: Arc<Context>) -> Action {
    context.metrics.failed(error.label());
    Action::requeue(context.backoff.failed(&shop, &context.shops))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoffs_of_shops_that_are_gone_are_forgotten() {
        let (shops, mut writer) = kube::runtime::reflector::store::<EShop>();
        let kept = crate::build::test_shop(&serde_json::json!({}));
        let mut gone = kept.clone();
        gone.metadata.name = Some("gone".to_owned());
        writer.apply_watcher_event(&watcher::Event::Apply(kept.clone()));
        let backoff = Backoff::default();
        backoff.failed(&gone, &shops);
        assert_eq!(backoff.len(), 1);
        assert_eq!(backoff.failed(&kept, &shops), Duration::from_secs(1));
        assert_eq!(backoff.len(), 1, "the shop that is gone is forgotten");
        assert_eq!(backoff.failed(&kept, &shops), Duration::from_secs(2));
        backoff.succeeded(&kept);
        assert!(backoff.is_empty());
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let delays: Vec<u64> = (1..=11).map(|n| Backoff::delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(Backoff::delay(u32::MAX), Backoff::LONGEST);
    }
}
