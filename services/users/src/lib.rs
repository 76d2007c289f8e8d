//! The users service (being written).
