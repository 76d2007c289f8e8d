//! The storefront's stylesheet, script and icon, embedded in the binary.
//! Their URLs carry a hash of their content, so browsers may keep them
//! for a year: a new version has a new URL.

use std::sync::LazyLock;

use axum::{
    Router,
    extract::Path,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::AppState;

const CSS: &str = include_str!("../assets/shop.css");
const JS: &str = include_str!("../assets/shop.js");
const ICON: &str = include_str!("../assets/icon.svg");

/// FNV-1a: a short, stable fingerprint of an asset's content.
fn fingerprint(content: &str) -> String {
    let hash = content
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{:08x}", hash >> 32)
}

static CSS_PATH: LazyLock<String> =
    LazyLock::new(|| format!("/assets/shop.{}.css", fingerprint(CSS)));
static JS_PATH: LazyLock<String> = LazyLock::new(|| format!("/assets/shop.{}.js", fingerprint(JS)));
static ICON_PATH: LazyLock<String> =
    LazyLock::new(|| format!("/assets/icon.{}.svg", fingerprint(ICON)));

pub(crate) fn css_path() -> &'static str {
    &CSS_PATH
}

pub(crate) fn js_path() -> &'static str {
    &JS_PATH
}

pub(crate) fn icon_path() -> &'static str {
    &ICON_PATH
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/assets/{name}", get(asset))
}

async fn asset(Path(name): Path<String>) -> Response {
    let path = format!("/assets/{name}");
    let (content_type, body) = if path == css_path() {
        ("text/css; charset=utf-8", CSS)
    } else if path == js_path() {
        ("text/javascript; charset=utf-8", JS)
    } else if path == icon_path() {
        ("image/svg+xml", ICON)
    } else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_urls_change_with_their_content() {
        assert_ne!(
            fingerprint("a { color: red }"),
            fingerprint("a { color: blue }")
        );
        assert!(css_path().starts_with("/assets/shop.") && css_path().ends_with(".css"));
    }
}
