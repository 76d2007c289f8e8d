//! Black-box tests of shipping: each test runs the real service on port 0
//! and talks to it over HTTP, once on PostgreSQL and once on SQLite.

mod errors;
mod helpers;
mod openapi;
mod operations;
mod places;
mod quotes;
