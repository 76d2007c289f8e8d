//! The stores' volumes: the StorageClasses they need, their size, who owns
//! them, and the credentials they were paired with.
//!
//! - A store whose claims are not bound yet needs its StorageClass, or a
//!   default one when it names none; without it the shop is `Stalled`
//!   (`StorageClassNotFound`, `NoDefaultStorageClass`) until the class
//!   appears, which the StorageClass watch notices at once.
//! - A StatefulSet's claim template cannot change, so a larger
//!   `storage.size` is applied to the bound claims themselves, and only
//!   where the StorageClass allows expansion; otherwise the shop is
//!   `Stalled` (`VolumeExpansionNotAllowed`) and setting the size back
//!   undoes the change. A size below what a claim has is `Stalled` too
//!   (`VolumeCannotShrink`): volumes never shrink.
//! - The StatefulSets always retain their claims, so deleting a StatefulSet
//!   never deletes data. `pvcRetention: Delete` makes the shop an owner of
//!   the claims instead, so they go when the shop is deleted, and only
//!   then.
//! - Each claim is annotated with the fingerprint of the credentials its
//!   store was given ([`crate::credentials`]).

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{core::v1::PersistentVolumeClaim, storage::v1::StorageClass},
    apimachinery::pkg::{api::resource::Quantity, apis::meta::v1::OwnerReference},
};
use kube::{Resource, ResourceExt, api::Patch, runtime::reflector::ObjectRef};
use serde_json::json;

use crate::{
    apply,
    build::{postgres, redis},
    compare::quantity,
    controller::Context,
    crd::{DatabaseMode, EShop, PvcRetention, StorageSpec},
    credentials::{FINGERPRINT, ShopCredentials, store_claims},
    reconcile::{Applied, Error},
    status::Finding,
    watches::DEFAULT_STORAGE_CLASS,
};

/// The in-cluster stores of `shop`: component, spec field and storage.
fn stores(shop: &EShop) -> Vec<(&'static str, &'static str, &StorageSpec)> {
    let mut stores = Vec::with_capacity(2);
    if shop.spec.database.mode == DatabaseMode::InCluster {
        stores.push((
            postgres::COMPONENT,
            "spec.database.storage",
            &shop.spec.database.storage,
        ));
    }
    stores.push((
        redis::COMPONENT,
        "spec.redis.storage",
        &shop.spec.redis.storage,
    ));
    stores
}

fn is_bound(claim: &PersistentVolumeClaim) -> bool {
    claim
        .status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
        == Some("Bound")
}

fn requested(claim: &PersistentVolumeClaim) -> Option<&Quantity> {
    claim
        .spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")
}

/// Whether `class` is marked as the cluster's default.
fn is_default(class: &StorageClass) -> bool {
    class
        .annotations()
        .get(DEFAULT_STORAGE_CLASS)
        .map(String::as_str)
        == Some("true")
}

/// The StorageClass a store's claims get, if it exists: the named one, or
/// the default.
fn class_of<'a>(
    storage: &StorageSpec,
    classes: &'a [std::sync::Arc<StorageClass>],
) -> Option<&'a StorageClass> {
    classes
        .iter()
        .find(|class| match &storage.storage_class_name {
            Some(name) => class.name_any() == *name,
            None => is_default(class),
        })
        .map(|class| &**class)
}

/// What keeps a store without bound claims from getting a volume.
pub fn check_classes(shop: &EShop, context: &Context) -> Vec<Finding> {
    let classes = context.caches.storage_classes.state();
    let mut findings = Vec::new();
    for (component, field, storage) in stores(shop) {
        let bound =
            store_claims(shop, &context.caches.claims, component).any(|claim| is_bound(&claim));
        if bound || class_of(storage, &classes).is_some() {
            continue;
        }
        let finding = match &storage.storage_class_name {
            Some(name) => Finding {
                reason: "StorageClassNotFound",
                message: format!(
                    "StorageClass {name} does not exist: create it, or name another in {field}.storageClassName of a new EShop"
                ),
                transient: false,
            },
            None => Finding {
                reason: "NoDefaultStorageClass",
                message: format!(
                    "{field} names no StorageClass and the cluster has no default one: mark a StorageClass as the default ({DEFAULT_STORAGE_CLASS}: \"true\"), or name one in {field}.storageClassName"
                ),
                transient: false,
            },
        };
        findings.push(finding);
    }
    findings
}

/// The size in each existing StatefulSet's claim template, by component.
pub fn claim_template_sizes(shop: &EShop, context: &Context) -> BTreeMap<&'static str, Quantity> {
    let namespace = shop.namespace().unwrap_or_default();
    let mut sizes = BTreeMap::new();
    for component in [postgres::COMPONENT, redis::COMPONENT] {
        let key = ObjectRef::new(&format!("{}-{component}", shop.name_any())).within(&namespace);
        let size = context.caches.stateful_sets.get(&key).and_then(|set| {
            set.spec
                .as_ref()?
                .volume_claim_templates
                .as_ref()?
                .first()
                .and_then(requested)
                .cloned()
        });
        if let Some(size) = size {
            sizes.insert(component, size);
        }
    }
    sizes
}

/// What one claim should be: its size, owners and fingerprint.
#[derive(Debug, PartialEq)]
struct WantedClaim {
    size: Quantity,
    owners: Vec<OwnerReference>,
    fingerprint: String,
}

/// Resizes, owns and annotates the stores' claims; returns what keeps them
/// from being as the spec says.
pub async fn reconcile_claims(
    shop: &EShop,
    context: &Context,
    credentials: &ShopCredentials,
    applied: &mut Applied,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let classes = context.caches.storage_classes.state();
    let owner = shop_as_claim_owner(shop);
    for (component, field, storage) in stores(shop) {
        let expandable = class_of(storage, &classes)
            .is_some_and(|class| class.allow_volume_expansion == Some(true));
        let fingerprint = credentials.fingerprint(component);
        for claim in store_claims(shop, &context.caches.claims, component) {
            if claim.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let current = requested(&claim)
                .cloned()
                .unwrap_or_else(|| Quantity(storage.size.clone()));
            let (size, finding) = target_size(&claim, &current, storage, field, expandable);
            findings.extend(finding);
            match claim.annotations().get(FINGERPRINT) {
                Some(paired) if *paired != fingerprint => findings.push(Finding {
                    reason: "CredentialsMismatch",
                    message: format!(
                        "volume {} holds data paired with credentials other than those in Secret {}-{component}: restore the Secret's former values, or delete the volume to start empty",
                        claim.name_any(),
                        shop.name_any()
                    ),
                    transient: false,
                }),
                _ => {}
            }
            let paired = claim
                .annotations()
                .get(FINGERPRINT)
                .cloned()
                .unwrap_or_else(|| fingerprint.clone());
            let wanted = WantedClaim {
                size,
                owners: owner.iter().cloned().collect(),
                fingerprint: paired,
            };
            if !needs_write(&claim, &wanted, shop.uid().as_deref()) {
                continue;
            }
            let name = claim.name_any();
            let patch = json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": name,
                    "ownerReferences": wanted.owners,
                    "annotations": {FINGERPRINT: wanted.fingerprint},
                },
                "spec": {"resources": {"requests": {"storage": wanted.size}}},
            });
            match apply::api(context, &*claim)
                .patch(&name, &apply::apply_params(), &Patch::Apply(&patch))
                .await
            {
                Ok(_) => {
                    context.metrics.write();
                    applied
                        .changes
                        .push(format!("PersistentVolumeClaim/{name}"));
                }
                Err(source) => applied.errors.push(Error::kube(
                    format!("writing PersistentVolumeClaim {name}"),
                    source,
                )),
            }
        }
    }
    findings
}

/// The size a claim should request, and why it cannot be the spec's.
fn target_size(
    claim: &PersistentVolumeClaim,
    current: &Quantity,
    storage: &StorageSpec,
    field: &str,
    expandable: bool,
) -> (Quantity, Option<Finding>) {
    let (Some(have), Some(want)) = (quantity(&current.0), quantity(&storage.size)) else {
        return (current.clone(), None);
    };
    if want == have {
        return (current.clone(), None);
    }
    if want < have {
        let finding = Finding {
            reason: "VolumeCannotShrink",
            message: format!(
                "volume {} has {}, more than {field}.size {}: a volume cannot shrink; set the size to at least {}",
                claim.name_any(),
                current.0,
                storage.size,
                current.0
            ),
            transient: false,
        };
        return (current.clone(), Some(finding));
    }
    if !expandable {
        let finding = Finding {
            reason: "VolumeExpansionNotAllowed",
            message: format!(
                "volume {} cannot grow to {}: its StorageClass does not allow volume expansion; set {field}.size back to {}",
                claim.name_any(),
                storage.size,
                current.0
            ),
            transient: false,
        };
        return (current.clone(), Some(finding));
    }
    if !is_bound(claim) {
        return (current.clone(), None);
    }
    (Quantity(storage.size.clone()), None)
}

/// The shop as a (non-controlling) owner of its claims, when they are to go
/// with it.
fn shop_as_claim_owner(shop: &EShop) -> Option<OwnerReference> {
    (shop.spec.pvc_retention == PvcRetention::Delete).then(|| OwnerReference {
        api_version: EShop::api_version(&()).into_owned(),
        kind: EShop::kind(&()).into_owned(),
        name: shop.name_any(),
        uid: shop.uid().unwrap_or_default(),
        ..OwnerReference::default()
    })
}

/// Whether the claim differs from what is wanted of it.
fn needs_write(
    claim: &PersistentVolumeClaim,
    wanted: &WantedClaim,
    shop_uid: Option<&str>,
) -> bool {
    let same_size = requested(claim)
        .and_then(|size| quantity(&size.0))
        .zip(quantity(&wanted.size.0))
        .is_some_and(|(have, want)| have == want);
    let owned_by_shop = claim
        .owner_references()
        .iter()
        .any(|owner| Some(owner.uid.as_str()) == shop_uid);
    let wants_owner = !wanted.owners.is_empty();
    let owned_as_wanted = owned_by_shop == wants_owner;
    let fingerprinted = claim.annotations().get(FINGERPRINT) == Some(&wanted.fingerprint);
    !(same_size && owned_as_wanted && fingerprinted)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::PersistentVolumeClaimStatus;

    use super::*;

    fn claim(bound: bool) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: kube::api::ObjectMeta {
                name: Some("data-shop-redis-0".to_owned()),
                ..Default::default()
            },
            status: Some(PersistentVolumeClaimStatus {
                phase: Some(if bound { "Bound" } else { "Pending" }.to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn storage(size: &str) -> StorageSpec {
        StorageSpec {
            storage_class_name: None,
            size: size.to_owned(),
        }
    }

    fn target(
        bound: bool,
        current: &str,
        wanted: &str,
        expandable: bool,
    ) -> (String, Option<&'static str>) {
        let (size, finding) = target_size(
            &claim(bound),
            &Quantity(current.to_owned()),
            &storage(wanted),
            "spec.redis.storage",
            expandable,
        );
        (size.0, finding.map(|finding| finding.reason))
    }

    #[test]
    fn bound_claims_grow_where_the_class_allows_and_never_shrink() {
        assert_eq!(
            target(true, "1Gi", "1024Mi", true),
            ("1Gi".to_owned(), None),
            "the same size"
        );
        assert_eq!(target(true, "1Gi", "2Gi", true), ("2Gi".to_owned(), None));
        assert_eq!(
            target(false, "1Gi", "2Gi", true),
            ("1Gi".to_owned(), None),
            "grown once bound"
        );
        assert_eq!(
            target(true, "1Gi", "2Gi", false),
            ("1Gi".to_owned(), Some("VolumeExpansionNotAllowed"))
        );
        assert_eq!(
            target(true, "2Gi", "1Gi", true),
            ("2Gi".to_owned(), Some("VolumeCannotShrink"))
        );
    }
}
