//! The users' values, validated once at the edge: an email, a password, a
//! name or an address that gets past these types holds nothing the stores
//! need to check again.

use eshop_platform::{error::ApiError, fields};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Longest email address, in characters (RFC 5321's path limit less `<>`).
pub const MAX_EMAIL_LENGTH: usize = 254;
/// Shortest and longest password, in characters.
pub const MIN_PASSWORD_LENGTH: usize = 8;
pub const MAX_PASSWORD_LENGTH: usize = 128;
/// Longest name of a user or of an address's recipient, in characters.
pub const MAX_NAME_LENGTH: usize = 80;
/// Most addresses one user keeps.
pub const MAX_ADDRESSES: usize = 10;
pub const MAX_LABEL_LENGTH: usize = 40;
pub const MAX_LINE_LENGTH: usize = 120;
pub const MAX_CITY_LENGTH: usize = 80;
pub const MAX_POSTAL_CODE_LENGTH: usize = 16;
pub const MAX_PHONE_LENGTH: usize = 32;

/// The current time to the microsecond, the precision both stores keep, so
/// what an answer shows is what a later read shows.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_microsecond(now.microsecond()).unwrap_or(now)
}

/// An email address, trimmed and lowercased: `Ada@Example.COM ` and
/// `ada@example.com` are the same account.
///
/// The syntax is the common, unquoted subset of RFC 5322 that mail services
/// actually hand out: a local part of up to 64 letters, digits and
/// ``.!#$%&'*+/=?^_`{|}~-`` (no leading, trailing or double dot), and a
/// domain of at least two dot-separated labels of letters, digits and inner
/// dashes, whose last label is not all digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[schema(value_type = String, format = Email, example = "ada@example.com")]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, text: &str) -> Result<Self, ApiError> {
        let email = text.trim().to_ascii_lowercase();
        if email.chars().count() > MAX_EMAIL_LENGTH {
            return Err(ApiError::invalid(
                field,
                format!("must be at most {MAX_EMAIL_LENGTH} characters"),
            ));
        }
        let valid = email
            .rsplit_once('@')
            .is_some_and(|(local, domain)| valid_local_part(local) && valid_domain(domain));
        if valid {
            Ok(Self(email))
        } else {
            Err(ApiError::invalid(
                field,
                "must be an email address like ada@example.com",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An email read back from a store, which only holds valid ones.
    pub(crate) fn from_store(email: String) -> Self {
        Self(email)
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn valid_local_part(local: &str) -> bool {
    (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&byte))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let valid_label = |label: &&str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    };
    domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(valid_label)
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().any(|byte| byte.is_ascii_alphabetic()))
}

/// A password as a client sends it. It is never trimmed, and never shown
/// in debug output or logs.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = Password)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(hidden)")
    }
}

impl Password {
    /// A password to set: 8 to 128 characters.
    pub fn check_new(&self, field: &str) -> Result<&str, ApiError> {
        let length = self.0.chars().count();
        if (MIN_PASSWORD_LENGTH..=MAX_PASSWORD_LENGTH).contains(&length) {
            Ok(&self.0)
        } else {
            Err(ApiError::invalid(
                field,
                format!(
                    "must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters, not {length}"
                ),
            ))
        }
    }

    /// The password in clear, for hashing once it has been checked.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A password to check against a stored one: anything from 1 to 128
    /// characters, since no longer one can ever have been set.
    pub fn check_presented(&self, field: &str) -> Result<&str, ApiError> {
        let length = self.0.chars().count();
        if (1..=MAX_PASSWORD_LENGTH).contains(&length) {
            Ok(&self.0)
        } else {
            Err(ApiError::invalid(
                field,
                format!("must be 1 to {MAX_PASSWORD_LENGTH} characters"),
            ))
        }
    }
}

#[cfg(test)]
impl Password {
    fn from_test(text: &str) -> Self {
        Self(text.to_owned())
    }
}

/// An optional free-text field: absent, `null` and blank all mean none.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => fields::line(field, value, max).map(Some),
    }
}

/// The officially assigned ISO 3166-1 alpha-2 country codes.
const COUNTRY_CODES: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// A country: an assigned ISO 3166-1 alpha-2 code, two capital letters.
pub fn country(field: &str, value: &str) -> Result<String, ApiError> {
    if COUNTRY_CODES.binary_search(&value).is_ok() {
        Ok(value.to_owned())
    } else {
        Err(ApiError::invalid(
            field,
            "must be an ISO 3166-1 alpha-2 country code of two capital letters, e.g. DE",
        ))
    }
}

/// A postal code: 1 to 16 letters, digits, spaces and dashes.
pub fn postal_code(field: &str, value: &str) -> Result<String, ApiError> {
    let value = fields::line(field, value, MAX_POSTAL_CODE_LENGTH)?;
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
    {
        Ok(value)
    } else {
        Err(ApiError::invalid(
            field,
            "must hold only letters, digits, spaces and dashes",
        ))
    }
}

/// A phone number: up to 32 characters of digits, spaces and `-().`, with
/// an optional leading `+`, holding 6 to 15 digits (E.164's most).
pub fn phone(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(value) = optional_text(field, value, MAX_PHONE_LENGTH)? else {
        return Ok(None);
    };
    let rest = value.strip_prefix('+').unwrap_or(&value);
    let digits = rest.chars().filter(char::is_ascii_digit).count();
    let valid = rest
        .chars()
        .all(|c| c.is_ascii_digit() || " -().".contains(c))
        && (6..=15).contains(&digits);
    if valid {
        Ok(Some(value))
    } else {
        Err(ApiError::invalid(
            field,
            "must be a phone number of 6 to 15 digits, e.g. +49 30 1234567",
        ))
    }
}

/// The body of `POST /v1/users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationInput {
    /// Trimmed and lowercased; at most 254 characters.
    #[schema(example = "ada@example.com", max_length = 254)]
    pub email: String,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub password: Password,
    /// 1 to 80 characters.
    #[schema(example = "Ada Lovelace", min_length = 1, max_length = 80)]
    pub name: String,
}

/// A registration that passed validation; the password is still in clear
/// (but hidden from debug output).
#[derive(Debug)]
pub struct Registration {
    pub email: Email,
    pub password: Password,
    pub name: String,
}

impl RegistrationInput {
    pub fn validate(self) -> Result<Registration, ApiError> {
        let email = Email::parse("email", &self.email)?;
        self.password.check_new("password")?;
        Ok(Registration {
            email,
            password: self.password,
            name: fields::line("name", &self.name, MAX_NAME_LENGTH)?,
        })
    }
}

/// The body of `POST /v1/sessions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    #[schema(example = "ada@example.com")]
    pub email: String,
    pub password: Password,
}

/// The body of `PATCH /v1/users/me`: fields left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// 1 to 80 characters.
    pub name: Option<String>,
}

/// The body of `PUT /v1/users/me/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: Password,
    /// 8 to 128 characters.
    pub new_password: Password,
}

/// A user as they see themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UserProfile {
    pub id: Uuid,
    pub email: Email,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// A user as other services see them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserSummary {
    pub id: Uuid,
    pub email: Email,
    pub name: String,
}

impl From<UserProfile> for UserSummary {
    fn from(profile: UserProfile) -> Self {
        Self {
            id: profile.id,
            email: profile.email,
            name: profile.name,
        }
    }
}

/// A new account, its password already hashed.
#[derive(Debug)]
pub struct NewUser {
    pub id: Uuid,
    pub email: Email,
    pub name: String,
    pub password_hash: String,
    pub created_at: OffsetDateTime,
}

/// A stored account: the profile and the password hash it logs in with.
#[derive(Debug)]
pub struct Account {
    pub profile: UserProfile,
    pub password_hash: String,
}

/// What a registration came to.
#[derive(Debug)]
pub enum CreateOutcome {
    Created(UserProfile),
    /// Another account has this email.
    EmailTaken,
}

/// A signed-in session: the bearer token and whose it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// An EdDSA JWT to send as `authorization: Bearer <token>`.
    pub token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// When the token stops being accepted.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    pub user: UserProfile,
}

/// The keys that verify users' tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicKeys {
    pub keys: Vec<PublicKey>,
}

/// One verification key.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicKey {
    /// The JWS algorithm: `EdDSA` (Ed25519).
    #[schema(example = "EdDSA")]
    pub alg: &'static str,
    /// What the key is for: `sig`, verifying signatures.
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    pub key_use: &'static str,
    /// The public key, PEM (SubjectPublicKeyInfo).
    pub public_key_pem: String,
}

/// The body of `POST /v1/users/me/addresses` and
/// `PUT /v1/users/me/addresses/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    /// A name for the address, e.g. `Home`; up to 40 characters.
    pub label: Option<String>,
    /// Who receives deliveries; 1 to 80 characters.
    pub name: String,
    /// 1 to 120 characters.
    pub line1: String,
    /// Up to 120 characters.
    pub line2: Option<String>,
    /// 1 to 80 characters.
    pub city: String,
    /// 1 to 16 letters, digits, spaces and dashes.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    #[schema(example = "DE", pattern = "^[A-Z]{2}$")]
    pub country: String,
    /// 6 to 15 digits, with spaces, `-().` and a leading `+` allowed.
    pub phone: Option<String>,
}

/// An address that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAddress {
    pub label: Option<String>,
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
    pub phone: Option<String>,
}

impl AddressInput {
    pub fn validate(self) -> Result<NewAddress, ApiError> {
        Ok(NewAddress {
            label: optional_text("label", self.label.as_deref(), MAX_LABEL_LENGTH)?,
            name: fields::line("name", &self.name, MAX_NAME_LENGTH)?,
            line1: fields::line("line1", &self.line1, MAX_LINE_LENGTH)?,
            line2: optional_text("line2", self.line2.as_deref(), MAX_LINE_LENGTH)?,
            city: fields::line("city", &self.city, MAX_CITY_LENGTH)?,
            postal_code: postal_code("postal_code", &self.postal_code)?,
            country: country("country", &self.country)?,
            phone: phone("phone", self.phone.as_deref())?,
        })
    }
}

/// One of a user's addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Address {
    pub id: Uuid,
    pub label: Option<String>,
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
    pub phone: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// What adding an address came to.
#[derive(Debug)]
pub enum AddAddressOutcome {
    Added(Box<Address>),
    /// The user already keeps [`MAX_ADDRESSES`].
    LimitReached,
    /// No account has this id.
    UnknownUser,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let email = Email::parse("email", "  Ada.Lovelace+shop@Example.CO.uk ").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace+shop@example.co.uk");
        for good in [
            "a@b.co",
            "o'brien@example.ie",
            "x_y-z@sub-domain.example.com",
            "user@xn--bcher-kva.example",
        ] {
            assert!(Email::parse("email", good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn malformed_emails_are_refused_naming_the_field() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_label = format!("a@{}.com", "b".repeat(64));
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "ada@exa mple.com",
            "ada lovelace@example.com",
            ".ada@example.com",
            "ada.@example.com",
            "ada..lovelace@example.com",
            "ada@-example.com",
            "ada@example-.com",
            "ada@example..com",
            "ada@example.com.",
            "ada@1.2.3.4",
            "ada@[127.0.0.1]",
            "\"ada\"@example.com",
            "adä@example.com",
            "ada@exämple.com",
            "ada\n@example.com",
            long_local.as_str(),
            long_label.as_str(),
        ] {
            let error = Email::parse("email", bad).unwrap_err();
            assert_eq!(error.field(), Some("email"), "{bad:?}");
        }
    }

    #[test]
    fn emails_longer_than_254_characters_are_refused() {
        let label = "d".repeat(63);
        let longest = format!("{}@{label}.{label}.{label}.ee.com", "a".repeat(55));
        assert_eq!(longest.len(), 254);
        assert!(Email::parse("email", &longest).is_ok());
        let too_long = format!("a{longest}");
        let error = Email::parse("email", &too_long).unwrap_err();
        assert!(error.message().contains("254"), "{}", error.message());
    }

    #[test]
    fn passwords_to_set_are_8_to_128_characters() {
        assert!(Password::from_test("12345678").check_new("p").is_ok());
        assert!(Password::from_test(&"é".repeat(128)).check_new("p").is_ok());
        for bad in ["1234567", &"x".repeat(129), ""] {
            let error = Password::from_test(bad).check_new("password").unwrap_err();
            assert_eq!(error.field(), Some("password"));
        }
        assert!(Password::from_test("short").check_presented("p").is_ok());
        assert!(Password::from_test("").check_presented("p").is_err());
        assert_eq!(
            format!("{:?}", Password::from_test("secret")),
            "Password(hidden)"
        );
    }

    #[test]
    fn text_is_trimmed_bounded_and_single_line() {
        assert_eq!(fields::line("name", "  Ada  ", 80).unwrap(), "Ada");
        assert!(fields::line("name", &"é".repeat(80), 80).is_ok());
        for bad in ["", "   ", "two\nlines", &"x".repeat(81)] {
            assert_eq!(
                fields::line("name", bad, 80).unwrap_err().field(),
                Some("name")
            );
        }
        assert_eq!(optional_text("label", Some("  "), 40).unwrap(), None);
        assert_eq!(optional_text("label", None, 40).unwrap(), None);
    }

    #[test]
    fn country_codes_are_the_assigned_ones_in_order() {
        assert!(COUNTRY_CODES.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(country("country", "DE").is_ok());
        for bad in ["de", "DEU", "XX", "", "D"] {
            assert_eq!(
                country("country", bad).unwrap_err().field(),
                Some("country")
            );
        }
    }

    #[test]
    fn postal_codes_and_phones_are_checked() {
        assert_eq!(postal_code("p", " SW1A 1AA ").unwrap(), "SW1A 1AA");
        assert!(postal_code("p", "10115").is_ok());
        assert!(postal_code("p", "10115;DROP").is_err());
        assert!(postal_code("p", &"1".repeat(17)).is_err());
        assert_eq!(
            phone("phone", Some("+49 (30) 123-4567"))
                .unwrap()
                .as_deref(),
            Some("+49 (30) 123-4567")
        );
        assert_eq!(phone("phone", Some(" ")).unwrap(), None);
        for bad in ["12345", "+1234567890123456", "call me", "49+301234567"] {
            assert_eq!(
                phone("phone", Some(bad)).unwrap_err().field(),
                Some("phone"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_address_names_its_first_bad_field() {
        let input = |country: &str, phone: Option<&str>| AddressInput {
            label: Some("Home".to_owned()),
            name: "Ada Lovelace".to_owned(),
            line1: "12 St James's Square".to_owned(),
            line2: None,
            city: "London".to_owned(),
            postal_code: "SW1Y 4JH".to_owned(),
            country: country.to_owned(),
            phone: phone.map(str::to_owned),
        };
        let address = input("GB", None).validate().unwrap();
        assert_eq!(address.label.as_deref(), Some("Home"));
        assert_eq!(
            input("gb", None).validate().unwrap_err().field(),
            Some("country")
        );
        assert_eq!(
            input("GB", Some("x")).validate().unwrap_err().field(),
            Some("phone")
        );
    }
}
