//! Black-box tests of the gateway: each test starts the whole shop on the
//! embedded backend (every service on its own loopback port) and a gateway
//! of its own in front of it, sometimes with a service made unreachable,
//! and talks to the gateway over HTTP as a browser or an API client would.

mod admin_port;
mod api;
mod helpers;
mod openapi;
mod resilience;
mod web;
