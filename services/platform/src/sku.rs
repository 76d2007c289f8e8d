//! The stock-keeping unit, as the catalog defines them and every service
//! that names products (cart, ratings, the gateway) checks them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// The longest SKU.
const MAX_LENGTH: usize = 32;

/// A stock-keeping unit: 1 to 32 capital letters, digits and dashes,
/// e.g. `ROBOT-ARM-2`.
// Read from JSON (an answer from the catalog), it is checked like any
// other input.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String")]
#[schema(value_type = String, example = "ROBOT-ARM-2", pattern = "^[A-Z0-9-]{1,32}$")]
pub struct Sku(String);

impl Sku {
    /// Whether `text` is a SKU (so it is also safe in a URL path).
    pub fn is_valid(text: &str) -> bool {
        (1..=MAX_LENGTH).contains(&text.len())
            && text
                .bytes()
                .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'-')
    }

    /// `text` as a SKU, or an error naming `field`.
    pub fn parse(field: &str, text: &str) -> Result<Self, ApiError> {
        if Self::is_valid(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ApiError::invalid(
                field,
                "a SKU is 1 to 32 capital letters, digits and dashes",
            ))
        }
    }

    /// A SKU read back from a store, which only holds valid ones.
    pub fn from_store(sku: String) -> Self {
        Self(sku)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sku {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse("sku", &text).map_err(|error| error.to_string())
    }
}

impl std::fmt::Display for Sku {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_short_capitals_digits_and_dashes() {
        assert_eq!(
            Sku::parse("sku", "ROBOT-ARM-2").unwrap().as_str(),
            "ROBOT-ARM-2"
        );
        for bad in [
            "",
            "robot",
            "ROBOT ARM",
            "ROBOT/ARM",
            "A?x=1",
            "../X",
            &"A".repeat(33),
        ] {
            assert!(!Sku::is_valid(bad), "{bad}");
            assert_eq!(
                Sku::parse("sku", bad).unwrap_err().field(),
                Some("sku"),
                "{bad}"
            );
        }
    }
}
