//! Checking the one JSON error shape every service answers with.

use reqwest::{Response, StatusCode};
use serde_json::Value;

/// Asserts that `response` is the error `code` with `status`, a message, and
/// the `field` it names (or none): the message.
///
/// # Panics
/// When the response is anything else, showing its body.
pub async fn assert_error(
    response: Response,
    status: StatusCode,
    code: &str,
    field: Option<&str>,
) -> String {
    let answered = response.status();
    let body: Value = response.json().await.expect("errors are JSON");
    assert_eq!(answered, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"]
        .as_str()
        .filter(|message| !message.is_empty())
        .unwrap_or_else(|| panic!("no message in {body}"))
        .to_owned();
    match field {
        Some(field) => assert_eq!(body["error"]["field"], field, "{body}"),
        None => assert!(body["error"].get("field").is_none(), "{body}"),
    }
    message
}
