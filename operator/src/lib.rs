//! The eShop operator: reconciles `EShop` resources into running shops.
//!
//! - [`crd`]: the resource's types, from which the CRD is generated
//!   ([`crdgen`]);
//! - [`build`]: the desired children, as pure functions;
//! - [`reconcile`]: read, validate, build, apply, status;
//! - [`status`]: conditions and component counts;
//! - [`controller`]: the watches, caches and the kube-runtime `Controller`;
//! - [`leader`]: leader election through a Lease;
//! - [`metrics`] and [`server`]: `/metrics` and `/healthz`.
//!
//! Tests run [`controller::run`] in-process against a real control plane.

pub mod build;
pub mod controller;
pub mod crd;
pub mod crdgen;
pub mod leader;
pub mod metrics;
pub mod reconcile;
pub mod server;
pub mod status;
