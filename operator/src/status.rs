//! The `EShop`'s status, as kstatus and Argo CD read it: `observedGeneration`,
//! the conditions `Ready`, `Reconciling` and `Stalled`, each component's
//! ready and desired pods, and the shop's URL. A shop whose status does not
//! describe its current generation gets a first one at the start of the
//! reconcile ([`started`]), so a new or changed shop never looks reconciled
//! before it is; a status is written only when it changes, so a converged
//! shop makes no write.
//!
//! What the conditions say, in order of precedence:
//!
//! - `Stalled=True` when a person must act: a refused write, a missing
//!   StorageClass or Secret, a Deployment past its progress deadline, a
//!   volume that cannot grow or shrink, lost credentials. kstatus reads it as
//!   Failed, Argo CD as Degraded.
//! - `Reconciling=True` while a retry may still succeed (a conflict, a
//!   timeout, a busy API server), while changes roll out, and while
//!   `spec.paused` holds back a change: kstatus InProgress, Argo CD
//!   Progressing (Suspended when paused).
//! - `Ready=True` only when every Deployment is Available and rolled out and
//!   every StatefulSet has its pods ready and updated, in a pass that had
//!   nothing to change.

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
    apply,
    build::{Children, LABEL_COMPONENT, MANAGER, Shop},
    controller::Context,
    crd::{ComponentStatus, EShop, EShopStatus},
    reconcile::{Applied, Error},
};

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";
/// The reason of every condition while `spec.paused` holds.
pub const PAUSED: &str = "Paused";

/// Something that keeps the shop from being Ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// CamelCase, the conditions' reason.
    pub reason: &'static str,
    pub message: String,
    /// Whether a retry may fix it; if not, a person must act.
    pub transient: bool,
}

/// What a reconcile saw and did, from which status is computed.
#[derive(Debug, Default)]
pub struct Observation {
    /// `Kind/name` of every object written or deleted.
    pub changes: Vec<String>,
    pub deployments: Vec<Deployment>,
    pub stateful_sets: Vec<StatefulSet>,
    pub findings: Vec<Finding>,
    /// While `spec.paused` holds: whether any child differs from the spec.
    pub paused_with_changes: Option<bool>,
}

impl Observation {
    /// After an apply.
    pub fn applied(applied: Applied, findings: Vec<Finding>) -> Self {
        Self {
            changes: applied.changes,
            deployments: applied.deployments,
            stateful_sets: applied.stateful_sets,
            findings,
            paused_with_changes: None,
        }
    }

    /// While paused: the children as the cache has them, and whether they
    /// differ from `children`.
    pub fn paused(
        shop: &EShop,
        context: &Context,
        children: &Children,
        findings: Vec<Finding>,
    ) -> Self {
        let mut observation = Self::from_cache(shop, context);
        observation.findings = findings;
        observation.paused_with_changes = Some(apply::differs(context, children));
        observation
    }

    /// After a failure before anything was applied.
    pub fn failed(shop: &EShop, context: &Context, error: &Error) -> Self {
        let mut observation = Self::from_cache(shop, context);
        observation.findings.push(error.finding());
        observation
    }

    fn from_cache(shop: &EShop, context: &Context) -> Self {
        Self {
            deployments: apply::owned_by(shop, &context.caches.deployments)
                .map(|object| (*object).clone())
                .collect(),
            stateful_sets: apply::owned_by(shop, &context.caches.stateful_sets)
                .map(|object| (*object).clone())
                .collect(),
            ..Self::default()
        }
    }
}

/// The first status of a generation: being reconciled.
pub fn started(shop: &EShop, now: Timestamp) -> EShopStatus {
    let generation = shop.metadata.generation;
    let message = match generation {
        Some(generation) => format!("applying generation {generation}"),
        None => "applying the spec".to_owned(),
    };
    let previous = shop.status.as_ref();
    let conditions = vec![
        condition(shop, READY, false, "Progressing", message.clone(), now),
        condition(shop, RECONCILING, true, "Progressing", message, now),
        condition(
            shop,
            STALLED,
            false,
            "Progressing",
            "no errors".to_owned(),
            now,
        ),
    ];
    EShopStatus {
        observed_generation: generation,
        conditions: keep_transition_times(previous, conditions),
        components: previous
            .map(|status| status.components.clone())
            .unwrap_or_default(),
        url: Shop::new(shop).ok().map(|shop| shop.url()),
    }
}

fn condition(
    shop: &EShop,
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    now: Timestamp,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message,
        observed_generation: shop.metadata.generation,
        last_transition_time: Time(now),
    }
}

/// The status the shop should show after `observation`; conditions that
/// keep their status keep their transition time from `previous`.
pub fn compute(
    shop: &EShop,
    previous: Option<&EShopStatus>,
    observation: &Observation,
    now: Timestamp,
) -> EShopStatus {
    let mut components = BTreeMap::new();
    let mut waiting = Vec::new();
    let mut findings = observation.findings.clone();
    for deployment in &observation.deployments {
        let (component, ready) = deployment_status(deployment);
        if !ready {
            waiting.push(component.0.clone());
        }
        if let Some(message) = past_progress_deadline(deployment) {
            findings.push(Finding {
                reason: "ProgressDeadlineExceeded",
                message,
                transient: false,
            });
        }
        components.insert(component.0, component.1);
    }
    for set in &observation.stateful_sets {
        let (component, ready) = stateful_set_status(set);
        if !ready {
            waiting.push(component.0.clone());
        }
        components.insert(component.0, component.1);
    }
    let url = Shop::new(shop).ok().map(|shop| shop.url());
    let condition = |type_: &str, status: bool, reason: &str, message: String| {
        condition(shop, type_, status, reason, message, now)
    };
    let (blockers, transients): (Vec<&Finding>, Vec<&Finding>) =
        findings.iter().partition(|finding| !finding.transient);
    let joined = |findings: &[&Finding]| {
        let mut messages: Vec<&str> = Vec::new();
        for finding in findings {
            if !messages.contains(&finding.message.as_str()) {
                messages.push(&finding.message);
            }
        }
        messages.join("; ")
    };
    let conditions = if let Some(first) = blockers.first() {
        let message = joined(&blockers);
        vec![
            condition(READY, false, first.reason, message.clone()),
            condition(
                RECONCILING,
                false,
                first.reason,
                "stopped until the problem is fixed".to_owned(),
            ),
            condition(STALLED, true, first.reason, message),
        ]
    } else if let Some(first) = transients.first() {
        let message = format!("retrying: {}", joined(&transients));
        vec![
            condition(READY, false, first.reason, message.clone()),
            condition(RECONCILING, true, first.reason, message),
            condition(
                STALLED,
                false,
                first.reason,
                "no problem a person must fix".to_owned(),
            ),
        ]
    } else if let Some(pending) = observation.paused_with_changes {
        let generation = shop.metadata.generation.unwrap_or_default();
        let ready = !pending && waiting.is_empty();
        let (ready_message, reconciling_message) = if pending {
            let message = format!(
                "spec.paused is true: generation {generation} is not applied until it is false"
            );
            (message.clone(), message)
        } else {
            (
                waiting_message(&waiting, ready),
                "spec.paused is true: changes are not applied".to_owned(),
            )
        };
        vec![
            condition(READY, ready, PAUSED, ready_message),
            condition(RECONCILING, pending, PAUSED, reconciling_message),
            condition(
                STALLED,
                false,
                PAUSED,
                "the operator is not applying changes".to_owned(),
            ),
        ]
    } else if !observation.changes.is_empty() {
        let message = format!(
            "applied {} changes; waiting for them to roll out",
            observation.changes.len()
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
    EShopStatus {
        observed_generation: shop.metadata.generation,
        conditions: keep_transition_times(previous, conditions),
        components,
        url,
    }
}

/// Why a Deployment is past its progress deadline, if it is.
fn past_progress_deadline(deployment: &Deployment) -> Option<String> {
    let status = deployment.status.as_ref()?;
    let current = status.observed_generation >= deployment.metadata.generation;
    let condition = status.conditions.iter().flatten().find(|condition| {
        condition.type_ == "Progressing"
            && condition.status == "False"
            && condition.reason.as_deref() == Some("ProgressDeadlineExceeded")
    })?;
    current.then(|| {
        format!(
            "Deployment {} is past its progress deadline: {}",
            deployment.name_any(),
            condition.message.as_deref().unwrap_or("no progress")
        )
    })
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

/// The status the API server has for the shop, as far as this reconcile
/// knows: what the shop came with, then what it wrote.
#[derive(Debug)]
pub struct Reported {
    last: Option<EShopStatus>,
    generation: Option<i64>,
}

impl Reported {
    pub fn new(shop: &EShop) -> Self {
        Self {
            last: shop.status.clone(),
            generation: shop.metadata.generation,
        }
    }

    /// Whether the status describes the shop's current generation.
    pub fn describes_current_generation(&self) -> bool {
        self.last.as_ref().is_some_and(|status| {
            status.observed_generation == self.generation && !status.conditions.is_empty()
        })
    }

    /// The status last reported, whose transition times a new one keeps.
    pub fn last(&self) -> Option<&EShopStatus> {
        self.last.as_ref()
    }

    /// Whether `status` says something the last one did not.
    pub fn differs(&self, status: &EShopStatus) -> bool {
        self.last.as_ref() != Some(status)
    }

    /// Writes `status` by server-side apply when it differs from the last.
    pub async fn write(
        &mut self,
        context: &Context,
        shop: &EShop,
        status: EShopStatus,
    ) -> Result<(), Error> {
        if !self.differs(&status) {
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
        .map_err(|source| Error::kube("writing the status", source))?;
        context.metrics.write();
        self.last = Some(status);
        Ok(())
    }
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

    fn conditions(status: &EShopStatus) -> Vec<(String, String, String)> {
        status
            .conditions
            .iter()
            .map(|condition| {
                (
                    condition.type_.clone(),
                    condition.status.clone(),
                    condition.reason.clone(),
                )
            })
            .collect()
    }

    fn expect(status: &EShopStatus, ready: &str, reconciling: &str, stalled: &str, reason: &str) {
        assert_eq!(
            conditions(status),
            [
                (READY.to_owned(), ready.to_owned(), reason.to_owned()),
                (
                    RECONCILING.to_owned(),
                    reconciling.to_owned(),
                    conditions(status)[1].2.clone()
                ),
                (
                    STALLED.to_owned(),
                    stalled.to_owned(),
                    conditions(status)[2].2.clone()
                ),
            ]
        );
    }

    fn finding(reason: &'static str, transient: bool) -> Finding {
        Finding {
            reason,
            message: format!("{reason} happened"),
            transient,
        }
    }

    #[test]
    fn what_a_person_must_fix_outranks_what_a_retry_may_fix() {
        let shop = crate::build::test_shop(&serde_json::json!({}));
        let now = Timestamp::UNIX_EPOCH;
        let both = Observation {
            findings: vec![
                finding("TransientError", true),
                finding("StorageClassNotFound", false),
            ],
            ..Observation::default()
        };
        let status = compute(&shop, None, &both, now);
        expect(&status, "False", "False", "True", "StorageClassNotFound");
        assert_eq!(
            status.conditions[2].message,
            "StorageClassNotFound happened"
        );

        let transient = Observation {
            findings: vec![finding("TransientError", true)],
            ..Observation::default()
        };
        let status = compute(&shop, None, &transient, now);
        expect(&status, "False", "True", "False", "TransientError");
        assert!(status.conditions[1].message.starts_with("retrying: "));
    }

    #[test]
    fn a_paused_shop_is_ready_only_with_nothing_held_back() {
        let shop = crate::build::test_shop(&serde_json::json!({"paused": true}));
        let now = Timestamp::UNIX_EPOCH;
        let held = Observation {
            paused_with_changes: Some(true),
            ..Observation::default()
        };
        let status = compute(&shop, None, &held, now);
        expect(&status, "False", "True", "False", PAUSED);
        assert_eq!(
            status.conditions[0].message,
            "spec.paused is true: generation 1 is not applied until it is false"
        );
        let nothing_held = Observation {
            paused_with_changes: Some(false),
            ..Observation::default()
        };
        expect(
            &compute(&shop, None, &nothing_held, now),
            "True",
            "False",
            "False",
            PAUSED,
        );
    }

    #[test]
    fn a_deployment_past_its_deadline_stalls_the_shop() {
        let shop = crate::build::test_shop(&serde_json::json!({}));
        let mut stuck = deployment(3, 3, 1, true);
        stuck
            .status
            .as_mut()
            .unwrap()
            .conditions
            .as_mut()
            .unwrap()
            .push(DeploymentCondition {
                type_: "Progressing".to_owned(),
                status: "False".to_owned(),
                reason: Some("ProgressDeadlineExceeded".to_owned()),
                message: Some("ReplicaSet \"shop-users-1\" has timed out progressing.".to_owned()),
                ..Default::default()
            });
        let observation = Observation {
            deployments: vec![stuck],
            ..Observation::default()
        };
        let status = compute(&shop, None, &observation, Timestamp::UNIX_EPOCH);
        expect(
            &status,
            "False",
            "False",
            "True",
            "ProgressDeadlineExceeded",
        );
        assert!(status.conditions[2].message.contains("shop-users"));
    }

    #[test]
    fn the_first_status_of_a_generation_is_reconciling() {
        let shop = crate::build::test_shop(&serde_json::json!({}));
        let status = started(&shop, Timestamp::UNIX_EPOCH);
        assert_eq!(status.observed_generation, Some(1));
        expect(&status, "False", "True", "False", "Progressing");
    }
}
