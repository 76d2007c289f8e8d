//! The image, run: each service and the operator from the one image the
//! operator deploys, in containers that podman starts the way the
//! Deployments say (non-root, read-only root, every capability dropped,
//! host network), against the loopback PostgreSQL and Redis and the
//! testbed's control plane.
//!
//! The tests need the image: `tests/e2e/image build` makes it and
//! `ESHOP_TEST_IMAGE` names it. They are ignored in a plain `cargo test`;
//! `tests/run`'s image phase builds the image and runs them with
//! `--ignored`, unless the machine cannot run containers, which it then
//! says loudly.

mod cluster;
mod contents;
mod kubelet;
mod operator;
mod podman;
mod services;
mod shop;
