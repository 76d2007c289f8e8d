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

/// A spec the API server must refuse: the case, the spec, the field its
/// message names and words it says.
struct Refused {
    case: &'static str,
    /// The shop's name, when the case is about it.
    name: Option<String>,
    spec: Value,
    field: &'static str,
    words: &'static str,
}

fn refused(case: &'static str, spec: Value, field: &'static str, words: &'static str) -> Refused {
    Refused {
        case,
        name: None,
        spec,
        field,
        words,
    }
}

#[tokio::test]
async fn invalid_specs_are_refused_by_the_api_server_naming_the_field() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "validation").await;
    let shops = Api::<EShop>::namespaced(testbed.client(), &namespace);
    let cases = [
        refused(
            "replicas above 50",
            json!({"services": {"cart": {"replicas": 51}}}),
            "spec.services.cart.replicas",
            "from 0 to 50",
        ),
        refused(
            "autoscaling min above max",
            json!({"services": {"gateway": {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}}}),
            "spec.services.gateway.autoscaling.minReplicas",
            "at most autoscaling.maxReplicas",
        ),
        refused(
            "autoscaling max above 100",
            json!({"services": {"users": {"autoscaling": {"maxReplicas": 500}}}}),
            "spec.services.users.autoscaling.maxReplicas",
            "at most 100",
        ),
        refused(
            "a host that is not a DNS name",
            json!({"ingress": {"enabled": true, "host": "Shop_Example!"}}),
            "spec.ingress.host",
            "must be a DNS name",
        ),
        refused(
            "TLS without a host",
            json!({"ingress": {"enabled": true, "tlsSecretName": "cert"}}),
            "spec.ingress.tlsSecretName",
            "needs ingress.host",
        ),
        refused(
            "External without its Secret",
            json!({"database": {"mode": "External"}}),
            "spec.database.externalSecretRef",
            "is required when database.mode is External",
        ),
        refused(
            "a size that is no quantity",
            json!({"redis": {"storage": {"size": "a lot"}}}),
            "spec.redis.storage.size",
            "positive quantity",
        ),
        refused(
            "storage size -1Gi",
            json!({"redis": {"storage": {"size": "-1Gi"}}}),
            "spec.redis.storage.size",
            "positive quantity",
        ),
        refused(
            "storage size 0",
            json!({"database": {"storage": {"size": "0"}}}),
            "spec.database.storage.size",
            "positive quantity",
        ),
        refused(
            "cpu: abc",
            json!({"services": {"cart": {"resources": {"requests": {"cpu": "abc"}}}}}),
            "spec.services.cart.resources.requests.cpu",
            "should match",
        ),
        refused(
            "memory: -1Gi",
            json!({"services": {"users": {"resources": {"limits": {"memory": "-1Gi"}}}}}),
            "spec.services.users.resources.limits",
            "at least zero",
        ),
        refused(
            "a request above its limit",
            json!({"redis": {"resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}}}}),
            "spec.redis.resources.requests",
            "must not exceed resources.limits",
        ),
        refused(
            "a StorageClass name that is no name",
            json!({"database": {"storage": {"storageClassName": "Fast_SSD"}}}),
            "spec.database.storage.storageClassName",
            "must name a StorageClass",
        ),
        Refused {
            name: Some("my.shop".to_owned()),
            ..refused(
                "a shop name with a dot",
                json!({}),
                "metadata.name",
                "must be a DNS label",
            )
        },
        Refused {
            name: Some("long".repeat(11)),
            ..refused(
                "a shop name too long",
                json!({}),
                "metadata.name",
                "at most 40 characters",
            )
        },
        refused(
            "an empty Secret name",
            json!({"database": {"mode": "External", "externalSecretRef": {"name": ""}}}),
            "spec.database.externalSecretRef.name",
            "at least 1 chars long",
        ),
        refused(
            "an image reference with a space",
            json!({"image": {"repository": "ghcr.io/eshop operator/eshop"}}),
            "spec.image.repository",
            "must be an image repository",
        ),
        refused(
            "a database image with a space",
            json!({"database": {"image": "postgres: 17"}}),
            "spec.database.image",
            "must be an image reference",
        ),
        refused(
            "a tag with a slash",
            json!({"image": {"tag": "1.0/beta"}}),
            "spec.image.tag",
            "must be an image tag",
        ),
        refused(
            "an external Secret with the in-cluster database",
            json!({"database": {"mode": "InCluster", "externalSecretRef": {"name": "db"}}}),
            "spec.database.externalSecretRef",
            "used only when database.mode is External",
        ),
        refused(
            "a host with the Ingress disabled",
            json!({"ingress": {"host": "shop.example.com"}}),
            "spec.ingress.enabled",
            "take effect only with ingress.enabled: true",
        ),
        refused(
            "a pull Secret that is no name",
            json!({"image": {"pullSecrets": [{"name": "Registry Credentials"}]}}),
            "spec.image.pullSecrets[0].name",
            "must each name a Secret",
        ),
    ];
    eprintln!("{:<50} what the API server says", "case");
    for (index, case) in cases.iter().enumerate() {
        let name = case.name.clone().unwrap_or_else(|| format!("case-{index}"));
        let result = shops
            .create(&PostParams::default(), &shop(&name, &case.spec))
            .await;
        let message = assert_refused(result, case.field, case.words);
        eprintln!("{:<50} {message}", case.case);
    }

    create_valid(&shops).await;
}

/// Valid specs, non-canonical ones included, are accepted; a volume's size
/// may be set back (undoing a growth that cannot happen), its class not
/// changed.
async fn create_valid(shops: &Api<EShop>) {
    for (name, spec) in [
        (
            "canonical",
            json!({"services": {"cart": {"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}}}}),
        ),
        (
            "non-canonical",
            json!({"services": {"cart": {"resources": {"requests": {"cpu": "0.5", "memory": "1024Mi"}, "limits": {"cpu": 1, "memory": "1073741824"}}}}}),
        ),
        (
            "external",
            json!({"database": {"mode": "External", "externalSecretRef": {"name": "shop-database"}}}),
        ),
        (
            "mirrored",
            json!({"image": {"repository": "localhost:5000/eshop", "tag": "0.1.0_rc.1"}, "database": {"image": "registry.internal/postgres:17.5-alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}),
        ),
    ] {
        shops
            .create(&PostParams::default(), &shop(name, &spec))
            .await
            .unwrap_or_else(|error| panic!("{name} is accepted: {error}"));
    }
    shops
        .create(
            &PostParams::default(),
            &shop(
                "storage",
                &json!({"database": {"storage": {"size": "2Gi", "storageClassName": "fast"}}}),
            ),
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
        update(json!({"database": {"storage": {"storageClassName": "slow"}}})).await,
        "spec.database.storage.storageClassName",
        "cannot change after creation",
    );
    update(json!({"database": {"storage": {"size": "3Gi"}}}))
        .await
        .expect("growing the volume is accepted");
    update(json!({"database": {"storage": {"size": "2Gi"}}}))
        .await
        .expect(
            "setting the size back is accepted: the operator tells whether the volume can shrink",
        );
}
