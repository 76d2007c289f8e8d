//! Black-box tests of the wallet: each test runs the real service on port 0
//! and talks to it over HTTP, once on PostgreSQL and once on SQLite. Every
//! test that moves money ends by checking, through `GET /internal/ledger`,
//! that none was lost or invented.

mod charges;
mod errors;
mod helpers;
mod openapi;
mod refunds;
mod wallet;
