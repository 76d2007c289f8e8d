//! Whether an object the API server holds already is what the operator
//! wants, compared by meaning rather than by spelling.
//!
//! The API server fills in defaults, drops empty lists and maps, and
//! writes quantities in canonical form (`0.5` becomes `500m`, `1024Mi`
//! becomes `1Gi`). A comparison that saw those as changes would write on
//! every pass and never report the shop converged. So:
//!
//! - a field the desired object leaves out is not compared (a default, or
//!   another field manager's);
//! - an empty list or map matches a missing one;
//! - lists must have the same length, entry by entry (an entry another
//!   manager added is drift);
//! - the values of `requests`, `limits` and `capacity` maps compare as
//!   quantities;
//! - the applied-digest annotation must match, so a field the operator
//!   stops setting is noticed too.

use kube_quantity::ParsedQuantity;
use serde::Serialize;
use serde_json::Value;

/// Annotation on every applied child: a digest of what was applied.
pub const APPLIED_DIGEST: &str = "eshop-operator.github.io/applied-digest";

/// The maps whose values are quantities.
const QUANTITY_MAPS: [&str; 3] = ["requests", "limits", "capacity"];

/// Whether `cached` already is what `desired` asks for: the same applied
/// digest, and every field `desired` sets has the same meaning there.
pub fn converged<K: Serialize>(desired: &K, cached: &K) -> bool {
    let desired = serde_json::to_value(desired).expect("objects serialize");
    let cached = serde_json::to_value(cached).expect("objects serialize");
    let digest = |value: &Value| {
        value
            .pointer(&format!(
                "/metadata/annotations/{}",
                APPLIED_DIGEST.replace('/', "~1")
            ))
            .cloned()
    };
    digest(&desired) == digest(&cached) && contains(&cached, &desired, false)
}

/// Whether `actual` has every value `wanted` has; `quantities` when both
/// are values of a map of quantities.
fn contains(actual: &Value, wanted: &Value, quantities: bool) -> bool {
    match (actual, wanted) {
        (_, Value::Null) => true,
        (Value::Object(actual), Value::Object(wanted)) => wanted.iter().all(|(key, value)| {
            let quantities = QUANTITY_MAPS.contains(&key.as_str());
            actual.get(key).map_or_else(
                || is_empty(value),
                |actual| match (actual, value) {
                    (Value::Object(actual), Value::Object(value)) if quantities => {
                        value.iter().all(|(name, value)| {
                            actual
                                .get(name)
                                .is_some_and(|actual| contains(actual, value, true))
                        })
                    }
                    _ => contains(actual, value, false),
                },
            )
        }),
        (Value::Array(actual), Value::Array(wanted)) => {
            actual.len() == wanted.len()
                && actual
                    .iter()
                    .zip(wanted)
                    .all(|(actual, wanted)| contains(actual, wanted, false))
        }
        (actual, wanted) if quantities => same_quantity(actual, wanted),
        (actual, wanted) => actual == wanted,
    }
}

/// Whether two JSON values (strings or numbers) are the same quantity.
fn same_quantity(actual: &Value, wanted: &Value) -> bool {
    match (as_quantity(actual), as_quantity(wanted)) {
        (Some(actual), Some(wanted)) => actual == wanted,
        _ => actual == wanted,
    }
}

fn as_quantity(value: &Value) -> Option<ParsedQuantity> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return None,
    };
    quantity(&text)
}

/// A quantity, parsed; `None` when it is not one.
pub fn quantity(text: &str) -> Option<ParsedQuantity> {
    ParsedQuantity::try_from(text).ok()
}

/// Values the API server drops when stored: an empty list or map.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.values().all(is_empty) && fields.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_cached_object_with_server_defaults_is_converged() {
        let desired = json!({
            "metadata": {"name": "a", "annotations": {APPLIED_DIGEST: "1"}},
            "spec": {"replicas": 2, "template": {"containers": [{"name": "x", "image": "i"}]}, "empty": []},
        });
        let cached = json!({
            "metadata": {"name": "a", "uid": "u", "annotations": {APPLIED_DIGEST: "1"}},
            "spec": {"replicas": 2, "template": {"containers": [{"name": "x", "image": "i", "terminationMessagePath": "/dev"}]}},
            "status": {"readyReplicas": 1},
        });
        assert!(converged(&desired, &cached));

        let mut drifted = cached.clone();
        drifted["spec"]["replicas"] = json!(3);
        assert!(!converged(&desired, &drifted));

        let mut other_digest = cached.clone();
        other_digest["metadata"]["annotations"][APPLIED_DIGEST] = json!("2");
        assert!(!converged(&desired, &other_digest));

        let mut extra_container = cached;
        extra_container["spec"]["template"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "sidecar"}));
        assert!(!converged(&desired, &extra_container));
    }

    fn with_resources(requests: &Value, limits: &Value) -> Value {
        json!({
            "metadata": {"annotations": {APPLIED_DIGEST: "1"}},
            "spec": {"containers": [{"name": "x", "resources": {"requests": requests, "limits": limits}}]},
        })
    }

    #[test]
    fn quantities_the_api_server_rewrote_are_the_same() {
        let pairs = [
            ("0.5", "500m"),
            ("1024Mi", "1Gi"),
            ("1000m", "1"),
            ("1.5Gi", "1536Mi"),
            ("0.1", "100m"),
            ("2e3", "2k"),
        ];
        for (written, stored) in pairs {
            let desired = with_resources(&json!({"cpu": written}), &json!({"memory": written}));
            let cached = with_resources(&json!({"cpu": stored}), &json!({"memory": stored}));
            assert!(converged(&desired, &cached), "{written} is {stored}");
        }
        let desired = with_resources(&json!({"cpu": 2}), &json!({}));
        let cached = with_resources(&json!({"cpu": "2"}), &json!({}));
        assert!(converged(&desired, &cached), "an integer is its quantity");

        for (written, stored) in [("0.5", "501m"), ("1Gi", "1G"), ("1", "1m")] {
            let desired = with_resources(&json!({"cpu": written}), &json!({}));
            let cached = with_resources(&json!({"cpu": stored}), &json!({}));
            assert!(!converged(&desired, &cached), "{written} is not {stored}");
        }
        let desired = with_resources(&json!({"cpu": "1"}), &json!({}));
        let cached = with_resources(&json!({"cpu": "1", "memory": "1Gi"}), &json!({}));
        assert!(
            converged(&desired, &cached),
            "a request set by another manager"
        );
        let cached = with_resources(&json!({"memory": "1Gi"}), &json!({}));
        assert!(!converged(&desired, &cached), "a missing request");
    }

    #[test]
    fn only_quantity_maps_compare_as_quantities() {
        let desired =
            json!({"metadata": {"annotations": {APPLIED_DIGEST: "1"}}, "data": {"limit": "1000m"}});
        let cached =
            json!({"metadata": {"annotations": {APPLIED_DIGEST: "1"}}, "data": {"limit": "1"}});
        assert!(!converged(&desired, &cached));
    }
}
