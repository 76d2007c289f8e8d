//! The simulated card network: which card numbers are valid and what the
//! bank behind each one answers.
//!
//! A card number is 16 digits (spaces are ignored) that pass the Luhn check.
//! A few numbers, mirroring well-known public test cards, always fail so
//! users can try the failure paths; every other valid number is approved.
//!
//! | number              | answer                                          |
//! |---------------------|-------------------------------------------------|
//! | 4242 4242 4242 4242 | approved                                        |
//! | 4000 0000 0000 0002 | declined: `card_declined` (402)                 |
//! | 4000 0000 0000 9995 | declined: `insufficient_funds` (402)            |
//! | 4000 0000 0000 0119 | the bank fails: `processing_error` (502)        |

use axum::http::StatusCode;
use eshop_platform::error::ApiError;

/// A card number: exactly 16 digits that pass the Luhn check.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

/// Only the last four digits are ever shown or logged.
impl std::fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardNumber(…{})", self.last4())
    }
}

impl CardNumber {
    /// The number without its spaces, or 422 naming `field`.
    pub fn parse(field: &str, text: &str) -> Result<Self, ApiError> {
        let digits: String = text.chars().filter(|c| *c != ' ').collect();
        let well_formed = digits.len() == 16 && digits.bytes().all(|byte| byte.is_ascii_digit());
        if !well_formed {
            return Err(ApiError::invalid(
                field,
                "a card number is 16 digits (spaces are ignored)",
            ));
        }
        if !luhn_valid(&digits) {
            return Err(ApiError::invalid(
                field,
                "this is not a valid card number (its check digit is wrong)",
            ));
        }
        Ok(Self(digits))
    }

    /// The digits, for fingerprinting a request; never stored or shown.
    pub(crate) fn digits(&self) -> &str {
        &self.0
    }

    /// The last four digits, which is all the wallet keeps of a card.
    pub fn last4(&self) -> &str {
        &self.0[12..]
    }

    /// What the card's bank answers when the card is charged.
    pub fn authorize(&self) -> Verdict {
        match self.0.as_str() {
            "4000000000000002" => Verdict::Declined(Decline::CardDeclined),
            "4000000000009995" => Verdict::Declined(Decline::InsufficientFunds),
            "4000000000000119" => Verdict::ProcessingError,
            _ => Verdict::Approved,
        }
    }
}

/// The Luhn (mod 10) check of a string of digits.
fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(position, byte)| {
            let digit = u32::from(byte - b'0');
            if position % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// What a card's bank answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    /// A final no: retrying will not help.
    Declined(Decline),
    /// The bank failed; nothing was charged and a retry may succeed.
    ProcessingError,
}

/// Why a bank declined a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decline {
    CardDeclined,
    InsufficientFunds,
}

impl Decline {
    /// 402 with the decline's code.
    pub fn error(self) -> ApiError {
        match self {
            Self::CardDeclined => ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "card_declined",
                "the card was declined by its bank",
            ),
            Self::InsufficientFunds => ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_funds",
                "the card's account does not hold enough money",
            ),
        }
    }
}

/// 502: the card's bank failed to answer; nothing was charged.
pub fn processing_error() -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "processing_error",
        "the card's bank could not process the payment; nothing was charged, try again",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_cards_are_valid_and_answer_as_documented() {
        let verdict = |number: &str| CardNumber::parse("card", number).unwrap().authorize();
        assert_eq!(verdict("4242424242424242"), Verdict::Approved);
        assert_eq!(verdict("4242 4242 4242 4242"), Verdict::Approved);
        assert_eq!(
            verdict("4000000000000002"),
            Verdict::Declined(Decline::CardDeclined)
        );
        assert_eq!(
            verdict("4000 0000 0000 9995"),
            Verdict::Declined(Decline::InsufficientFunds)
        );
        assert_eq!(verdict("4000000000000119"), Verdict::ProcessingError);
        assert_eq!(verdict("5555555555554444"), Verdict::Approved);
    }

    #[test]
    fn malformed_numbers_and_bad_check_digits_are_refused() {
        for bad in [
            "",
            "4242",
            "4242424242424241",
            "42424242424242424",
            "4242-4242-4242-4242",
            "424242424242424x",
            "４２４２424242424242",
        ] {
            let error = CardNumber::parse("card_number", bad).unwrap_err();
            assert_eq!(error.field(), Some("card_number"), "{bad:?}");
        }
    }

    #[test]
    fn only_the_last_four_digits_show() {
        let card = CardNumber::parse("card", "4242 4242 4242 4242").unwrap();
        assert_eq!(card.last4(), "4242");
        assert_eq!(format!("{card:?}"), "CardNumber(…4242)");
    }
}
