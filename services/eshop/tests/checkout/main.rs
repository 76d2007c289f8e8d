//! The whole shop, end to end: checkouts through every service on real
//! PostgreSQL and Redis and on the embedded backend, their failure paths,
//! concurrency, idempotency, and crashes of real processes. Every test ends
//! by checking the shop's invariants.

mod cards;
mod concurrency;
mod contracts;
mod crashes;
mod errors;
mod failures;
mod happy;
mod helpers;
mod retention;
