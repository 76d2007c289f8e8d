//! Where the control-plane binaries are: the versions pinned in
//! `tests/e2e/versions.env`, built by `tests/e2e/build-control-plane.sh` into
//! `$ESHOP_CACHE_DIR/control-plane/<component>-<version>/` (default
//! `~/.cache/eshop`). Both sides read the same file, so a version is pinned once.
//! The same script builds `eshop-judge` from `tests/e2e/judge`, keyed by a
//! digest of its sources that both sides compute.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::TestbedError;

const VERSIONS: &str = include_str!("../versions.env");

/// The judge's sources, in the order the build script hashes them.
const JUDGE_SOURCES: [&[u8]; 3] = [
    include_bytes!("../judge/go.mod"),
    include_bytes!("../judge/go.sum"),
    include_bytes!("../judge/main.go"),
];

/// The storage class that kwok's volume stages provision and bind.
pub(crate) const KWOK_STORAGE_CLASS: &str = "kwok-volume";

/// The located binaries and kwok stage files of one pinned control plane.
#[derive(Debug, Clone)]
pub(crate) struct ControlPlaneBuilds {
    kubernetes: PathBuf,
    etcd: PathBuf,
    kwok: PathBuf,
}

impl ControlPlaneBuilds {
    /// Finds the pinned builds in the cache, or says how to build them.
    pub(crate) fn locate() -> Result<Self, TestbedError> {
        let root = cache_dir().join("control-plane");
        let builds = Self {
            kubernetes: root.join(format!("kubernetes-{}", pinned("KUBERNETES_VERSION"))),
            etcd: root.join(format!("etcd-{}", pinned("ETCD_VERSION"))),
            kwok: root.join(format!("kwok-{}", pinned("KWOK_VERSION"))),
        };
        for binary in [
            builds.etcd(),
            builds.kubernetes_binary("kube-apiserver"),
            builds.kwok(),
        ] {
            if !binary.is_file() {
                return Err(TestbedError::NotBuilt { missing: binary });
            }
        }
        Ok(builds)
    }

    pub(crate) fn etcd(&self) -> PathBuf {
        self.etcd.join("etcd")
    }

    pub(crate) fn kwok(&self) -> PathBuf {
        self.kwok.join("kwok")
    }

    /// kube-apiserver, kube-controller-manager, kube-scheduler or kubectl.
    pub(crate) fn kubernetes_binary(&self, name: &str) -> PathBuf {
        self.kubernetes.join(name)
    }

    /// The directory holding kubectl, for a person's `PATH`.
    pub(crate) fn kubernetes_dir(&self) -> &Path {
        &self.kubernetes
    }

    /// The kwok stage files the testbed loads, from the same kwok release:
    /// nodes become Ready and keep a lease, pods become Ready and go away when
    /// deleted, and PVCs of [`KWOK_STORAGE_CLASS`] are provisioned and bound.
    pub(crate) fn kwok_stages(&self) -> Vec<PathBuf> {
        [
            "node/fast/node-initialize.yaml",
            "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
            "pod/fast/pod-ready.yaml",
            "pod/fast/pod-complete.yaml",
            "pod/fast/pod-delete.yaml",
            "volume/fast/pvc-provision.yaml",
            "volume/fast/pv-bind.yaml",
            "volume/fast/pvc-delete.yaml",
            "volume/fast/pv-delete.yaml",
        ]
        .into_iter()
        .map(|stage| self.kwok.join("stage").join(stage))
        .collect()
    }
}

/// `$ESHOP_CACHE_DIR`, or `~/.cache/eshop`: where every slow build is kept.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("ESHOP_CACHE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::home_dir()
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join(".cache/eshop"),
    }
}

/// `eshop-judge`, which says what kstatus (as Flux reads status) and Argo CD's
/// Lua health check make of an `EShop` (see `tests/e2e/judge/main.go`).
///
/// It is `$ESHOP_CACHE_DIR/control-plane/judge-<key>/eshop-judge`, where the
/// key is the first 12 hex digits of the sha256 of the judge's `go.mod`,
/// `go.sum` and `main.go`: after an edit of the judge, this path exists only
/// once `tests/e2e/build-control-plane.sh` has rebuilt it.
pub fn judge_binary() -> PathBuf {
    cache_dir()
        .join("control-plane")
        .join(format!("judge-{}", judge_key()))
        .join("eshop-judge")
}

/// What `build-control-plane.sh` computes with
/// `cat go.mod go.sum main.go | sha256sum | cut -c1-12`.
fn judge_key() -> String {
    let mut hasher = Sha256::new();
    for source in JUDGE_SOURCES {
        hasher.update(source);
    }
    hasher.finalize()[..6]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn pinned(name: &str) -> &'static str {
    VERSIONS
        .lines()
        .filter_map(|line| line.split_once('='))
        .find_map(|(key, value)| (key.trim() == name).then(|| value.trim()))
        .unwrap_or_else(|| panic!("tests/e2e/versions.env pins no {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_component_is_pinned_to_a_release() {
        for name in ["ETCD_VERSION", "KUBERNETES_VERSION", "KWOK_VERSION"] {
            let version = pinned(name);
            assert!(
                version.starts_with('v') && version.split('.').count() == 3,
                "{name}={version} is not a vMAJOR.MINOR.PATCH release"
            );
        }
    }

    #[test]
    fn the_judge_key_is_twelve_lowercase_hex_digits() {
        let key = judge_key();
        assert_eq!(key.len(), 12, "{key}");
        assert!(
            key.bytes()
                .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')),
            "{key} is not lowercase hexadecimal"
        );
    }
}
