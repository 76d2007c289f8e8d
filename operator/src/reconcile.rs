//! One reconcile of one `EShop`, as a pipeline:
//!
//! 1. **read**: the generated credentials (from the Secrets in the cache,
//!    else from the API server, else remembered from a Secret deleted while
//!    the operator watched, else new) and the size in each StatefulSet's
//!    claim template;
//! 2. **validate**: what the API server's rules cannot check, such as an
//!    external database's Secret existing;
//! 3. **build**: the desired children, pure ([`crate::build`]);
//! 4. **apply**: each child is compared with the watch cache and written by
//!    server-side apply only when it differs, so a converged shop makes no
//!    write at all; claims of a grown volume are resized; children no
//!    longer wanted are deleted;
//! 5. **status**: computed from what the children report and written only
//!    when it changed ([`crate::status`]).
//!
//! A failure anywhere is reported as `Stalled` in status and as a Warning
//! Event, and the object is retried with its own exponential backoff.

use std::{collections::BTreeMap, fmt::Debug, sync::Arc, time::Duration};

use k8s_openapi::{
    NamespaceResourceScope,
    api::{
        apps::v1::{Deployment, StatefulSet},
        core::v1::{
            PersistentVolumeClaim, PersistentVolumeClaimSpec, Secret, VolumeResourceRequirements,
        },
    },
    apimachinery::pkg::api::resource::Quantity,
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, ObjectMeta, Patch, PatchParams},
    runtime::{
        controller::Action,
        events::{Event, EventType},
        reflector::{ObjectRef, Store},
    },
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{
    build::{
        self, Children, Credentials, Inputs, LABEL_COMPONENT, LABEL_INSTANCE, MANAGER, hex,
        postgres, redis, secrets,
    },
    controller::Context,
    crd::{DatabaseMode, EShop},
    status,
};

/// Annotation on every applied child: a digest of what was applied, so a
/// field the operator stops setting is noticed (the cache comparison alone
/// sees only fields that are set).
pub const APPLIED_DIGEST: &str = "eshop-operator.github.io/applied-digest";

/// How often a converged shop is looked at again without any event.
const RESYNC: Duration = Duration::from_secs(300);

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("building the children: {0}")]
    Build(#[from] build::BuildError),
    #[error("writing {kind} {name}: {source}")]
    Apply {
        kind: String,
        name: String,
        source: kube::Error,
    },
    #[error("reading {what}: {source}")]
    Read { what: String, source: kube::Error },
    #[error("writing the status: {0}")]
    Status(kube::Error),
    #[error(
        "the external database's Secret {name} has no key {key}: create it with the PostgreSQL URL"
    )]
    ExternalDatabaseSecret { name: String, key: String },
}

impl Error {
    /// A short CamelCase label: the metrics' `reason` and the conditions' reason.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Build(_) => "BuildFailed",
            Self::Apply { .. } => "ApplyFailed",
            Self::Read { .. } => "ReadFailed",
            Self::Status(_) => "StatusFailed",
            Self::ExternalDatabaseSecret { .. } => "ExternalDatabaseSecretMissing",
        }
    }
}

/// What the apply step did.
#[derive(Debug, Default)]
pub struct Applied {
    /// `Kind/name` of every object written or deleted.
    pub changes: Vec<String>,
    /// The Deployments and StatefulSets as they are now.
    pub deployments: Vec<Deployment>,
    pub stateful_sets: Vec<StatefulSet>,
}

/// Reconciles `shop`: the pipeline, then the outcome in status, Events and
/// the failure count that drives the backoff.
pub async fn reconcile(shop: Arc<EShop>, context: Arc<Context>) -> Result<Action, Error> {
    let timer = context.metrics.reconcile_started();
    let result = run(&shop, &context).await;
    drop(timer);
    match &result {
        Ok(_) => context.backoff.succeeded(&shop),
        Err(error) => {
            tracing::warn!(shop = %ObjectRef::from(&*shop), %error, "reconcile failed");
            report_failure(&shop, &context, error).await;
        }
    }
    result
}

async fn run(shop: &EShop, context: &Context) -> Result<Action, Error> {
    context.caches.wait_until_ready().await;
    let inputs = read(shop, context).await?;
    validate(shop, context).await?;
    let children = build::children(shop, &inputs)?;
    let applied = if shop.spec.paused {
        current(context, &children)
    } else {
        apply(shop, context, &children).await?
    };
    if !applied.changes.is_empty() {
        publish(
            context,
            shop,
            EventType::Normal,
            "Applied",
            &format!("applied {}", summary(&applied.changes)),
        )
        .await;
    }
    let status = status::compute(shop, &applied, None, jiff_now());
    status::write(context, shop, status).await?;
    Ok(Action::requeue(RESYNC))
}

fn jiff_now() -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::now()
}

/// The changes, shortened for an Event's note.
fn summary(changes: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut text = changes
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if changes.len() > SHOWN {
        text.push_str(&format!(" and {} more", changes.len() - SHOWN));
    }
    text
}

/// Status `Stalled` and a Warning Event for a failed reconcile; failing to
/// report is only logged, the reconcile's own error is what counts.
async fn report_failure(shop: &EShop, context: &Context, error: &Error) {
    let applied = current_from_cache(shop, context);
    let status = status::compute(shop, &applied, Some(error), jiff_now());
    let changed = status::differs(shop.status.as_ref(), &status);
    if let Err(error) = status::write(context, shop, status).await {
        tracing::warn!(%error, "writing the Stalled status");
    }
    if changed {
        publish(
            context,
            shop,
            EventType::Warning,
            error.label(),
            &error.to_string(),
        )
        .await;
    }
}

async fn publish(context: &Context, shop: &EShop, type_: EventType, reason: &str, note: &str) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note.to_owned()),
        action: "Reconcile".to_owned(),
        secondary: None,
    };
    if let Err(error) = context
        .recorder
        .publish(&event, &shop.object_ref(&()))
        .await
    {
        tracing::warn!(%error, "publishing an Event");
    }
}

/// Step 1: the credentials and the claim template sizes.
async fn read(shop: &EShop, context: &Context) -> Result<Inputs, Error> {
    let namespace = shop.namespace().unwrap_or_default();
    let owner = shop.uid().unwrap_or_default();
    let mut found = secrets::FoundSecrets::new();
    for suffix in [
        secrets::POSTGRES,
        secrets::REDIS,
        secrets::JWT,
        secrets::INTERNAL_TOKEN,
    ] {
        let name = format!("{}-{suffix}", shop.name_any());
        let key = ObjectRef::new(&name).within(&namespace);
        let data = match context.caches.secrets.get(&key) {
            Some(secret) => secret.data.clone(),
            None => fresh_secret(context, &namespace, &name)
                .await?
                .or_else(|| context.remembered.recall(&namespace, &name, &owner)),
        };
        if let Some(data) = data {
            found.insert(suffix, data);
        }
    }
    let mut claim_template_sizes = BTreeMap::new();
    for component in [postgres::COMPONENT, redis::COMPONENT] {
        let key = ObjectRef::new(&format!("{}-{component}", shop.name_any())).within(&namespace);
        let size = context.caches.stateful_sets.get(&key).and_then(|set| {
            set.spec
                .as_ref()?
                .volume_claim_templates
                .as_ref()?
                .first()?
                .spec
                .as_ref()?
                .resources
                .as_ref()?
                .requests
                .as_ref()?
                .get("storage")
                .cloned()
        });
        if let Some(size) = size {
            claim_template_sizes.insert(component, size);
        }
    }
    Ok(Inputs {
        credentials: Credentials::from_secrets(&found),
        claim_template_sizes,
    })
}

/// A Secret the cache does not have, read from the API server in case the
/// cache lags behind: a Secret is never generated over one that exists.
async fn fresh_secret(
    context: &Context,
    namespace: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, k8s_openapi::ByteString>>, Error> {
    let api = Api::<Secret>::namespaced(context.client.clone(), namespace);
    let secret = api.get_opt(name).await.map_err(|source| Error::Read {
        what: format!("Secret {name}"),
        source,
    })?;
    Ok(secret.and_then(|secret| secret.data))
}

/// Step 2: an external database's Secret must exist with its key.
async fn validate(shop: &EShop, context: &Context) -> Result<(), Error> {
    let database = &shop.spec.database;
    let Some(external) = database
        .external_secret_ref
        .as_ref()
        .filter(|_| database.mode == DatabaseMode::External)
    else {
        return Ok(());
    };
    let api = Api::<Secret>::namespaced(
        context.client.clone(),
        &shop.namespace().unwrap_or_default(),
    );
    let secret = api
        .get_opt(&external.name)
        .await
        .map_err(|source| Error::Read {
            what: format!("Secret {}", external.name),
            source,
        })?;
    let has_key = secret
        .and_then(|secret| secret.data)
        .is_some_and(|data| data.contains_key(&external.key));
    if has_key {
        Ok(())
    } else {
        Err(Error::ExternalDatabaseSecret {
            name: external.name.clone(),
            key: external.key.clone(),
        })
    }
}

/// Step 4: writes what differs from the cache, grows claims, deletes what
/// is no longer wanted.
async fn apply(shop: &EShop, context: &Context, children: &Children) -> Result<Applied, Error> {
    let caches = &context.caches;
    let mut applied = Applied::default();
    let changes = &mut applied.changes;
    for secret in &children.secrets {
        create_if_absent(context, &caches.secrets, secret, changes).await?;
    }
    apply_all(context, &caches.config_maps, &children.config_maps, changes).await?;
    applied.stateful_sets = apply_all(
        context,
        &caches.stateful_sets,
        &children.stateful_sets,
        changes,
    )
    .await?;
    grow_claims(shop, context, changes).await?;
    apply_all(context, &caches.services, &children.services, changes).await?;
    applied.deployments =
        apply_all(context, &caches.deployments, &children.deployments, changes).await?;
    apply_all(context, &caches.ingresses, &children.ingresses, changes).await?;
    apply_all(
        context,
        &caches.network_policies,
        &children.network_policies,
        changes,
    )
    .await?;
    apply_all(
        context,
        &caches.pod_disruption_budgets,
        &children.pod_disruption_budgets,
        changes,
    )
    .await?;
    apply_all(context, &caches.autoscalers, &children.autoscalers, changes).await?;

    prune(
        shop,
        context,
        &caches.config_maps,
        &children.config_maps,
        changes,
    )
    .await?;
    prune(
        shop,
        context,
        &caches.stateful_sets,
        &children.stateful_sets,
        changes,
    )
    .await?;
    prune(shop, context, &caches.services, &children.services, changes).await?;
    prune(
        shop,
        context,
        &caches.deployments,
        &children.deployments,
        changes,
    )
    .await?;
    prune(
        shop,
        context,
        &caches.ingresses,
        &children.ingresses,
        changes,
    )
    .await?;
    prune(
        shop,
        context,
        &caches.network_policies,
        &children.network_policies,
        changes,
    )
    .await?;
    prune(
        shop,
        context,
        &caches.pod_disruption_budgets,
        &children.pod_disruption_budgets,
        changes,
    )
    .await?;
    prune(
        shop,
        context,
        &caches.autoscalers,
        &children.autoscalers,
        changes,
    )
    .await?;
    Ok(applied)
}

/// The Deployments and StatefulSets as the cache has them, for status
/// without writing (paused).
fn current(context: &Context, children: &Children) -> Applied {
    Applied {
        changes: Vec::new(),
        deployments: cached_copies(&context.caches.deployments, &children.deployments),
        stateful_sets: cached_copies(&context.caches.stateful_sets, &children.stateful_sets),
    }
}

/// The cached copy of each desired object that is in the cache.
fn cached_copies<K: Child>(store: &Store<K>, desired: &[K]) -> Vec<K> {
    desired
        .iter()
        .filter_map(|object| {
            let key = ObjectRef::new(&object.name_any())
                .within(object.meta().namespace.as_deref().unwrap_or_default());
            store.get(&key).map(|cached| (*cached).clone())
        })
        .collect()
}

/// The shop's Deployments and StatefulSets in the cache, whatever is desired.
fn current_from_cache(shop: &EShop, context: &Context) -> Applied {
    Applied {
        changes: Vec::new(),
        deployments: owned_by(shop, &context.caches.deployments)
            .map(|object| (*object).clone())
            .collect(),
        stateful_sets: owned_by(shop, &context.caches.stateful_sets)
            .map(|object| (*object).clone())
            .collect(),
    }
}

/// The cached objects `shop` controls.
fn owned_by<'a, K>(shop: &'a EShop, store: &Store<K>) -> impl Iterator<Item = Arc<K>> + 'a
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let namespace = shop.namespace();
    let uid = shop.uid();
    store.state().into_iter().filter(move |object| {
        object.meta().namespace == namespace
            && object
                .owner_references()
                .iter()
                .any(|owner| owner.controller == Some(true) && Some(&owner.uid) == uid.as_ref())
    })
}

/// The bounds every child kind meets.
pub trait Child:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Serialize
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Child for K where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static
{
}

fn api<K: Child>(context: &Context, object: &K) -> Api<K> {
    Api::namespaced(
        context.client.clone(),
        object.meta().namespace.as_deref().unwrap_or_default(),
    )
}

fn apply_params() -> PatchParams {
    PatchParams::apply(MANAGER).force()
}

/// Applies each object that differs from the cache; returns every object
/// as it now is.
async fn apply_all<K: Child>(
    context: &Context,
    store: &Store<K>,
    desired: &[K],
    changes: &mut Vec<String>,
) -> Result<Vec<K>, Error> {
    let mut current = Vec::with_capacity(desired.len());
    for object in desired {
        let object = with_digest(object);
        let name = object.name_any();
        let key =
            ObjectRef::new(&name).within(object.meta().namespace.as_deref().unwrap_or_default());
        if let Some(cached) = store.get(&key).filter(|cached| converged(&object, cached)) {
            current.push((*cached).clone());
            continue;
        }
        let written = api(context, &object)
            .patch(&name, &apply_params(), &Patch::Apply(&object))
            .await
            .map_err(|source| Error::Apply {
                kind: K::kind(&()).into_owned(),
                name: name.clone(),
                source,
            })?;
        context.metrics.write();
        changes.push(format!("{}/{name}", K::kind(&())));
        current.push(written);
    }
    Ok(current)
}

/// Creates a generated Secret by server-side apply when it does not exist;
/// one that exists is never written, so its values never change.
async fn create_if_absent(
    context: &Context,
    store: &Store<Secret>,
    secret: &Secret,
    changes: &mut Vec<String>,
) -> Result<(), Error> {
    let name = secret.name_any();
    let namespace = secret.namespace().unwrap_or_default();
    if store
        .get(&ObjectRef::new(&name).within(&namespace))
        .is_some()
    {
        return Ok(());
    }
    let api = api(context, secret);
    let exists = api.get_opt(&name).await.map_err(|source| Error::Read {
        what: format!("Secret {name}"),
        source,
    })?;
    if exists.is_some() {
        return Ok(());
    }
    api.patch(&name, &apply_params(), &Patch::Apply(secret))
        .await
        .map_err(|source| Error::Apply {
            kind: "Secret".to_owned(),
            name: name.clone(),
            source,
        })?;
    context.metrics.write();
    changes.push(format!("Secret/{name}"));
    Ok(())
}

/// Resizes the claims of a StatefulSet whose spec asks for more storage
/// than they have; the claim template cannot change, the claims can.
async fn grow_claims(
    shop: &EShop,
    context: &Context,
    changes: &mut Vec<String>,
) -> Result<(), Error> {
    let namespace = shop.namespace().unwrap_or_default();
    let mut wanted = vec![(redis::COMPONENT, &shop.spec.redis.storage.size)];
    if shop.spec.database.mode == DatabaseMode::InCluster {
        wanted.push((postgres::COMPONENT, &shop.spec.database.storage.size));
    }
    for (component, size) in wanted {
        let Some(wanted_bytes) = quantity_bytes(size) else {
            continue;
        };
        let claims = context.caches.claims.state().into_iter().filter(|claim| {
            claim.metadata.namespace.as_deref() == Some(&namespace)
                && claim.labels().get(LABEL_INSTANCE) == Some(&shop.name_any())
                && claim.labels().get(LABEL_COMPONENT).map(String::as_str) == Some(component)
        });
        for claim in claims {
            let requested = claim
                .spec
                .as_ref()
                .and_then(|spec| spec.resources.as_ref())
                .and_then(|resources| resources.requests.as_ref())
                .and_then(|requests| requests.get("storage"))
                .and_then(|quantity| quantity_bytes(&quantity.0));
            if requested.is_some_and(|requested| requested >= wanted_bytes) {
                continue;
            }
            let name = claim.name_any();
            let patch = PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_owned(),
                            Quantity(size.clone()),
                        )])),
                        ..VolumeResourceRequirements::default()
                    }),
                    ..PersistentVolumeClaimSpec::default()
                }),
                ..PersistentVolumeClaim::default()
            };
            api(context, &patch)
                .patch(&name, &apply_params(), &Patch::Apply(&patch))
                .await
                .map_err(|source| Error::Apply {
                    kind: "PersistentVolumeClaim".to_owned(),
                    name: name.clone(),
                    source,
                })?;
            context.metrics.write();
            changes.push(format!("PersistentVolumeClaim/{name}"));
        }
    }
    Ok(())
}

/// Deletes the objects `shop` controls that are no longer desired (an
/// Ingress turned off, autoscaling removed, ...).
async fn prune<K: Child>(
    shop: &EShop,
    context: &Context,
    store: &Store<K>,
    desired: &[K],
    changes: &mut Vec<String>,
) -> Result<(), Error> {
    let unwanted: Vec<Arc<K>> = owned_by(shop, store)
        .filter(|object| {
            object.meta().deletion_timestamp.is_none()
                && !desired
                    .iter()
                    .any(|wanted| wanted.name_any() == object.name_any())
        })
        .collect();
    for object in unwanted {
        let name = object.name_any();
        let result = api(context, &*object)
            .delete(&name, &DeleteParams::background())
            .await;
        match result {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => {
                return Err(Error::Apply {
                    kind: K::kind(&()).into_owned(),
                    name,
                    source,
                });
            }
        }
        context.metrics.write();
        changes.push(format!("{}/{name} (deleted)", K::kind(&())));
    }
    Ok(())
}

/// `object` with the digest of its own contents as an annotation.
fn with_digest<K: Child>(object: &K) -> K {
    let mut object = object.clone();
    let digest = digest(&object);
    object
        .meta_mut()
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(APPLIED_DIGEST.to_owned(), digest);
    object
}

fn digest<K: Serialize>(object: &K) -> String {
    let json = serde_json::to_vec(object).expect("Kubernetes objects serialize to JSON");
    hex(&Sha256::digest(&json)[..8])
}

/// Whether the cached object already is what `desired` asks for: it carries
/// the same applied digest, and every field `desired` sets has the same
/// value there (the server adds defaults and status, which are ignored).
pub fn converged<K: Serialize>(desired: &K, cached: &K) -> bool {
    let desired = serde_json::to_value(desired).expect("objects serialize");
    let cached = serde_json::to_value(cached).expect("objects serialize");
    let digest = |value: &Value| {
        value
            .pointer(&format!(
                "/metadata/annotations/{}",
                APPLIED_DIGEST.replace('/', "~1")
            ))
            .cloned()
    };
    digest(&desired) == digest(&cached) && contains(&cached, &desired)
}

/// Whether `actual` has every value `wanted` has.
fn contains(actual: &Value, wanted: &Value) -> bool {
    match (actual, wanted) {
        (_, Value::Null) => true,
        (Value::Object(actual), Value::Object(wanted)) => wanted.iter().all(|(key, value)| {
            actual
                .get(key)
                .map_or_else(|| is_empty(value), |actual| contains(actual, value))
        }),
        (Value::Array(actual), Value::Array(wanted)) => {
            actual.len() == wanted.len()
                && actual
                    .iter()
                    .zip(wanted)
                    .all(|(actual, wanted)| contains(actual, wanted))
        }
        (actual, wanted) => actual == wanted,
    }
}

/// Values the API server drops when stored: an empty list or map.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.values().all(is_empty) && fields.is_empty(),
        _ => false,
    }
}

/// A quantity in bytes (or base units), for comparing storage sizes.
pub fn quantity_bytes(quantity: &str) -> Option<f64> {
    let split = quantity
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(quantity.len());
    let (number, suffix) = quantity.split_at(split);
    let number: f64 = number.parse().ok()?;
    let multiplier = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    Some(number * multiplier)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_cached_object_with_server_defaults_is_converged() {
        let desired = json!({
            "metadata": {"name": "a", "annotations": {APPLIED_DIGEST: "1"}},
            "spec": {"replicas": 2, "template": {"containers": [{"name": "x", "image": "i"}]}, "empty": []},
        });
        let cached = json!({
            "metadata": {"name": "a", "uid": "u", "annotations": {APPLIED_DIGEST: "1"}},
            "spec": {"replicas": 2, "template": {"containers": [{"name": "x", "image": "i", "terminationMessagePath": "/dev"}]}},
            "status": {"readyReplicas": 1},
        });
        assert!(converged(&desired, &cached));

        let mut drifted = cached.clone();
        drifted["spec"]["replicas"] = json!(3);
        assert!(!converged(&desired, &drifted));

        let mut other_digest = cached.clone();
        other_digest["metadata"]["annotations"][APPLIED_DIGEST] = json!("2");
        assert!(!converged(&desired, &other_digest));

        let mut extra_container = cached;
        extra_container["spec"]["template"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "sidecar"}));
        assert!(!converged(&desired, &extra_container));
    }

    #[test]
    fn quantities_compare_by_size() {
        assert_eq!(quantity_bytes("1Gi"), Some(1024f64.powi(3)));
        assert!(quantity_bytes("2Gi") > quantity_bytes("1500Mi"));
        assert!(quantity_bytes("1G") < quantity_bytes("1Gi"));
        assert_eq!(quantity_bytes("500m"), Some(0.5));
        assert_eq!(quantity_bytes("lots"), None);
    }
}
