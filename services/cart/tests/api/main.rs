//! Black-box tests of the cart: each test runs the real service on port 0,
//! next to a real catalog it checks products against, and talks to it over
//! HTTP, once on Redis (catalog on PostgreSQL) and once on SQLite.

mod access;
mod cart;
mod catalog_checks;
mod errors;
mod expiry;
mod helpers;
mod merge;
mod openapi;
mod operations;
