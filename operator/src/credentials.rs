//! The generated credentials, and how the stores' ones stay with the data
//! they open.
//!
//! Four Secrets hold them ([`crate::build::secrets`]). Two only guard calls
//! (`<shop>-jwt`, `<shop>-internal-token`): deleting one rotates it, and the
//! pods roll with the new value. The stores' two (`<shop>-postgres`,
//! `<shop>-redis`) open data that outlives any pod: PostgreSQL keeps the
//! password it was initialised with in its volume. So they follow the
//! volumes, never the operator's memory:
//!
//! - a store's credentials are generated only when its Secret does not
//!   exist and no volume of that store was ever paired with credentials;
//! - each volume (claim) carries a fingerprint of the credentials it was
//!   paired with, so a Secret that goes missing, or holds other values, is
//!   reported (`Stalled`, reason `CredentialsLost` or `CredentialsMismatch`)
//!   instead of being replaced by a password the data does not know;
//! - the Secret is owned by the store's claims as well as the shop, so it
//!   stays when the shop is deleted with its volumes retained, and goes
//!   with the volumes otherwise;
//! - it carries the finalizer [`FINALIZER`]: deleting it while a volume of
//!   its store exists leaves it in place (Terminating, still readable)
//!   until that volume is gone, even while the operator is down. The
//!   releaser ([`release`]) removes the finalizer once no claim of the
//!   store is left.

use futures::{StreamExt, channel::mpsc::UnboundedReceiver};
use k8s_openapi::{
    api::core::v1::{PersistentVolumeClaim, Secret},
    apimachinery::pkg::apis::meta::v1::OwnerReference,
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{ListParams, Patch, PatchParams, PostParams},
    runtime::reflector::{ObjectRef, Store},
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{
    apply,
    build::{
        Credentials, LABEL_COMPONENT, LABEL_INSTANCE, MANAGER, hex, postgres,
        secrets::{self, FoundSecrets},
    },
    controller::Context,
    crd::{DatabaseMode, EShop},
    reconcile::{Applied, Error},
};

/// Keeps a store's credentials while a volume of the store exists.
pub const FINALIZER: &str = "eshop-operator.github.io/volume-credentials";

/// Annotation on a store's claim: the fingerprint of the credentials its
/// data was paired with.
pub const FINGERPRINT: &str = "eshop-operator.github.io/credentials-fingerprint";

/// The stores' Secrets, by suffix; each suffix is also the store's
/// component.
pub const STORE_SECRETS: [&str; 2] = [secrets::POSTGRES, secrets::REDIS];

/// A shop's credentials, and which Secrets must still be created.
#[derive(Debug, Clone)]
pub struct ShopCredentials {
    pub values: Credentials,
    /// Suffixes of the Secrets that do not exist yet.
    pub missing: Vec<&'static str>,
}

impl ShopCredentials {
    /// The fingerprint of the credentials of the store `component`.
    pub fn fingerprint(&self, component: &str) -> String {
        let value = if component == postgres::COMPONENT {
            &self.values.postgres_password
        } else {
            &self.values.redis_password
        };
        fingerprint(value)
    }
}

/// A short digest of a credential: enough to tell two apart, useless for
/// guessing one.
pub fn fingerprint(value: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"eshop-operator credentials\0");
    hasher.update(value.as_bytes());
    hex(&hasher.finalize()[..8])
}

/// Step 2 of a reconcile: the credentials from the Secrets (the cache, or
/// the API server when the cache lags), generating only what may be.
pub async fn read(shop: &EShop, context: &Context) -> Result<ShopCredentials, Error> {
    let namespace = shop.namespace().unwrap_or_default();
    let mut found = FoundSecrets::new();
    let mut missing = Vec::new();
    for suffix in [
        secrets::POSTGRES,
        secrets::REDIS,
        secrets::JWT,
        secrets::INTERNAL_TOKEN,
    ] {
        let name = format!("{}-{suffix}", shop.name_any());
        let cached = context
            .caches
            .secrets
            .get(&ObjectRef::new(&name).within(&namespace));
        let data = match cached {
            Some(secret) => secret.data.clone(),
            None => Api::<Secret>::namespaced(context.client.clone(), &namespace)
                .get_opt(&name)
                .await
                .map_err(|source| Error::kube(format!("reading Secret {name}"), source))?
                .and_then(|secret| secret.data),
        };
        match data {
            Some(data) => {
                found.insert(suffix, data);
            }
            None => missing.push(suffix),
        }
    }
    for component in STORE_SECRETS {
        if missing.contains(&component)
            && let Some(claim) = paired_claims(shop, context, component).next()
        {
            return Err(Error::Blocked {
                reason: "CredentialsLost",
                message: format!(
                    "Secret {}-{component} is gone, but volume {} holds data paired with it: \
                     recreate the Secret with the same {} (key {}), or delete the volume to start empty",
                    shop.name_any(),
                    claim.name_any(),
                    if component == postgres::COMPONENT {
                        "password"
                    } else {
                        "Redis password"
                    },
                    secrets::PASSWORD_KEY,
                ),
            });
        }
    }
    Ok(ShopCredentials {
        values: Credentials::from_secrets(&found),
        missing,
    })
}

/// The cached claims of a store of `shop` that were paired with credentials.
fn paired_claims<'a>(
    shop: &'a EShop,
    context: &Context,
    component: &'a str,
) -> impl Iterator<Item = std::sync::Arc<PersistentVolumeClaim>> + 'a {
    store_claims(shop, &context.caches.claims, component)
        .filter(|claim| claim.annotations().contains_key(FINGERPRINT))
}

/// The cached claims of the store `component` of `shop`.
pub fn store_claims<'a>(
    shop: &'a EShop,
    claims: &Store<PersistentVolumeClaim>,
    component: &'a str,
) -> impl Iterator<Item = std::sync::Arc<PersistentVolumeClaim>> + 'a {
    let namespace = shop.namespace();
    let instance = shop.name_any();
    claims.state().into_iter().filter(move |claim| {
        claim.namespace() == namespace
            && claim.labels().get(LABEL_INSTANCE) == Some(&instance)
            && claim.labels().get(LABEL_COMPONENT).map(String::as_str) == Some(component)
    })
}

/// Creates the Secrets that do not exist yet, with the values the children
/// were built with. A Secret that appeared meanwhile fails the reconcile
/// (as a conflict, retried) rather than be overwritten.
pub async fn create_missing(
    context: &Context,
    desired: &[Secret],
    credentials: &ShopCredentials,
    changes: &mut Vec<String>,
) -> Result<(), Error> {
    for suffix in &credentials.missing {
        let Some(secret) = desired
            .iter()
            .find(|secret| secret.name_any().ends_with(&format!("-{suffix}")))
        else {
            continue;
        };
        let mut secret = secret.clone();
        if STORE_SECRETS.contains(suffix) {
            secret.metadata.finalizers = Some(vec![FINALIZER.to_owned()]);
        }
        let name = secret.name_any();
        let params = PostParams {
            field_manager: Some(MANAGER.to_owned()),
            ..PostParams::default()
        };
        apply::api(context, &secret)
            .create(&params, &secret)
            .await
            .map_err(|source| Error::kube(format!("creating Secret {name}"), source))?;
        context.metrics.write();
        changes.push(format!("Secret/{name}"));
    }
    Ok(())
}

/// Makes each store's Secret carry the operator's labels, be owned by the
/// store's claims (besides the shop) and be protected by [`FINALIZER`]. A
/// Secret restored by hand, without labels, is adopted so.
pub async fn bind_to_volumes(
    shop: &EShop,
    context: &Context,
    desired: &[Secret],
    credentials: &ShopCredentials,
    applied: &mut Applied,
) {
    let namespace = shop.namespace().unwrap_or_default();
    let Some(shop_owner) = shop.controller_owner_ref(&()) else {
        return;
    };
    for component in STORE_SECRETS {
        let name = format!("{}-{component}", shop.name_any());
        let Some(wanted) = desired.iter().find(|secret| secret.name_any() == name) else {
            continue;
        };
        if credentials.missing.contains(&component) {
            continue;
        }
        let mut owners = vec![shop_owner.clone()];
        if component != postgres::COMPONENT || shop.spec.database.mode == DatabaseMode::InCluster {
            owners.extend(
                store_claims(shop, &context.caches.claims, component).filter_map(|claim| {
                    Some(OwnerReference {
                        api_version: "v1".to_owned(),
                        kind: "PersistentVolumeClaim".to_owned(),
                        name: claim.name_any(),
                        uid: claim.uid()?,
                        ..OwnerReference::default()
                    })
                }),
            );
        }
        let cached = context
            .caches
            .secrets
            .get(&ObjectRef::new(&name).within(&namespace));
        let bound = cached.as_ref().is_some_and(|cached| {
            owners.iter().all(|owner| {
                cached
                    .owner_references()
                    .iter()
                    .any(|present| present.uid == owner.uid)
            }) && cached
                .finalizers()
                .iter()
                .any(|finalizer| finalizer == FINALIZER)
        });
        if bound {
            continue;
        }
        let patch = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "labels": wanted.labels(),
                "ownerReferences": owners,
                "finalizers": [FINALIZER],
            },
        });
        let result = apply::api(context, wanted)
            .patch(&name, &apply::apply_params(), &Patch::Apply(&patch))
            .await;
        match result {
            Ok(_) => {
                context.metrics.write();
                applied
                    .changes
                    .push(format!("Secret/{name} (bound to its volumes)"));
            }
            Err(source) => applied.errors.push(Error::kube(
                format!("binding Secret {name} to its volumes"),
                source,
            )),
        }
    }
}

/// Releases the stores' Secrets that are being deleted once no claim of
/// their store is left, for each shop (namespace and name) received; runs
/// until the channel closes. The shop itself may be gone.
pub async fn release(
    client: Client,
    secrets: Store<Secret>,
    mut shops: UnboundedReceiver<ObjectRef<EShop>>,
) {
    while let Some(shop) = shops.next().await {
        let Some(namespace) = shop.namespace.clone() else {
            continue;
        };
        for component in STORE_SECRETS {
            let name = format!("{}-{component}", shop.name);
            let Some(secret) = secrets.get(&ObjectRef::new(&name).within(&namespace)) else {
                continue;
            };
            let held = secret.metadata.deletion_timestamp.is_some()
                && secret
                    .finalizers()
                    .iter()
                    .any(|finalizer| finalizer == FINALIZER);
            if !held {
                continue;
            }
            if let Err(error) =
                release_one(&client, &namespace, &shop.name, component, &secret).await
            {
                tracing::warn!(secret = %name, %error, "releasing credentials");
            }
        }
    }
}

/// Removes [`FINALIZER`] from `secret` if no claim of its store exists,
/// asking the API server rather than the cache: a claim the cache has not
/// seen yet still holds data.
async fn release_one(
    client: &Client,
    namespace: &str,
    instance: &str,
    component: &str,
    secret: &Secret,
) -> Result<(), kube::Error> {
    let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
        .list_metadata(&ListParams::default().labels(&format!(
            "{LABEL_INSTANCE}={instance},{LABEL_COMPONENT}={component}"
        )))
        .await?;
    if !claims.items.is_empty() {
        return Ok(());
    }
    let kept: Vec<&String> = secret
        .finalizers()
        .iter()
        .filter(|finalizer| *finalizer != FINALIZER)
        .collect();
    // The resourceVersion makes the patch fail if the Secret changed since
    // it was cached, so no other finalizer is lost.
    let patch = json!({"metadata": {
        "finalizers": kept,
        "resourceVersion": secret.resource_version(),
    }});
    Api::<Secret>::namespaced(client.clone(), namespace)
        .patch(
            &secret.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    tracing::info!(secret = %secret.name_any(), "released: no volume of its store is left");
    Ok(())
}
