//! The patterns and CEL rules of the CRD's admission checks, in one place.
//!
//! Patterns are RE2 syntax, which both OpenAPI `pattern` and CEL's
//! `matches` use in the API server. [`matches`] quotes a pattern into a CEL
//! string literal, whose backslashes are escapes of their own.

/// A DNS-1123 subdomain: what names most objects (Secrets, StorageClasses,
/// IngressClasses) and host names.
pub const DNS_SUBDOMAIN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// A DNS-1035 label: what a Service's name must be, so the shop's name too.
pub const DNS_LABEL: &str = r"^[a-z]([-a-z0-9]*[a-z0-9])?$";

/// A key of a Secret's data.
pub const SECRET_KEY: &str = r"^[-._a-zA-Z0-9]+$";

/// One path component of an image repository.
macro_rules! component {
    () => {
        r"[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*"
    };
}

/// An image repository without tag or digest, with an optional registry
/// port: `ghcr.io/eshop-operator/eshop`, `localhost:5000/eshop`.
pub const REPOSITORY: &str = concat!("^", component!(), r"(:[0-9]+)?(/", component!(), ")*$");

/// An image tag.
pub const TAG: &str = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$";

/// A whole image reference: a repository with an optional tag and digest.
pub const IMAGE: &str = concat!(
    "^",
    component!(),
    r"(:[0-9]+)?(/",
    component!(),
    r")*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
);

/// A quantity, as Kubernetes writes the pattern of its own quantities.
pub const QUANTITY: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

/// Every value of a map of quantities (integers or quantity strings) is at
/// least zero.
pub const NON_NEGATIVE_QUANTITIES: &str = "self.all(name, type(self[name]) == int ? self[name] >= 0 : (isQuantity(string(self[name])) && quantity(string(self[name])).compareTo(quantity('0')) >= 0))";

/// No request is above the limit of the same resource.
pub const REQUESTS_WITHIN_LIMITS: &str = "!has(self.requests) || !has(self.limits) || self.requests.all(name, !(name in self.limits) || !isQuantity(string(self.requests[name])) || !isQuantity(string(self.limits[name])) || quantity(string(self.requests[name])).compareTo(quantity(string(self.limits[name]))) <= 0)";

/// The CEL rule that `self` matches `pattern`.
pub fn matches(pattern: &str) -> String {
    matches_at("self", pattern)
}

/// The CEL rule that the string `expression` matches `pattern`.
pub fn matches_at(expression: &str, pattern: &str) -> String {
    format!("{expression}.matches('{}')", pattern.replace('\\', "\\\\"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_quoted_for_cel() {
        assert_eq!(
            matches(r"^a\.b$"),
            r"self.matches('^a\\.b$')",
            "a CEL string literal reads \\\\ as one backslash"
        );
    }
}
