//! Writing the children: each desired object is compared with the watch
//! cache ([`crate::compare`]) and written by server-side apply only when it
//! differs, so a converged shop makes no write at all; children no longer
//! wanted are deleted.
//!
//! Other field managers are met as in any cluster:
//!
//! - an apply the API server refuses because of another manager's entries
//!   (a hand-edited Service port leaves two ports of one name), or that
//!   leaves entries the operator did not ask for, takes the fields back: a
//!   JSON merge patch replaces the lists with the operator's, and the apply
//!   is made again;
//! - a Deployment handed to an autoscaler keeps its replica count: before
//!   the operator stops setting `replicas`, a second field manager takes
//!   the current value over, so the field is never dropped to 1.
//!
//! A child that cannot be written does not stop the others: every child is
//! tried, and the failures are returned together.

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Patch, PatchParams},
    runtime::reflector::{ObjectRef, Store},
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{
    build::{Children, MANAGER, hex},
    compare::{APPLIED_DIGEST, converged},
    controller::Context,
    crd::EShop,
    credentials::{self, ShopCredentials},
    reconcile::{Applied, Child, Error},
};

/// The field manager that holds a Deployment's replicas while the
/// operator hands them to its HorizontalPodAutoscaler.
pub const REPLICAS_HANDOVER: &str = "eshop-operator-replicas-handover";

/// Writes what differs from the cache and deletes what is no longer
/// wanted. The generated Secrets come first: nothing that uses a new
/// credential is written unless its Secret was.
pub async fn children(
    shop: &EShop,
    context: &Context,
    children: &Children,
    credentials: &ShopCredentials,
) -> Applied {
    let caches = &context.caches;
    let mut applied = Applied::default();
    if let Err(error) = credentials::create_missing(
        context,
        &children.secrets,
        credentials,
        &mut applied.changes,
    )
    .await
    {
        applied.errors.push(error);
        return applied;
    }
    apply_all(
        context,
        &caches.config_maps,
        &children.config_maps,
        &mut applied,
    )
    .await;
    applied.stateful_sets = apply_all(
        context,
        &caches.stateful_sets,
        &children.stateful_sets,
        &mut applied,
    )
    .await;
    apply_all(context, &caches.services, &children.services, &mut applied).await;
    applied.deployments = apply_deployments(context, &children.deployments, &mut applied).await;
    apply_all(
        context,
        &caches.ingresses,
        &children.ingresses,
        &mut applied,
    )
    .await;
    apply_all(
        context,
        &caches.network_policies,
        &children.network_policies,
        &mut applied,
    )
    .await;
    apply_all(
        context,
        &caches.pod_disruption_budgets,
        &children.pod_disruption_budgets,
        &mut applied,
    )
    .await;
    apply_all(
        context,
        &caches.autoscalers,
        &children.autoscalers,
        &mut applied,
    )
    .await;

    prune(
        shop,
        context,
        &caches.config_maps,
        &children.config_maps,
        &mut applied,
    )
    .await;
    prune(
        shop,
        context,
        &caches.stateful_sets,
        &children.stateful_sets,
        &mut applied,
    )
    .await;
    prune(
        shop,
        context,
        &caches.services,
        &children.services,
        &mut applied,
    )
    .await;
    prune(
        shop,
        context,
        &caches.deployments,
        &children.deployments,
        &mut applied,
    )
    .await;
    prune(
        shop,
        context,
        &caches.ingresses,
        &children.ingresses,
        &mut applied,
    )
    .await;
    prune(
        shop,
        context,
        &caches.network_policies,
        &children.network_policies,
        &mut applied,
    )
    .await;
    prune(
        shop,
        context,
        &caches.pod_disruption_budgets,
        &children.pod_disruption_budgets,
        &mut applied,
    )
    .await;
    prune(
        shop,
        context,
        &caches.autoscalers,
        &children.autoscalers,
        &mut applied,
    )
    .await;
    applied
}

/// Whether any desired child (Secrets aside: they are only ever created)
/// is missing from the cache or differs from it.
pub fn differs(context: &Context, children: &Children) -> bool {
    let caches = &context.caches;
    any_differs(&caches.config_maps, &children.config_maps)
        || any_differs(&caches.stateful_sets, &children.stateful_sets)
        || any_differs(&caches.services, &children.services)
        || any_differs(&caches.deployments, &children.deployments)
        || any_differs(&caches.ingresses, &children.ingresses)
        || any_differs(&caches.network_policies, &children.network_policies)
        || any_differs(
            &caches.pod_disruption_budgets,
            &children.pod_disruption_budgets,
        )
        || any_differs(&caches.autoscalers, &children.autoscalers)
}

fn any_differs<K: Child>(store: &Store<K>, desired: &[K]) -> bool {
    desired.iter().any(|object| {
        let object = with_digest(object);
        cached(store, &object).is_none_or(|cached| !converged(&object, &*cached))
    })
}

/// The cached copy of `object`.
fn cached<K: Child>(store: &Store<K>, object: &K) -> Option<Arc<K>> {
    store.get(&ObjectRef::new(&object.name_any()).within(&object.namespace().unwrap_or_default()))
}

/// The cached objects `shop` controls.
pub fn owned_by<'a, K: Child>(
    shop: &'a EShop,
    store: &Store<K>,
) -> impl Iterator<Item = Arc<K>> + 'a {
    let namespace = shop.namespace();
    let uid = shop.uid();
    store.state().into_iter().filter(move |object| {
        object.namespace() == namespace
            && object
                .owner_references()
                .iter()
                .any(|owner| owner.controller == Some(true) && Some(&owner.uid) == uid.as_ref())
    })
}

pub fn api<K: Child>(context: &Context, object: &K) -> Api<K> {
    Api::namespaced(
        context.client.clone(),
        &object.namespace().unwrap_or_default(),
    )
}

pub fn apply_params() -> PatchParams {
    PatchParams::apply(MANAGER).force()
}

/// Applies each object of a kind; returns every object as it now is (or
/// as the cache has it, when writing it failed).
async fn apply_all<K: Child>(
    context: &Context,
    store: &Store<K>,
    desired: &[K],
    applied: &mut Applied,
) -> Vec<K> {
    let mut current = Vec::with_capacity(desired.len());
    for object in desired {
        let object = with_digest(object);
        let cached = cached(store, &object);
        match apply_one(context, cached.as_deref(), &object).await {
            Ok(Some(written)) => {
                applied
                    .changes
                    .push(format!("{}/{}", K::kind(&()), object.name_any()));
                current.push(written);
            }
            Ok(None) => current.extend(cached.map(|cached| (*cached).clone())),
            Err(error) => {
                applied.errors.push(error);
                current.extend(cached.map(|cached| (*cached).clone()));
            }
        }
    }
    current
}

/// Applies the Deployments; one about to leave its replicas to an
/// autoscaler first has them taken over by [`REPLICAS_HANDOVER`].
async fn apply_deployments(
    context: &Context,
    desired: &[Deployment],
    applied: &mut Applied,
) -> Vec<Deployment> {
    let store = &context.caches.deployments;
    for deployment in desired {
        let deployment = with_digest(deployment);
        let Some(cached) = cached(store, &deployment) else {
            continue;
        };
        let handing_over = deployment
            .spec
            .as_ref()
            .is_some_and(|spec| spec.replicas.is_none());
        let replicas = cached.spec.as_ref().and_then(|spec| spec.replicas);
        if let (true, Some(replicas)) = (handing_over, replicas)
            && !converged(&deployment, &*cached)
            && let Err(error) = hand_over_replicas(context, &deployment, replicas).await
        {
            applied.errors.push(error);
        }
    }
    apply_all(context, store, desired, applied).await
}

/// Has [`REPLICAS_HANDOVER`] own `replicas` at its current value, so the
/// field stays when the operator's own apply leaves it out.
async fn hand_over_replicas(
    context: &Context,
    deployment: &Deployment,
    replicas: i32,
) -> Result<(), Error> {
    let name = deployment.name_any();
    let patch = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas},
    });
    api(context, deployment)
        .patch(
            &name,
            &PatchParams::apply(REPLICAS_HANDOVER),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(|source| {
            Error::kube(
                format!("handing the replicas of Deployment {name} to its autoscaler"),
                source,
            )
        })?;
    context.metrics.write();
    Ok(())
}

/// Writes `object` unless `cached` already is it; returns what was
/// written. A refused apply, or one that leaves entries of other managers
/// behind, takes the fields back ([`take_back`]).
async fn apply_one<K: Child>(
    context: &Context,
    cached: Option<&K>,
    object: &K,
) -> Result<Option<K>, Error> {
    if cached.is_some_and(|cached| converged(object, cached)) {
        return Ok(None);
    }
    let name = object.name_any();
    let describe = || format!("writing {} {name}", K::kind(&()));
    let api = api(context, object);
    let written = match api
        .patch(&name, &apply_params(), &Patch::Apply(object))
        .await
    {
        Ok(written) => written,
        Err(kube::Error::Api(status)) if status.is_invalid() && cached.is_some() => {
            context.metrics.write();
            tracing::info!(object = %name, kind = %K::kind(&()), message = %status.message, "apply refused: taking the fields back");
            return take_back(context, object).await.map(Some);
        }
        Err(source) => return Err(Error::kube(describe(), source)),
    };
    context.metrics.write();
    if converged(object, &written) {
        Ok(Some(written))
    } else {
        tracing::info!(object = %name, kind = %K::kind(&()), "another manager's entries remain: taking the fields back");
        take_back(context, object).await.map(Some)
    }
}

/// Replaces every list of the live object with the operator's by a JSON
/// merge patch, removing entries other managers added, then applies again
/// so the operator owns what it set.
async fn take_back<K: Child>(context: &Context, object: &K) -> Result<K, Error> {
    let name = object.name_any();
    let describe = || format!("taking back {} {name}", K::kind(&()));
    let api = api(context, object);
    let params = PatchParams {
        field_manager: Some(MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch(&name, &params, &Patch::Merge(object))
        .await
        .map_err(|source| Error::kube(describe(), source))?;
    context.metrics.write();
    let written = api
        .patch(&name, &apply_params(), &Patch::Apply(object))
        .await
        .map_err(|source| Error::kube(describe(), source))?;
    context.metrics.write();
    Ok(written)
}

/// Deletes the objects `shop` controls that are no longer desired (an
/// Ingress turned off, autoscaling removed, ...).
async fn prune<K: Child>(
    shop: &EShop,
    context: &Context,
    store: &Store<K>,
    desired: &[K],
    applied: &mut Applied,
) {
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
        match api(context, &*object)
            .delete(&name, &DeleteParams::background())
            .await
        {
            Ok(_) => {
                context.metrics.write();
                applied
                    .changes
                    .push(format!("{}/{name} (deleted)", K::kind(&())));
            }
            Err(kube::Error::Api(status)) if status.is_not_found() => {}
            Err(source) => applied.errors.push(Error::kube(
                format!("deleting {} {name}", K::kind(&())),
                source,
            )),
        }
    }
}

/// `object` with the digest of its own contents as an annotation.
pub fn with_digest<K: Child>(object: &K) -> K {
    let mut object = object.clone();
    let json = serde_json::to_vec(&object).expect("Kubernetes objects serialize to JSON");
    let digest = hex(&Sha256::digest(&json)[..8]);
    object
        .meta_mut()
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(APPLIED_DIGEST.to_owned(), digest);
    object
}
