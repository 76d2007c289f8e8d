//! Invalid specs are refused by the API server itself, one for each CEL
//! rule of the CRD, with a message that names the field to fix.

use eshop_operator::crd::EShop;
use kube::{
    Api,
    api::{Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};

use crate::support::{namespace, testbed};

fn shop(name: &str, spec: &Value) -> EShop {
    serde_json::from_value(json!({
        "apiVersion": "eshop-operator.github.io/v1alpha1",
        "kind": "EShop",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .expect("a well-formed EShop")
}

/// Asserts that the API server refused the request with 422 and a message
/// naming `field` and saying `words`; returns the message.
fn assert_refused(result: Result<EShop, kube::Error>, field: &str, words: &str) -> String {
    let error = result.expect_err("the API server refuses the spec");
    let kube::Error::Api(status) = error else {
        panic!("expected a refusal from the API server, got {error}");
    };
    assert_eq!(status.code, 422, "{}", status.message);
    assert!(
        status.message.contains(field),
        "the message names {field}: {}",
        status.message
    );
    assert!(
        status.message.contains(words),
        "the message says {words:?}: {}",
        status.message
    );
    status.message
}

#[tokio::test]
async fn invalid_specs_are_refused_by_the_api_server_naming_the_field() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "validation").await;
    let shops = Api::<EShop>::namespaced(testbed.client(), &namespace);
    let create = |name: &str, spec: Value| {
        let shops = shops.clone();
        let shop = shop(name, &spec);
        async move { shops.create(&PostParams::default(), &shop).await }
    };

    let message = assert_refused(
        create("replicas", json!({"services": {"cart": {"replicas": 51}}})).await,
        "spec.services.cart.replicas",
        "from 0 to 50",
    );
    eprintln!("the API server says: {message}");
    assert_refused(
        create(
            "bounds",
            json!({"services": {"gateway": {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}}}),
        )
        .await,
        "spec.services.gateway.autoscaling.minReplicas",
        "at most autoscaling.maxReplicas",
    );
    assert_refused(
        create(
            "ceiling",
            json!({"services": {"users": {"autoscaling": {"maxReplicas": 500}}}}),
        )
        .await,
        "spec.services.users.autoscaling.maxReplicas",
        "at most 100",
    );
    assert_refused(
        create(
            "host",
            json!({"ingress": {"enabled": true, "host": "Shop_Example!"}}),
        )
        .await,
        "spec.ingress.host",
        "must be a DNS name",
    );
    assert_refused(
        create(
            "tls",
            json!({"ingress": {"enabled": true, "tlsSecretName": "cert"}}),
        )
        .await,
        "spec.ingress.tlsSecretName",
        "needs ingress.host",
    );
    assert_refused(
        create("external", json!({"database": {"mode": "External"}})).await,
        "spec.database.externalSecretRef",
        "is required when database.mode is External",
    );
    assert_refused(
        create("size", json!({"redis": {"storage": {"size": "a lot"}}})).await,
        "spec.redis.storage.size",
        "must be a quantity",
    );
    assert_refused(
        create(&"long".repeat(11), json!({})).await,
        "metadata.name",
        "at most 40 characters",
    );

    create(
        "storage",
        json!({"database": {"storage": {"size": "2Gi", "storageClassName": "fast"}}}),
    )
    .await
    .expect("a valid shop is accepted");
    let update = |spec: Value| {
        let shops = shops.clone();
        async move {
            shops
                .patch(
                    "storage",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": spec})),
                )
                .await
        }
    };
    assert_refused(
        update(json!({"database": {"storage": {"size": "1Gi"}}})).await,
        "spec.database.storage.size",
        "cannot shrink",
    );
    assert_refused(
        update(json!({"database": {"storage": {"storageClassName": "slow"}}})).await,
        "spec.database.storage.storageClassName",
        "cannot change after creation",
    );
    update(json!({"database": {"storage": {"size": "3Gi"}}}))
        .await
        .expect("growing the volume is accepted");
}
