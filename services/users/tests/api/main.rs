//! Black-box tests of the users service: each test runs the real service on
//! port 0 and talks to it over HTTP, once on PostgreSQL and once on SQLite.

mod accounts;
mod addresses;
mod errors;
mod helpers;
mod openapi;
mod operations;
mod rate_limits;
