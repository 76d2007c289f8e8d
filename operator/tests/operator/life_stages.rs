//! A shop's status at every stage of its life, judged by the tools users
//! rely on: kstatus (the library Flux uses) and Argo CD's health check
//! under the Lua engine Argo CD embeds, both run by `eshop-judge`. One test
//! per stage; each prints its row of the table:
//!
//! | stage | kstatus | Argo CD |
//! |---|---|---|
//! | created (first status, within 1 s) | InProgress | Progressing |
//! | rolling out | InProgress | Progressing |
//! | Ready | Current | Healthy |
//! | spec changed, not yet seen | InProgress | Progressing |
//! | paused with a change | InProgress | Suspended |
//! | transient error | InProgress | Progressing |
//! | missing StorageClass | Failed | Degraded |
//! | no default StorageClass | Failed | Degraded |
//! | Deployment past its deadline | Failed | Degraded |
//! | missing Secret | Failed | Degraded |
//! | deleted | NotFound | Missing |
//!
//! The stages that wait for something a person must fix also show the
//! recovery: when the StorageClass or the Secret appears, the shop leaves
//! `Stalled` at once, not when its backoff (16 s by then) ends.
//!
//! These run on a control plane of their own, which has no default
//! StorageClass; the shops name kwok's unless the stage is about it.

use std::time::{Duration, Instant};

use eshop_operator::crd::EShop;
use eshop_testbed::{STORAGE_CLASS, Testbed, wait};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::{apps::v1::Deployment, core::v1::Secret, storage::v1::StorageClass};
use kube::{
    Api, Client,
    api::{DeleteParams, Patch, PatchParams, PostParams},
    runtime::{WatchStreamExt, watcher},
};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::support::{
    Faults, Judgement, Operator, admin_config, apply_documents, audit_events, audit_time,
    condition, eventually, install_crd, judge, namespace, patch_spec, until_ready,
};

/// The control plane of these tests, without a default StorageClass.
async fn testbed() -> &'static Testbed {
    static TESTBED: OnceCell<Testbed> = OnceCell::const_new();
    TESTBED
        .get_or_init(|| async {
            let testbed = Testbed::start().await.expect("a control plane of its own");
            install_crd(&testbed).await;
            testbed
        })
        .await
}

/// A shop named `shop` with `spec`, its volumes on kwok's StorageClass
/// unless `spec` says otherwise.
async fn create_shop(client: &Client, namespace: &str, spec: Value) {
    let mut full = json!({
        "database": {"storage": {"storageClassName": STORAGE_CLASS}},
        "redis": {"storage": {"storageClassName": STORAGE_CLASS}},
    });
    merge(&mut full, spec);
    apply_documents(
        client,
        namespace,
        &[json!({
            "apiVersion": "eshop-operator.github.io/v1alpha1",
            "kind": "EShop",
            "metadata": {"name": "shop"},
            "spec": full,
        })],
    )
    .await;
}

/// A JSON merge of `patch` into `target`.
fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch,
    }
}

/// Asserts the verdicts on `shop` and prints the stage's row.
fn assert_judged(stage: &str, shop: Option<&EShop>, kstatus: &str, argo: &str) -> Judgement {
    let judgement = judge(shop);
    eprintln!(
        "life stage | {stage:<30} | kstatus {:<10} | Argo CD {:<11} | {}",
        judgement.kstatus.status, judgement.argo.status, judgement.argo.message
    );
    assert_eq!(
        (
            judgement.kstatus.status.as_str(),
            judgement.argo.status.as_str()
        ),
        (kstatus, argo),
        "{stage}: {judgement:#?}\n{shop:#?}"
    );
    judgement
}

/// Waits until the shop's status satisfies `check` for its current
/// generation, and returns the shop.
async fn until_status(
    shops: &Api<EShop>,
    what: &str,
    check: impl Fn(&EShop) -> bool + Send + 'static,
) -> EShop {
    wait::until(shops, "shop", what, move |shop: Option<&EShop>| {
        shop.is_some_and(|shop| {
            shop.status
                .as_ref()
                .and_then(|status| status.observed_generation)
                == shop.metadata.generation
                && check(shop)
        })
    })
    .await
}

fn has(shop: &EShop, type_: &str, status: &str, reason: &str) -> bool {
    condition(shop, type_).is_some_and(|condition| {
        condition.status == status && (reason.is_empty() || condition.reason == reason)
    })
}

#[tokio::test]
async fn created_the_first_status_comes_within_a_second() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "stage-created").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    let mut changes = watcher(shops.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    let created = Instant::now();
    create_shop(&client, &namespace, json!({})).await;
    let first = tokio::time::timeout(wait::TIMEOUT, async {
        while let Some(shop) = changes.try_next().await.expect("watching shops") {
            if shop.status.is_some() {
                return shop;
            }
        }
        panic!("the watch ended");
    })
    .await
    .expect("a first status");
    // Timed by the API server: from the end of the request that created
    // the shop to the start of the operator's first status write. The API
    // server logs a request once it has answered it, so the log may trail
    // the watch a little.
    let in_namespace = |event: &&Value| event["objectRef"]["namespace"] == namespace.as_str();
    eventually("the first status write in the audit log", || async {
        audit_events(testbed)
            .iter()
            .filter(in_namespace)
            .any(|event| event["objectRef"]["subresource"] == "status")
    })
    .await;
    let events = audit_events(testbed);
    let creation = events
        .iter()
        .filter(in_namespace)
        .find(|event| {
            event["objectRef"]["resource"] == "eshops"
                && event["objectRef"]["subresource"].is_null()
        })
        .expect("the shop's creation is audited");
    let first_status = events
        .iter()
        .filter(in_namespace)
        .find(|event| event["objectRef"]["subresource"] == "status")
        .expect("the first status write is audited");
    let elapsed = audit_time(first_status, "requestReceivedTimestamp")
        .duration_since(audit_time(creation, "stageTimestamp"));
    eprintln!(
        "life stage | first status {} ms after creation (seen by the test {:.0} ms after)",
        elapsed.as_millis(),
        created.elapsed().as_secs_f64() * 1000.0
    );
    assert!(
        elapsed < k8s_openapi::jiff::SignedDuration::from_secs(1),
        "the first status took {elapsed:?}"
    );
    assert_judged("created", Some(&first), "InProgress", "Progressing");
}

#[tokio::test]
async fn rolling_out_then_ready() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "stage-rollout").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    create_shop(&client, &namespace, json!({})).await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    let ready = until_ready(&shops, "shop").await;
    assert_judged("Ready", Some(&ready), "Current", "Healthy");

    let mut changes = watcher(shops.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    let changed = patch_spec(&shops, "shop", json!({"image": {"tag": "0.2.0"}})).await;
    let rolling = tokio::time::timeout(wait::TIMEOUT, async {
        while let Some(shop) = changes.try_next().await.expect("watching shops") {
            let current = shop
                .status
                .as_ref()
                .and_then(|status| status.observed_generation)
                == changed.metadata.generation;
            if current && has(&shop, "Reconciling", "True", "") {
                return shop;
            }
        }
        panic!("the watch ended");
    })
    .await
    .expect("a rollout in progress");
    assert_judged("rolling out", Some(&rolling), "InProgress", "Progressing");
    let ready = until_ready(&shops, "shop").await;
    assert_judged("Ready again", Some(&ready), "Current", "Healthy");
}

#[tokio::test]
async fn spec_changed_while_no_operator_looks() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "stage-changed").await;
    let client = testbed.client();
    let operator = Operator::start(testbed, &namespace).await;
    create_shop(&client, &namespace, json!({})).await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    until_ready(&shops, "shop").await;
    operator.kill().await;
    let changed = patch_spec(
        &shops,
        "shop",
        json!({"services": {"cart": {"replicas": 2}}}),
    )
    .await;
    assert_judged(
        "spec changed, not yet seen",
        Some(&changed),
        "InProgress",
        "Progressing",
    );
}

#[tokio::test]
async fn paused_with_a_change_held_back() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "stage-paused").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    create_shop(&client, &namespace, json!({})).await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    until_ready(&shops, "shop").await;
    patch_spec(&shops, "shop", json!({"paused": true})).await;
    let paused = until_status(&shops, "paused, nothing held back", |shop| {
        has(shop, "Reconciling", "False", "Paused") && has(shop, "Ready", "True", "Paused")
    })
    .await;
    assert_judged(
        "paused, nothing held back",
        Some(&paused),
        "Current",
        "Suspended",
    );
    patch_spec(
        &shops,
        "shop",
        json!({"services": {"cart": {"replicas": 2}}}),
    )
    .await;
    let held = until_status(&shops, "a change held back", |shop| {
        has(shop, "Reconciling", "True", "Paused") && has(shop, "Ready", "False", "Paused")
    })
    .await;
    assert_judged(
        "paused with a change",
        Some(&held),
        "InProgress",
        "Suspended",
    );
}

#[tokio::test]
async fn a_transient_error_is_in_progress_and_heals() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "stage-transient").await;
    let client = testbed.client();
    let faults = Faults::default();
    let _operator =
        Operator::start_with_faults(admin_config(testbed).await, &namespace, faults.clone());
    create_shop(&client, &namespace, json!({})).await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    until_ready(&shops, "shop").await;
    faults.fail_writes_to("/deployments/");
    patch_spec(&shops, "shop", json!({"image": {"tag": "0.3.0"}})).await;
    let failing = until_status(&shops, "a transient error", |shop| {
        has(shop, "Reconciling", "True", "TransientError") && has(shop, "Stalled", "False", "")
    })
    .await;
    assert_judged(
        "transient error",
        Some(&failing),
        "InProgress",
        "Progressing",
    );
    faults.stop();
    let healed = until_ready(&shops, "shop").await;
    assert_judged("healed", Some(&healed), "Current", "Healthy");
}

#[tokio::test]
async fn a_missing_storage_class_is_failed_until_it_appears() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "stage-class").await;
    let client = testbed.client();
    let operator = Operator::start(testbed, &namespace).await;
    let class = format!("{namespace}-volumes");
    create_shop(
        &client,
        &namespace,
        json!({
            "database": {"storage": {"storageClassName": class}},
            "redis": {"storage": {"storageClassName": class}},
        }),
    )
    .await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    let stalled = until_status(&shops, "StorageClassNotFound", |shop| {
        has(shop, "Stalled", "True", "StorageClassNotFound")
    })
    .await;
    assert_judged("missing StorageClass", Some(&stalled), "Failed", "Degraded");
    // Five failures in a row: the next retry is 16 s away.
    eventually("five failed reconciles", || {
        let failures = operator
            .metric(r#"eshop_operator_reconcile_errors_total{reason="StorageClassNotFound"}"#);
        async move { failures >= 5 }
    })
    .await;

    // kwok provisions only its own class, so the claims stay Pending here:
    // what must change at once is that nothing is missing any more.
    let kwok = Api::<StorageClass>::all(client.clone())
        .get(STORAGE_CLASS)
        .await
        .unwrap();
    let created = Instant::now();
    Api::<StorageClass>::all(client.clone())
        .create(
            &PostParams::default(),
            &StorageClass {
                metadata: kube::api::ObjectMeta {
                    name: Some(class.clone()),
                    ..Default::default()
                },
                provisioner: kwok.provisioner,
                volume_binding_mode: kwok.volume_binding_mode,
                allow_volume_expansion: Some(true),
                ..StorageClass::default()
            },
        )
        .await
        .unwrap();
    let waiting = until_status(&shops, "no longer Stalled", |shop| {
        has(shop, "Stalled", "False", "") && has(shop, "Reconciling", "True", "")
    })
    .await;
    let recovered = created.elapsed();
    eprintln!(
        "life stage | no longer Stalled {:.1} s after the StorageClass appeared",
        recovered.as_secs_f64()
    );
    assert!(
        recovered < Duration::from_secs(16),
        "recovered on the fix, not on the backoff: {recovered:?}"
    );
    assert_judged(
        "StorageClass created",
        Some(&waiting),
        "InProgress",
        "Progressing",
    );
}

#[tokio::test]
async fn no_default_storage_class_is_failed() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "stage-default").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    create_shop(
        &client,
        &namespace,
        json!({
            "database": {"storage": {"storageClassName": null}},
            "redis": {"storage": {"storageClassName": null}},
        }),
    )
    .await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    let stalled = until_status(&shops, "NoDefaultStorageClass", |shop| {
        has(shop, "Stalled", "True", "NoDefaultStorageClass")
    })
    .await;
    assert_judged(
        "no default StorageClass",
        Some(&stalled),
        "Failed",
        "Degraded",
    );
}

#[tokio::test]
async fn a_deployment_past_its_deadline_is_failed() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "stage-deadline").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    create_shop(&client, &namespace, json!({})).await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    until_ready(&shops, "shop").await;
    // A person gives the Deployment a short deadline, then asks for more
    // CPU than any node has: the new pods never schedule.
    Api::<Deployment>::namespaced(client.clone(), &namespace)
        .patch(
            "shop-users",
            &PatchParams::apply("kubectl-edit"),
            &Patch::Apply(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "spec": {"progressDeadlineSeconds": 2},
            })),
        )
        .await
        .unwrap();
    patch_spec(
        &shops,
        "shop",
        json!({"services": {"users": {"resources": {"requests": {"cpu": "100000"}}}}}),
    )
    .await;
    let stalled = until_status(&shops, "ProgressDeadlineExceeded", |shop| {
        has(shop, "Stalled", "True", "ProgressDeadlineExceeded")
    })
    .await;
    assert_judged(
        "Deployment past its deadline",
        Some(&stalled),
        "Failed",
        "Degraded",
    );
}

#[tokio::test]
async fn a_missing_secret_is_failed_until_it_appears() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "stage-secret").await;
    let client = testbed.client();
    let operator = Operator::start(testbed, &namespace).await;
    create_shop(
        &client,
        &namespace,
        json!({"database": {"mode": "External", "externalSecretRef": {"name": "shop-database"}}}),
    )
    .await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    let stalled = until_status(&shops, "ExternalDatabaseSecretMissing", |shop| {
        has(shop, "Stalled", "True", "ExternalDatabaseSecretMissing")
    })
    .await;
    assert_judged("missing Secret", Some(&stalled), "Failed", "Degraded");
    // Five failures in a row: the next retry is 16 s away.
    eventually("five failed reconciles", || {
        let failures = operator.metric(
            r#"eshop_operator_reconcile_errors_total{reason="ExternalDatabaseSecretMissing"}"#,
        );
        async move { failures >= 5 }
    })
    .await;

    let created = Instant::now();
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "shop-database"},
        "stringData": {"url": "postgres://eshop:secret@db.example:5432/eshop"},
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let ready = until_ready(&shops, "shop").await;
    let recovered = created.elapsed();
    eprintln!(
        "life stage | Ready {:.1} s after the Secret appeared",
        recovered.as_secs_f64()
    );
    assert!(
        recovered < Duration::from_secs(16),
        "recovered on the fix, not on the backoff: {recovered:?}"
    );
    assert_judged("Secret created", Some(&ready), "Current", "Healthy");
}

#[tokio::test]
async fn deleted() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "stage-deleted").await;
    let client = testbed.client();
    let _operator = Operator::start(testbed, &namespace).await;
    create_shop(&client, &namespace, json!({})).await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    until_ready(&shops, "shop").await;
    shops
        .delete("shop", &DeleteParams::default())
        .await
        .unwrap();
    wait::until_deleted(&shops, "shop").await;
    assert_judged(
        "deleted",
        shops.get_opt("shop").await.unwrap().as_ref(),
        "NotFound",
        "Missing",
    );
}

#[tokio::test]
async fn a_volume_growth_that_cannot_happen_is_failed_and_can_be_undone() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "stage-growth").await;
    let client = testbed.client();
    // On this control plane kwok's class does not allow expansion.
    Api::<StorageClass>::all(client.clone())
        .patch(
            STORAGE_CLASS,
            &PatchParams::default(),
            &Patch::Merge(json!({"allowVolumeExpansion": false})),
        )
        .await
        .unwrap();
    let _operator = Operator::start(testbed, &namespace).await;
    create_shop(&client, &namespace, json!({})).await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    until_ready(&shops, "shop").await;
    patch_spec(
        &shops,
        "shop",
        json!({"redis": {"storage": {"size": "2Gi"}}}),
    )
    .await;
    let stalled = until_status(&shops, "VolumeExpansionNotAllowed", |shop| {
        has(shop, "Stalled", "True", "VolumeExpansionNotAllowed")
    })
    .await;
    assert_judged("volume cannot grow", Some(&stalled), "Failed", "Degraded");
    patch_spec(
        &shops,
        "shop",
        json!({"redis": {"storage": {"size": "1024Mi"}}}),
    )
    .await;
    let undone = until_ready(&shops, "shop").await;
    assert_judged("growth undone", Some(&undone), "Current", "Healthy");
}
