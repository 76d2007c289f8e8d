//! The ratings service (being written).
