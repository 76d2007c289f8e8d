//! The Argo CD health check in `deploy/argocd/` on its recorded statuses,
//! run by `eshop-judge` under gopher-lua, the Lua engine Argo CD embeds.

use serde_json::Value;

use crate::support::{judge, yaml_documents};

const CHECK: &str = "deploy/argocd/eshop-operator.github.io/EShop";

#[test]
fn the_argo_cd_health_check_judges_recorded_statuses() {
    let cases = yaml_documents(&format!("{CHECK}/health_test.yaml"));
    let tests = cases[0]["tests"].as_array().unwrap();
    let mut seen = Vec::new();
    for case in tests {
        let input = case["inputPath"].as_str().unwrap();
        let object: Value = yaml_documents(&format!("{CHECK}/{input}")).remove(0);
        let shop = serde_json::from_value(object).expect("an EShop");
        let argo = judge(Some(&shop)).argo;
        assert_eq!(
            argo.status,
            case["healthStatus"]["status"].as_str().unwrap(),
            "{input}"
        );
        assert_eq!(
            argo.message,
            case["healthStatus"]["message"].as_str().unwrap(),
            "{input}"
        );
        seen.push(argo.status);
    }
    for status in ["Healthy", "Progressing", "Degraded", "Suspended"] {
        assert!(seen.iter().any(|seen| seen == status), "a case of {status}");
    }
}
