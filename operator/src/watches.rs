//! The watches: every child kind, StorageClasses and the Secrets shops
//! refer to, each run as a task of its own that fills a cache and sends the
//! shops to reconcile down one channel.
//!
//! Children are mapped to their shop by the `app.kubernetes.io/instance`
//! label, which every child and every claim carries; a Secret or a
//! StorageClass to every shop whose spec names it (a StorageClass also to
//! the shops that use the default class). So a shop waiting for an external
//! database's Secret or for a StorageClass recovers when it appears, not
//! when its backoff ends.
//!
//! The controller waits for every cache once, with one waiter per cache,
//! before it reconciles anything. kube-runtime's `Store::wait_until_ready`
//! keeps a single waker (a `futures` oneshot receiver behind a mutex): of
//! several tasks awaiting it at once, only the last to poll is woken and
//! the others wait forever. Reconciles that each awaited it were stuck that
//! way when many shops started together; the test at the end of this file
//! shows the behaviour.

use futures::{
    Stream, StreamExt, TryStreamExt,
    channel::mpsc::{self, UnboundedReceiver, UnboundedSender},
};
use k8s_openapi::api::{
    core::v1::{PersistentVolumeClaim, Secret},
    storage::v1::StorageClass,
};
use kube::{
    Api, Client, ResourceExt,
    core::PartialObjectMeta,
    runtime::{
        WatchStreamExt,
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use tokio::task::JoinSet;

use crate::{
    build::{LABEL_INSTANCE, MANAGED_SELECTOR, secrets},
    controller::{Caches, Scope},
    crd::EShop,
    reconcile::Child,
};

/// The annotation that marks a StorageClass as the cluster's default.
pub const DEFAULT_STORAGE_CLASS: &str = "storageclass.kubernetes.io/is-default-class";

/// The caches the watches fill, the tasks that run them (aborted when
/// dropped), and the shops whose stores' Secrets or claims changed, for
/// the credentials' releaser ([`crate::credentials::release`]).
#[derive(Debug)]
pub struct Watches {
    pub caches: Caches,
    pub tasks: JoinSet<()>,
    pub credentials_changes: UnboundedReceiver<ObjectRef<EShop>>,
}

type Triggers = UnboundedSender<ObjectRef<EShop>>;

/// Starts every watch.
pub fn start(client: &Client, scope: &Scope, shops: &Store<EShop>, triggers: &Triggers) -> Watches {
    let mut tasks = JoinSet::new();
    let (credentials, credentials_changes) = mpsc::unbounded();
    let to = [triggers];
    let with_credentials = [triggers, &credentials];
    let caches = Caches {
        secrets: children(&mut tasks, client, scope, &with_credentials),
        config_maps: children(&mut tasks, client, scope, &to),
        stateful_sets: children(&mut tasks, client, scope, &to),
        deployments: children(&mut tasks, client, scope, &to),
        services: children(&mut tasks, client, scope, &to),
        ingresses: children(&mut tasks, client, scope, &to),
        network_policies: children(&mut tasks, client, scope, &to),
        pod_disruption_budgets: children(&mut tasks, client, scope, &to),
        autoscalers: children(&mut tasks, client, scope, &to),
        claims: children::<PersistentVolumeClaim>(&mut tasks, client, scope, &with_credentials),
        storage_classes: storage_classes(&mut tasks, client, shops, triggers),
    };
    referenced_secrets(&mut tasks, client, scope, shops, triggers);
    Watches {
        caches,
        tasks,
        credentials_changes,
    }
}

/// Completes once every cache has listed its objects. One task awaits all
/// of them, so each cache has a single waiter.
pub async fn until_filled(caches: &Caches) {
    // A cache only fails to fill when its watch task is gone, which
    // happens only when the controller stops.
    let _ = futures::join!(
        caches.secrets.wait_until_ready(),
        caches.config_maps.wait_until_ready(),
        caches.stateful_sets.wait_until_ready(),
        caches.deployments.wait_until_ready(),
        caches.services.wait_until_ready(),
        caches.ingresses.wait_until_ready(),
        caches.network_policies.wait_until_ready(),
        caches.pod_disruption_budgets.wait_until_ready(),
        caches.autoscalers.wait_until_ready(),
        caches.claims.wait_until_ready(),
        caches.storage_classes.wait_until_ready(),
    );
}

/// Runs `events` to its end as a task, logging watch errors (the watch
/// retries by itself).
fn spawn<T>(
    tasks: &mut JoinSet<()>,
    kind: impl Into<String>,
    events: impl Stream<Item = Result<T, watcher::Error>> + Send + 'static,
    mut on_object: impl FnMut(T) + Send + 'static,
) {
    let kind = kind.into();
    tasks.spawn(async move {
        let mut events = std::pin::pin!(events);
        while let Some(event) = events.next().await {
            match event {
                Ok(object) => on_object(object),
                Err(error) => tracing::warn!(%kind, %error, "watching"),
            }
        }
    });
}

/// The operator's objects of kind `K`, cached without their managed fields
/// (large and unused); each change is sent, as the shop named by its
/// instance label, to each of `triggers`.
fn children<K: Child>(
    tasks: &mut JoinSet<()>,
    client: &Client,
    scope: &Scope,
    triggers: &[&Triggers],
) -> Store<K> {
    let (reader, writer) = reflector::store();
    let events = watcher(
        scope.api::<K>(client),
        watcher::Config::default().labels(MANAGED_SELECTOR),
    )
    .default_backoff()
    .modify(|object| object.managed_fields_mut().clear())
    .reflect(writer)
    .touched_objects();
    let triggers: Vec<Triggers> = triggers.iter().map(|&sender| sender.clone()).collect();
    spawn(
        tasks,
        K::kind(&()).into_owned(),
        events,
        move |object: K| {
            let shop = object
                .labels()
                .get(LABEL_INSTANCE)
                .zip(object.namespace())
                .map(|(shop, namespace)| ObjectRef::new(shop).within(&namespace));
            if let Some(shop) = shop {
                for sender in &triggers {
                    let _ = sender.unbounded_send(shop.clone());
                }
            }
        },
    );
    reader
}

/// Every StorageClass, cached; a change triggers every shop whose volumes
/// name it or use the default class.
fn storage_classes(
    tasks: &mut JoinSet<()>,
    client: &Client,
    shops: &Store<EShop>,
    triggers: &Triggers,
) -> Store<StorageClass> {
    let (reader, writer) = reflector::store();
    let events = watcher(
        Api::<StorageClass>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .modify(|object| object.managed_fields_mut().clear())
    .reflect(writer)
    .touched_objects();
    let (shops, triggers) = (shops.clone(), triggers.clone());
    spawn(tasks, "StorageClass", events, move |class: StorageClass| {
        let name = class.name_any();
        for shop in shops.state() {
            let spec = &shop.spec;
            let uses = [&spec.database.storage, &spec.redis.storage]
                .into_iter()
                .any(|storage| {
                    storage
                        .storage_class_name
                        .as_ref()
                        .is_none_or(|wanted| *wanted == name)
                });
            if uses {
                let _ = triggers.unbounded_send(ObjectRef::from(&*shop));
            }
        }
    });
    reader
}

/// The names of the Secrets `shop` depends on: those its spec refers to,
/// and its own generated ones (which a person may restore without the
/// operator's labels).
pub fn referenced_secret_names(shop: &EShop) -> impl Iterator<Item = String> + '_ {
    let spec = &shop.spec;
    let generated = [
        secrets::POSTGRES,
        secrets::REDIS,
        secrets::JWT,
        secrets::INTERNAL_TOKEN,
    ]
    .map(|suffix| format!("{}-{suffix}", shop.name_any()));
    spec.database
        .external_secret_ref
        .iter()
        .map(|reference| reference.name.clone())
        .chain(spec.ingress.tls_secret_name.clone())
        .chain(
            spec.image
                .pull_secrets
                .iter()
                .map(|secret| secret.name.clone()),
        )
        .chain(generated)
}

/// Every Secret's metadata, not cached: a Secret that appears, changes or
/// goes triggers the shops of its namespace that refer to it.
fn referenced_secrets(
    tasks: &mut JoinSet<()>,
    client: &Client,
    scope: &Scope,
    shops: &Store<EShop>,
    triggers: &Triggers,
) {
    let secrets: Api<PartialObjectMeta<Secret>> = match &scope.namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    let events = watcher(secrets, watcher::Config::default())
        .default_backoff()
        .touched_objects()
        .map_ok(|secret| (secret.namespace(), secret.name_any()));
    let (shops, triggers) = (shops.clone(), triggers.clone());
    spawn(tasks, "Secret", events, move |(namespace, name)| {
        for shop in shops.state() {
            if shop.namespace() == namespace && referenced_secret_names(&shop).any(|n| n == name) {
                let _ = triggers.unbounded_send(ObjectRef::from(&*shop));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::{
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
        time::Duration,
    };

    use k8s_openapi::api::core::v1::ConfigMap;

    use super::*;

    /// Lets every spawned task run until it waits.
    async fn settle() {
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_store_wakes_only_the_last_of_several_waiters_so_the_caches_are_awaited_once() {
        let (reader, mut writer) = reflector::store::<ConfigMap>();
        let woken = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..6)
            .map(|_| {
                let (reader, woken) = (reader.clone(), Arc::clone(&woken));
                tokio::spawn(async move {
                    reader.wait_until_ready().await.expect("the writer lives");
                    woken.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        settle().await;
        writer.apply_watcher_event(&watcher::Event::InitDone);
        settle().await;
        assert_eq!(
            woken.load(Ordering::SeqCst),
            1,
            "kube-runtime wakes one of six concurrent waiters; if this fails it \
             wakes them all now, and the controller's single wait is merely careful"
        );
        // A waiter that polls after the store is ready returns at once, and
        // the stuck ones stay stuck.
        tokio::time::timeout(Duration::from_secs(5), reader.wait_until_ready())
            .await
            .expect("a late waiter returns at once")
            .expect("the writer lives");
        settle().await;
        assert_eq!(waiters.iter().filter(|task| task.is_finished()).count(), 1);
        for waiter in waiters {
            waiter.abort();
        }
    }
}
