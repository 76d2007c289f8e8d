//! What the image is, as `podman image inspect` shows it: small, running
//! as a non-root user, `eshop` as its entrypoint, and the OCI labels of
//! this version.

use serde_json::Value;

use crate::podman::{image, podman_ok};

/// The size the image must stay under.
const MAX_SIZE: u64 = 30_000_000;

#[test]
#[ignore = "needs the image: tests/run's image phase builds it and runs these"]
fn the_image_is_small_non_root_and_labelled() {
    let inspected: Value =
        serde_json::from_str(&podman_ok(&["image", "inspect", &image()])).expect("JSON");
    let image = &inspected[0];
    let size = image["Size"].as_u64().expect("a size");
    println!("{}: {size} bytes", crate::podman::image());
    assert!(
        size < MAX_SIZE,
        "the image is {size} bytes, over {MAX_SIZE}"
    );

    let config = &image["Config"];
    assert_eq!(config["User"], "65532:65532");
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/usr/local/bin/eshop"])
    );
    let labels = &config["Labels"];
    for (label, expected) in [
        (
            "org.opencontainers.image.version",
            env!("CARGO_PKG_VERSION"),
        ),
        (
            "org.opencontainers.image.source",
            env!("CARGO_PKG_REPOSITORY"),
        ),
        (
            "org.opencontainers.image.licenses",
            env!("CARGO_PKG_LICENSE"),
        ),
    ] {
        assert_eq!(labels[label], expected, "label {label}");
    }
}
