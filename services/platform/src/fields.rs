//! Free-text fields, checked the same way by every service, so that what
//! one service accepts the next never refuses: a value the checkout takes
//! is a value the order takes.

use crate::error::ApiError;

/// A one-line text (a name, an address line, a postal code): trimmed, 1 to
/// `max` characters, and no control characters (no line breaks, tabs or
/// NULs).
pub fn line(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    checked(field, value, max, |c| c.is_control())
}

/// A text of several lines (a product description): trimmed, 1 to `max`
/// characters; line breaks and tabs are fine, other control characters are
/// not.
pub fn paragraph(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    checked(field, value, max, |c| {
        c.is_control() && !matches!(c, '\n' | '\r' | '\t')
    })
}

fn checked(
    field: &str,
    value: &str,
    max: usize,
    forbidden: impl Fn(char) -> bool,
) -> Result<String, ApiError> {
    let value = value.trim();
    if value.chars().any(forbidden) {
        return Err(ApiError::invalid(
            field,
            "must not hold control characters such as line breaks, tabs or NUL",
        ));
    }
    match value.chars().count() {
        0 => Err(ApiError::invalid(field, "must not be empty")),
        n if n > max => Err(ApiError::invalid(
            field,
            format!("must be at most {max} characters"),
        )),
        _ => Ok(value.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(line("name", "  Ada  ", 80).unwrap(), "Ada");
        assert!(
            line("name", &"é".repeat(80), 80).is_ok(),
            "characters, not bytes"
        );
        for bad in [
            "",
            "   ",
            "Ada\nLovelace",
            "Ada\tL",
            "A\0da",
            "\u{7f}",
            &"a".repeat(81),
        ] {
            assert_eq!(
                line("name", bad, 80).unwrap_err().field(),
                Some("name"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_paragraph_keeps_its_line_breaks_but_no_other_control_character() {
        assert_eq!(
            paragraph("description", " One.\nTwo.\tThree. ", 100).unwrap(),
            "One.\nTwo.\tThree."
        );
        assert!(paragraph("description", "A\0B", 100).is_err());
        assert!(paragraph("description", "\u{1b}[31m", 100).is_err());
    }
}
