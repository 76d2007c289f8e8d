//! The eShop operator: reconciles `EShop` resources into running shops.
//!
//! - [`crd`]: the resource's types, from which the CRD is generated
//!   ([`crdgen`]);
//! - [`build`]: the desired children, as pure functions;
//! - [`reconcile`]: the pipeline of one reconcile: read, check, build,
//!   apply, status;
//! - [`apply`]: writing the children, compared by [`compare`];
//! - [`credentials`] and [`storage`]: the generated Secrets and the
//!   volumes, and how they stay together;
//! - [`status`]: conditions and component counts;
//! - [`controller`] and [`watches`]: the kube-runtime `Controller`, the
//!   watches and their caches;
//! - [`leader`]: leader election through a Lease, and the fence that stops
//!   a former leader's writes;
//! - [`metrics`] and [`server`]: `/metrics` and `/healthz`.
//!
//! Tests run [`controller::run`] in-process against a real control plane.

pub mod apply;
pub mod build;
pub mod compare;
pub mod controller;
pub mod crd;
pub mod crdgen;
pub mod credentials;
pub mod leader;
pub mod metrics;
pub mod reconcile;
pub mod server;
pub mod status;
pub mod storage;
pub mod watches;
