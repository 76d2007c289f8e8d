//! The cart service (being written).
