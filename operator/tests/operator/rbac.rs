//! The operator runs with the RBAC of `deploy/base` and not as admin: its
//! ServiceAccount's token, from the TokenRequest API, is enough to bring a
//! shop to Ready, and is refused what the operator has no need of.

use eshop_operator::crd::EShop;
use k8s_openapi::{
    api::{
        authentication::v1::{TokenRequest, TokenRequestSpec},
        core::v1::{Pod, Secret, ServiceAccount},
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Client, ResourceExt,
    api::{
        ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
        PostParams,
    },
};
use serde_json::Value;

use crate::support::{
    Operator, USER, admin_config, apply_minimal, namespace, testbed, until_ready,
};

/// Kinds of `deploy/base` that are cluster-scoped.
const CLUSTER_SCOPED: [&str; 3] = ["Namespace", "ClusterRole", "ClusterRoleBinding"];

/// `deploy/base` as kustomize renders it, without the operator's Deployment
/// (the test runs the operator in-process).
fn rendered_base(kubectl_dir: &std::path::Path) -> Vec<Value> {
    let output = std::process::Command::new(kubectl_dir.join("kubectl"))
        .args([
            "kustomize",
            &crate::support::repo_path("deploy/base")
                .display()
                .to_string(),
        ])
        .output()
        .expect("running kubectl kustomize");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    documents
        .into_iter()
        .filter(|document| document["kind"] != "Deployment")
        .collect()
}

async fn apply(client: &Client, document: &Value) {
    let object: DynamicObject = serde_json::from_value(document.clone()).unwrap();
    let types = object.types.clone().unwrap();
    let (group, version) = types
        .api_version
        .split_once('/')
        .unwrap_or(("", &types.api_version));
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &types.kind));
    let api = if CLUSTER_SCOPED.contains(&types.kind.as_str()) {
        Api::<DynamicObject>::all_with(client.clone(), &resource)
    } else {
        Api::namespaced_with(client.clone(), &object.namespace().unwrap(), &resource)
    };
    api.patch(
        &object.name_any(),
        &PatchParams::apply(USER),
        &Patch::Apply(&object),
    )
    .await
    .unwrap_or_else(|error| panic!("applying {} {}: {error}", types.kind, object.name_any()));
}

fn is_forbidden<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(status)) if status.code == 403)
}

#[tokio::test]
async fn the_operator_runs_with_the_rbac_of_deploy_and_a_service_account_token() {
    let testbed = testbed().await;
    let admin = testbed.client();
    let documents = rendered_base(testbed.kubectl_dir());
    let kinds: Vec<&str> = documents
        .iter()
        .filter_map(|document| document["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "Role",
            "ClusterRole",
            "RoleBinding",
            "ClusterRoleBinding"
        ]
    );
    for document in &documents {
        apply(&admin, document).await;
    }
    let token = Api::<ServiceAccount>::namespaced(admin.clone(), "eshop-operator")
        .create_token_request(
            "eshop-operator",
            &PostParams::default(),
            &TokenRequest {
                spec: TokenRequestSpec {
                    audiences: vec![],
                    expiration_seconds: Some(3600),
                    ..TokenRequestSpec::default()
                },
                ..TokenRequest::default()
            },
        )
        .await
        .expect("a token of the operator's ServiceAccount")
        .status
        .unwrap()
        .token;
    let mut config = admin_config(testbed).await;
    config.auth_info = kube::config::AuthInfo {
        token: Some(token.into()),
        ..kube::config::AuthInfo::default()
    };

    let namespace = namespace(testbed, "rbac").await;
    let operator = Operator::start_with(config.clone(), &namespace);
    apply_minimal(&admin, &namespace, "shop").await;
    let shops = Api::<EShop>::namespaced(admin.clone(), &namespace);
    until_ready(&shops, "shop").await;
    assert!(operator.writes.count() > 0);

    let as_operator = Client::try_from(config).unwrap();
    assert!(is_forbidden(
        Api::<Pod>::namespaced(as_operator.clone(), &namespace)
            .list(&ListParams::default())
            .await
    ));
    assert!(is_forbidden(
        Api::<Secret>::namespaced(as_operator.clone(), &namespace)
            .delete("shop-jwt", &DeleteParams::default())
            .await
    ));
    assert!(is_forbidden(
        Api::<CustomResourceDefinition>::all(as_operator.clone())
            .delete("eshops.eshop-operator.github.io", &DeleteParams::default())
            .await
    ));
    assert!(is_forbidden(
        Api::<EShop>::namespaced(as_operator, &namespace)
            .patch(
                "shop",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"spec": {"paused": true}}))
            )
            .await
    ));
}
