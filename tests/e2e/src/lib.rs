//! A real Kubernetes control plane for tests, without Docker.
//!
//! etcd, kube-apiserver, kube-controller-manager and kube-scheduler run as
//! local processes, built from the Go module proxy by
//! `tests/e2e/build-control-plane.sh`; kwok plays the nodes, so scheduled pods
//! become Running and Ready and PVCs of the `kwok-volume` storage class get
//! bound. The operator therefore meets a real API server, real admission, real
//! garbage collection and real workload controllers.
//!
//! Tests share one control plane per test binary and work in namespaces of
//! their own:
//!
//! ```no_run
//! # async fn example() {
//! use eshop_testbed::Testbed;
//!
//! let testbed = Testbed::shared().await;
//! let namespace = testbed.create_namespace("my-test").await;
//! let client = testbed.client();
//! # let _ = (namespace, client);
//! # }
//! ```
//!
//! People bring one up by hand with `tests/e2e/testbed up` (see the README).
//!
//! [`shopper`] is a customer of a running shop, through its public API: the
//! image tests and the kind end to end run (`tests/e2e/kind-e2e`) check out
//! with it.
//!
//! [`judge_binary`] locates `eshop-judge`, which says what kstatus and
//! Argo CD's Lua health check make of an `EShop`'s status.

mod builds;
mod error;
mod pki;
mod processes;
pub mod shopper;
mod testbed;
pub mod wait;

pub use builds::{cache_dir, judge_binary};
pub use error::TestbedError;
pub use testbed::Testbed;

/// The storage class whose PVCs kwok provisions and binds.
pub const STORAGE_CLASS: &str = builds::KWOK_STORAGE_CLASS;
