//! The shop as a whole: [`shop`] starts every service in one process,
//! [`up`] is `eshop up` on top of it, and [`invariants`] checks, across all
//! their stores, what must always hold.
//! The `eshop` binary (`src/main.rs`) runs one service or the whole shop.

pub mod invariants;
pub mod shop;
pub mod up;
