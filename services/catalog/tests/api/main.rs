//! Black-box tests of the catalog: each test runs the real service on port 0
//! and talks to it over HTTP, once on PostgreSQL and once on SQLite.

mod browsing;
mod errors;
mod helpers;
mod openapi;
mod operations;
mod readiness;
mod reservations;
