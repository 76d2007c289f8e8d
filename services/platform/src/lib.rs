//! What every eShop service shares, and nothing that belongs to one service.
//!
//! - [`settings`]: typed settings from environment variables, rendered back
//!   by the operator;
//! - [`server`]: the HTTP server with health, readiness, metrics, request
//!   ids, JSON logs, limits and graceful shutdown;
//! - [`error`] and [`extract`]: the one JSON error shape and extractors that
//!   reject bad requests in it; [`fields`]: free-text fields checked the
//!   same way everywhere; [`idempotency`]: the `Idempotency-Key` header;
//! - [`auth`]: the internal credential and users' JWTs, signed with the
//!   EdDSA-only crypto provider of [`jwt_crypto`];
//! - [`keys`]: the key pair of those JWTs and generated credentials;
//! - [`client`]: calls to other services with timeouts, retries and a
//!   circuit breaker;
//! - [`openapi`]: the security schemes of the OpenAPI documents;
//! - [`sku`]: the product identifier the services share;
//! - [`stores`]: PostgreSQL, SQLite and Redis connections and their
//!   preparation; [`housekeeping`]: the jobs that run every so often once
//!   they are prepared;
//! - [`events`] and [`outbox`]: the event bus (Redis Streams, or a shared
//!   SQLite file) and the transactional outbox that feeds it.

pub mod auth;
pub mod client;
pub mod error;
pub mod events;
pub mod extract;
pub mod fields;
pub mod health;
pub mod housekeeping;
pub mod idempotency;
pub mod jwt_crypto;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod outbox;
pub mod server;
pub mod settings;
pub mod shutdown;
pub mod sku;
pub mod stores;
pub mod telemetry;
