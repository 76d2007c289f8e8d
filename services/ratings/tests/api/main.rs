//! Black-box tests of the ratings service: each test runs the real service
//! on port 0, beside a real catalog, and talks to it over HTTP, once on
//! Redis (with the catalog on PostgreSQL) and once on SQLite.

mod access;
mod concurrency;
mod errors;
mod helpers;
mod openapi;
mod operations;
mod rating;
mod summaries;
