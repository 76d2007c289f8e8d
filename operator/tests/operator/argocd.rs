//! The Argo CD health check in `deploy/argocd/` on its recorded statuses,
//! run by Lua 5.1 (the Lua of Argo CD's gopher-lua) through mlua.

use mlua::{Lua, LuaSerdeExt, Table};
use serde_json::Value;

use crate::support::{repo_path, yaml_documents};

const CHECK: &str = "deploy/argocd/eshop-operator.github.io/EShop";

#[test]
fn the_argo_cd_health_check_judges_recorded_statuses() {
    let script = std::fs::read_to_string(repo_path(&format!("{CHECK}/health.lua"))).unwrap();
    let cases = yaml_documents(&format!("{CHECK}/health_test.yaml"));
    let tests = cases[0]["tests"].as_array().unwrap();
    let mut seen = Vec::new();
    for case in tests {
        let input = case["inputPath"].as_str().unwrap();
        let object: Value = yaml_documents(&format!("{CHECK}/{input}")).remove(0);
        let lua = Lua::new();
        lua.globals()
            .set("obj", lua.to_value(&object).unwrap())
            .unwrap();
        let health: Table = lua.load(&script).set_name(input).eval().unwrap();
        let status: String = health.get("status").unwrap();
        let message: String = health.get("message").unwrap();
        assert_eq!(
            status,
            case["healthStatus"]["status"].as_str().unwrap(),
            "{input}"
        );
        assert_eq!(
            message,
            case["healthStatus"]["message"].as_str().unwrap(),
            "{input}"
        );
        seen.push(status);
    }
    for status in ["Healthy", "Progressing", "Degraded"] {
        assert!(seen.iter().any(|seen| seen == status), "a case of {status}");
    }
}
