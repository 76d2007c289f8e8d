//! The `EShop`'s status, as kstatus and Argo CD read it: `observedGeneration`,
//! the conditions `Ready`, `Reconciling` and `Stalled`, each component's
//! ready and desired pods, and the shop's URL. It is set on the first visit,
//! so a new shop never looks reconciled before it is, and written only when
//! it changes, so a converged shop makes no write.
//!
//! - `Ready=True` only when every Deployment is Available and rolled out and
//!   every StatefulSet has its pods ready and updated, in a pass that had
//!   nothing to change.
//! - `Reconciling=True` while changes roll out.
//! - `Stalled=True` when a reconcile failed; the reason is the error's label.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::apps::v1::{Deployment, StatefulSet},
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::json;

use crate::{
    build::{LABEL_COMPONENT, MANAGER, Shop},
    controller::Context,
    crd::{ComponentStatus, EShop, EShopStatus},
    reconcile::{Applied, Error},
};

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

/// The status the shop should show.
pub fn compute(
    shop: &EShop,
    applied: &Applied,
    error: Option<&Error>,
    now: Timestamp,
) -> EShopStatus {
    let generation = shop.metadata.generation;
    let mut components = BTreeMap::new();
    let mut waiting = Vec::new();
    for deployment in &applied.deployments {
        let (component, ready) = deployment_status(deployment);
        if !ready {
            waiting.push(component.0.clone());
        }
        components.insert(component.0, component.1);
    }
    for set in &applied.stateful_sets {
        let (component, ready) = stateful_set_status(set);
        if !ready {
            waiting.push(component.0.clone());
        }
        components.insert(component.0, component.1);
    }
    let url = Shop::new(shop).ok().map(|shop| shop.url());

    let condition = |type_: &str, status: bool, reason: &str, message: String| Condition {
        type_: type_.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message,
        observed_generation: generation,
        last_transition_time: Time(now),
    };
    let conditions = if let Some(error) = error {
        vec![
            condition(READY, false, error.label(), error.to_string()),
            condition(
                RECONCILING,
                false,
                error.label(),
                "the last reconcile failed".to_owned(),
            ),
            condition(STALLED, true, error.label(), error.to_string()),
        ]
    } else if shop.spec.paused {
        let ready = waiting.is_empty();
        let message = "spec.paused is true: changes are not applied".to_owned();
        vec![
            condition(READY, ready, "Paused", waiting_message(&waiting, ready)),
            condition(RECONCILING, false, "Paused", message),
            condition(
                STALLED,
                false,
                "Paused",
                "the operator is not applying changes".to_owned(),
            ),
        ]
    } else if !applied.changes.is_empty() {
        let message = format!(
            "applied {} changes; waiting for them to roll out",
            applied.changes.len()
        );
        vec![
            condition(READY, false, "Progressing", message.clone()),
            condition(RECONCILING, true, "Applied", message),
            condition(STALLED, false, "Progressing", "no errors".to_owned()),
        ]
    } else if !waiting.is_empty() {
        let message = waiting_message(&waiting, false);
        vec![
            condition(READY, false, "Progressing", message.clone()),
            condition(RECONCILING, true, "Progressing", message),
            condition(STALLED, false, "Progressing", "no errors".to_owned()),
        ]
    } else {
        vec![
            condition(READY, true, "Available", waiting_message(&waiting, true)),
            condition(
                RECONCILING,
                false,
                "Reconciled",
                "every child is up to date".to_owned(),
            ),
            condition(STALLED, false, "Reconciled", "no errors".to_owned()),
        ]
    };
    let conditions = keep_transition_times(shop.status.as_ref(), conditions);
    EShopStatus {
        observed_generation: generation,
        conditions,
        components,
        url,
    }
}

fn waiting_message(waiting: &[String], ready: bool) -> String {
    if ready {
        "every Deployment is available and every StatefulSet ready".to_owned()
    } else {
        format!("waiting for {}", waiting.join(", "))
    }
}

/// A condition whose status did not change keeps its transition time.
fn keep_transition_times(
    old: Option<&EShopStatus>,
    mut conditions: Vec<Condition>,
) -> Vec<Condition> {
    for condition in &mut conditions {
        let previous = old
            .into_iter()
            .flat_map(|status| &status.conditions)
            .find(|previous| {
                previous.type_ == condition.type_ && previous.status == condition.status
            });
        if let Some(previous) = previous {
            condition.last_transition_time = previous.last_transition_time.clone();
        }
    }
    conditions
}

fn component(object_labels: &BTreeMap<String, String>, name: String) -> String {
    object_labels.get(LABEL_COMPONENT).cloned().unwrap_or(name)
}

/// A Deployment's pods, and whether it is Available and fully rolled out.
pub fn deployment_status(deployment: &Deployment) -> ((String, ComponentStatus), bool) {
    let desired = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let observed = status.observed_generation >= deployment.metadata.generation;
    let available_condition = status
        .conditions
        .iter()
        .flatten()
        .any(|condition| condition.type_ == "Available" && condition.status == "True");
    let ready = observed
        && available_condition
        && updated == desired
        && status.replicas.unwrap_or(0) == desired
        && available >= desired;
    let pods = ComponentStatus {
        ready: updated.min(available),
        desired,
    };
    (
        (component(deployment.labels(), deployment.name_any()), pods),
        ready,
    )
}

/// A StatefulSet's pods, and whether they are all ready and updated.
pub fn stateful_set_status(set: &StatefulSet) -> ((String, ComponentStatus), bool) {
    let desired = set
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1);
    let status = set.status.clone().unwrap_or_default();
    let ready_pods = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let observed = status.observed_generation >= set.metadata.generation;
    let ready = observed && ready_pods == desired && updated == desired;
    let pods = ComponentStatus {
        ready: ready_pods.min(updated),
        desired,
    };
    ((component(set.labels(), set.name_any()), pods), ready)
}

/// Whether `new` says something `old` does not.
pub fn differs(old: Option<&EShopStatus>, new: &EShopStatus) -> bool {
    old != Some(new)
}

/// Writes `status` by server-side apply when it differs from the shop's.
pub async fn write(context: &Context, shop: &EShop, status: EShopStatus) -> Result<(), Error> {
    if !differs(shop.status.as_ref(), &status) {
        return Ok(());
    }
    let api = Api::<EShop>::namespaced(
        context.client.clone(),
        &shop.namespace().unwrap_or_default(),
    );
    let patch = json!({
        "apiVersion": "eshop-operator.github.io/v1alpha1",
        "kind": "EShop",
        "status": status,
    });
    api.patch_status(
        &shop.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::Status)?;
    context.metrics.write();
    Ok(())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentSpec, DeploymentStatus};

    use super::*;

    fn deployment(generation: i64, observed: i64, updated: i32, available: bool) -> Deployment {
        Deployment {
            metadata: kube::api::ObjectMeta {
                name: Some("shop-users".to_owned()),
                generation: Some(generation),
                labels: Some([(LABEL_COMPONENT.to_owned(), "users".to_owned())].into()),
                ..Default::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(2),
                ..Default::default()
            }),
            status: Some(DeploymentStatus {
                observed_generation: Some(observed),
                replicas: Some(2),
                updated_replicas: Some(updated),
                available_replicas: Some(2),
                conditions: Some(vec![DeploymentCondition {
                    type_: "Available".to_owned(),
                    status: if available { "True" } else { "False" }.to_owned(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn a_deployment_is_ready_only_when_available_and_rolled_out() {
        let ((name, pods), ready) = deployment_status(&deployment(3, 3, 2, true));
        assert_eq!(name, "users");
        assert_eq!(
            pods,
            ComponentStatus {
                ready: 2,
                desired: 2
            }
        );
        assert!(ready);
        assert!(
            !deployment_status(&deployment(4, 3, 2, true)).1,
            "not yet observed"
        );
        assert!(
            !deployment_status(&deployment(3, 3, 1, true)).1,
            "half rolled out"
        );
        assert!(
            !deployment_status(&deployment(3, 3, 2, false)).1,
            "not available"
        );
    }
}
