//! Black-box tests of the orders service: each test runs the real service
//! on port 0 and talks to it over HTTP and over its event bus, once on
//! PostgreSQL with Redis Streams and once on SQLite with the SQLite bus.

mod errors;
mod events;
mod helpers;
mod invoice;
mod lifecycle;
mod openapi;
mod operations;
mod orders;
