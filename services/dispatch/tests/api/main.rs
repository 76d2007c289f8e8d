//! Black-box tests of dispatch: each test runs the real service (on port 0)
//! on Redis and on SQLite, plays the orders service by publishing order
//! events on the shared bus, and watches what dispatch emits on the
//! dispatch stream and shows through its API.

mod cancellation;
mod crash;
mod endpoints;
mod faults;
mod helpers;
mod openapi;
mod readiness;
mod replicas;
mod retention;
mod shipping;
