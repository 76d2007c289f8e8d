//! Payments' own checks. Checkouts need every other service, so their
//! black-box tests run against the whole shop in `services/eshop/tests/checkout`.

mod openapi;
