//! One reconcile of one `EShop`, as a pipeline:
//!
//! 1. **first status**: a shop whose status does not describe its current
//!    generation is marked `Reconciling` at once, so kstatus never reads a
//!    new or changed shop as reconciled before it is;
//! 2. **read**: the generated credentials ([`crate::credentials`]);
//! 3. **check**: what the API server's rules cannot: an external
//!    database's Secret, the StorageClasses the volumes need
//!    ([`crate::storage`]);
//! 4. **build**: the desired children, pure ([`crate::build`]);
//! 5. **apply**: every child compared with the watch cache and written only
//!    when it differs ([`crate::apply`]); claims resized and owned as
//!    `pvcRetention` says, credentials bound to their volumes;
//! 6. **status**: computed from what the children report and what went
//!    wrong, written only when it changed ([`crate::status`]).
//!
//! Nothing stops at the first failure: every child is tried, and what
//! failed is reported together. A failure a person must fix (a bad spec, a
//! missing StorageClass or Secret, a refused write) is `Stalled`; one that a
//! retry may fix (a conflict, a timeout, a 5xx) is `Reconciling`. Either is
//! retried with the shop's own exponential backoff, and sooner when a
//! watched object changes.

use std::{fmt::Debug, sync::Arc, time::Duration};

use k8s_openapi::{
    NamespaceResourceScope,
    api::apps::v1::{Deployment, StatefulSet},
};
use kube::{
    Api, Resource, ResourceExt,
    runtime::{
        controller::Action,
        events::{Event, EventType},
        reflector::ObjectRef,
    },
};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    apply, build,
    controller::Context,
    crd::{DatabaseMode, EShop},
    credentials,
    status::{self, Finding, Observation},
    storage,
};

/// How often a converged shop is looked at again without any event.
const RESYNC: Duration = Duration::from_secs(300);

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("building the children: {0}")]
    Build(#[from] build::BuildError),
    #[error("{action}: {source}")]
    Kube { action: String, source: kube::Error },
    /// Something in the cluster or the spec that a person must fix.
    #[error("{message}")]
    Blocked {
        reason: &'static str,
        message: String,
    },
}

impl Error {
    /// An API call that failed.
    pub fn kube(action: impl Into<String>, source: kube::Error) -> Self {
        Self::Kube {
            action: action.into(),
            source,
        }
    }

    /// A short CamelCase label: the metrics' `reason` and the conditions' reason.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Build(_) => "BuildFailed",
            Self::Kube { .. } if self.is_transient() => "TransientError",
            Self::Kube { .. } => "RequestRefused",
            Self::Blocked { reason, .. } => reason,
        }
    }

    /// Whether retrying may fix it without anyone acting: the API server
    /// was busy, unreachable, or another writer came first.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Kube { source, .. } => match source {
                kube::Error::Api(status) => {
                    matches!(status.code, 409 | 429 | 500 | 502 | 503 | 504)
                }
                kube::Error::Auth(_) | kube::Error::BuildRequest(_) => false,
                _ => true,
            },
            Self::Build(_) | Self::Blocked { .. } => false,
        }
    }

    /// How status reports it.
    pub fn finding(&self) -> Finding {
        Finding {
            reason: self.label(),
            message: self.to_string(),
            transient: self.is_transient(),
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
    /// The writes that failed; the others were still made.
    pub errors: Vec<Error>,
}

/// Reconciles `shop`: the pipeline, then the outcome in status, Events and
/// the failure count that drives the backoff.
pub async fn reconcile(shop: Arc<EShop>, context: Arc<Context>) -> Result<Action, Error> {
    let timer = context.metrics.reconcile_started();
    let result = run(&shop, &context).await;
    drop(timer);
    match &result {
        Ok(_) => context.backoff.succeeded(&shop),
        Err(error) => tracing::warn!(shop = %ObjectRef::from(&*shop), %error, "reconcile failed"),
    }
    result
}

async fn run(shop: &EShop, context: &Context) -> Result<Action, Error> {
    let mut reported = status::Reported::new(shop);
    if !reported.describes_current_generation() {
        reported
            .write(context, shop, status::started(shop, jiff_now()))
            .await?;
    }
    let outcome = converge(shop, context).await;
    let observation = match outcome {
        Ok(observation) => observation,
        Err(error) => Observation::failed(shop, context, &error),
    };
    let findings = observation.findings.clone();
    if !observation.changes.is_empty() {
        publish(
            context,
            shop,
            EventType::Normal,
            "Applied",
            &format!("applied {}", summary(&observation.changes)),
        )
        .await;
    }
    let new_status = status::compute(shop, reported.last(), &observation, jiff_now());
    let news = reported.differs(&new_status);
    reported.write(context, shop, new_status).await?;
    if let Some(first) = findings.first() {
        if news {
            let note = findings
                .iter()
                .map(|finding| finding.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            publish(context, shop, EventType::Warning, first.reason, &note).await;
        }
        return Err(Error::Blocked {
            reason: first.reason,
            message: first.message.clone(),
        });
    }
    Ok(Action::requeue(RESYNC))
}

/// Steps 2 to 5: everything but the status.
async fn converge(shop: &EShop, context: &Context) -> Result<Observation, Error> {
    let credentials = credentials::read(shop, context).await?;
    let mut findings = check(shop, context).await?;
    let inputs = build::Inputs {
        claim_template_sizes: storage::claim_template_sizes(shop, context),
        credentials: credentials.values.clone(),
    };
    let children = build::children(shop, &inputs)?;
    if shop.spec.paused {
        return Ok(Observation::paused(shop, context, &children, findings));
    }
    let mut applied = apply::children(shop, context, &children, &credentials).await;
    let volumes = storage::reconcile_claims(shop, context, &credentials, &mut applied).await;
    findings.extend(volumes);
    credentials::bind_to_volumes(shop, context, &children.secrets, &credentials, &mut applied)
        .await;
    findings.extend(applied.errors.iter().map(Error::finding));
    Ok(Observation::applied(applied, findings))
}

/// Step 3: what must be true in the cluster for the shop to work.
async fn check(shop: &EShop, context: &Context) -> Result<Vec<Finding>, Error> {
    let mut findings = storage::check_classes(shop, context);
    if let Some(finding) = check_external_database(shop, context).await? {
        findings.push(finding);
    }
    Ok(findings)
}

/// An external database's Secret must exist with its key.
async fn check_external_database(
    shop: &EShop,
    context: &Context,
) -> Result<Option<Finding>, Error> {
    let database = &shop.spec.database;
    let Some(external) = database
        .external_secret_ref
        .as_ref()
        .filter(|_| database.mode == DatabaseMode::External)
    else {
        return Ok(None);
    };
    let api = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(
        context.client.clone(),
        &shop.namespace().unwrap_or_default(),
    );
    let secret = api
        .get_opt(&external.name)
        .await
        .map_err(|source| Error::kube(format!("reading Secret {}", external.name), source))?;
    let has_key = secret
        .and_then(|secret| secret.data)
        .is_some_and(|data| data.contains_key(&external.key));
    Ok((!has_key).then(|| Finding {
        reason: "ExternalDatabaseSecretMissing",
        message: format!(
            "the external database's Secret {} has no key {}: create it with the PostgreSQL URL",
            external.name, external.key
        ),
        transient: false,
    }))
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

/// Publishes an Event about `shop`; failing to is only logged.
pub async fn publish(context: &Context, shop: &EShop, type_: EventType, reason: &str, note: &str) {
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

#[cfg(test)]
mod tests {
    use kube::core::Status;

    use super::*;

    fn api_error(code: u16) -> Error {
        Error::kube(
            "writing",
            kube::Error::Api(Status::failure("no", "Reason").with_code(code).boxed()),
        )
    }

    #[test]
    fn busy_or_conflicting_api_servers_are_transient_and_refusals_are_not() {
        for code in [409, 429, 500, 503, 504] {
            assert!(api_error(code).is_transient(), "{code}");
            assert_eq!(api_error(code).label(), "TransientError");
        }
        for code in [400, 403, 404, 422] {
            assert!(!api_error(code).is_transient(), "{code}");
            assert_eq!(api_error(code).label(), "RequestRefused");
        }
        let blocked = Error::Blocked {
            reason: "StorageClassNotFound",
            message: "no class".to_owned(),
        };
        assert!(!blocked.is_transient());
        assert_eq!(blocked.finding().reason, "StorageClassNotFound");
    }
}
