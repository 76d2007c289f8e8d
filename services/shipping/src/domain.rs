//! Shipping's values, validated once at the edge: the requests of the API
//! crate (`eshop-shipping-api`, whose types are re-exported here) become
//! validated values that hold nothing the stores need to check again. Also
//! the search key that makes city search case- and accent-insensitive, and
//! the rule that decides what confirming a quote does.

use std::{fmt, str::FromStr};

use eshop_platform::error::ApiError;
pub use eshop_shipping_api::{
    City, CityId, CitySearchParams, ConfirmInput, Country, CountryCode, MAX_REFERENCE_CHARS, Quote,
    QuoteInput, QuoteStatus, Reference,
};
use time::OffsetDateTime;
use uuid::Uuid;

/// Longest city search, in characters.
pub const MAX_QUERY_CHARS: usize = 60;
/// Most cities one search returns, and how many without `limit`.
pub const MAX_SEARCH_LIMIT: u32 = 50;
pub const DEFAULT_SEARCH_LIMIT: u32 = 10;
/// Heaviest parcel, in grams.
pub const MAX_WEIGHT_GRAMS: u32 = 50_000;

/// A point on Earth in degrees: latitude -90 to 90 (north positive),
/// longitude -180 to 180 (east positive). Written `latitude,longitude`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
}

impl Coordinates {
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, String> {
        if !(-90.0..=90.0).contains(&latitude) {
            return Err(format!("latitude {latitude} is not between -90 and 90"));
        }
        if !(-180.0..=180.0).contains(&longitude) {
            return Err(format!("longitude {longitude} is not between -180 and 180"));
        }
        Ok(Self {
            latitude,
            longitude,
        })
    }
}

impl FromStr for Coordinates {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (latitude, longitude) = text.split_once(',').ok_or_else(|| {
            "expected `latitude,longitude` in degrees, e.g. `51.92,4.48`".to_owned()
        })?;
        let degrees = |what: &str, value: &str| {
            value
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("the {what} {:?} is not a number", value.trim()))
        };
        Self::new(
            degrees("latitude", latitude)?,
            degrees("longitude", longitude)?,
        )
    }
}

impl fmt::Display for Coordinates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.latitude, self.longitude)
    }
}

/// `text` as city search compares it: lowercase, accents and apostrophes
/// dropped, any other run of punctuation or spaces one space, trimmed. So
/// "São Paulo" is `sao paulo`, "St. John's" is `st johns`, "Łódź" is `lodz`.
pub fn search_key(text: &str) -> String {
    let mut key = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        if is_combining_mark(c) || matches!(c, '\'' | '\u{2019}' | '\u{02bc}' | '`') {
            continue;
        }
        let mut push = |part: &str| {
            if pending_space && !key.is_empty() {
                key.push(' ');
            }
            pending_space = false;
            key.push_str(part);
        };
        if let Some(base) = latin_base(c) {
            push(base);
        } else if c.is_alphanumeric() {
            push(c.encode_utf8(&mut [0; 4]));
        } else {
            pending_space = true;
        }
    }
    key
}

/// Combining diacritical marks, which decomposed text carries separately.
fn is_combining_mark(c: char) -> bool {
    ('\u{0300}'..='\u{036f}').contains(&c)
}

/// The plain letters of a lowercase Latin letter with a diacritic.
fn latin_base(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'ǎ' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' | 'ə' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' | 'ǐ' => "i",
        'ĳ' => "ij",
        'ĵ' => "j",
        'ķ' | 'ĸ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' | 'ǒ' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' | 'ſ' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' | 'ǔ' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// The smallest string greater than every string that starts with
/// `prefix`, so `key >= prefix AND key < bound` is a prefix match that an
/// index on `key` answers (with byte-wise collation, where UTF-8 order is
/// code point order).
fn prefix_upper_bound(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    // Only a prefix made of U+10FFFF alone gets here, and search keys never
    // hold it (it is not alphanumeric); nothing sorts after this.
    char::MAX.to_string().repeat(prefix.chars().count() + 1)
}

impl Coordinates {
    /// Where `city` is.
    pub fn of(city: &City) -> Self {
        Self {
            latitude: city.latitude,
            longitude: city.longitude,
        }
    }
}

/// The id of the city `name` in `country`, as the city data gets it.
pub fn city_id_of(country: &CountryCode, name: &str) -> Result<CityId, ApiError> {
    let id = format!(
        "{}-{}",
        country.as_str().to_ascii_lowercase(),
        search_key(name).replace(' ', "-")
    );
    CityId::parse("id", &id)
}

/// A validated city search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitySearch {
    /// The search key every matching city's key starts with.
    pub prefix: String,
    /// The smallest key past every match.
    pub upper_bound: String,
    pub country: Option<CountryCode>,
    pub limit: u32,
}

impl CitySearch {
    /// The search `params` ask for, once they are valid.
    pub fn validate(params: &CitySearchParams) -> Result<Self, ApiError> {
        let q = params.q.trim();
        let length = q.chars().count();
        if length == 0 || length > MAX_QUERY_CHARS {
            return Err(ApiError::invalid(
                "q",
                format!("must be 1 to {MAX_QUERY_CHARS} characters"),
            ));
        }
        let prefix = search_key(q);
        if prefix.is_empty() {
            return Err(ApiError::invalid("q", "must hold a letter or a digit"));
        }
        let limit = params.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
        if !(1..=MAX_SEARCH_LIMIT).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                format!("must be between 1 and {MAX_SEARCH_LIMIT}"),
            ));
        }
        Ok(Self {
            upper_bound: prefix_upper_bound(&prefix),
            prefix,
            country: params
                .country
                .as_deref()
                .map(|code| CountryCode::parse("country", code))
                .transpose()?,
            limit,
        })
    }
}

/// Where a quote asked for by `input` goes and what it weighs, once valid.
pub fn quote_request(input: &QuoteInput) -> Result<(CityId, u32), ApiError> {
    let city = CityId::parse("city_id", &input.city_id)?;
    if !(1..=MAX_WEIGHT_GRAMS).contains(&input.weight_grams) {
        return Err(ApiError::invalid(
            "weight_grams",
            format!("must be between 1 and {MAX_WEIGHT_GRAMS}"),
        ));
    }
    Ok((city, input.weight_grams))
}

/// A confirmation: for what, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub reference: Reference,
    pub confirmed_at: OffsetDateTime,
}

/// A quote as the stores keep it; its status depends on the time of asking.
#[derive(Debug, Clone, PartialEq)]
pub struct QuoteRecord {
    pub id: Uuid,
    pub city: City,
    pub distance_km: f64,
    pub weight_grams: u32,
    pub cost_cents: i64,
    pub estimated_days: u32,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub confirmation: Option<Confirmation>,
}

/// What confirming a quote with a reference comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmDecision {
    /// Open: it becomes confirmed.
    Confirm,
    /// Already confirmed with this reference: the same answer again.
    Repeat,
    /// Already confirmed with another reference.
    OtherReference,
    /// Not confirmed in time.
    Expired,
}

impl QuoteRecord {
    pub fn status(&self, now: OffsetDateTime) -> QuoteStatus {
        match self.confirmation {
            Some(_) => QuoteStatus::Confirmed,
            None if now >= self.expires_at => QuoteStatus::Expired,
            None => QuoteStatus::Open,
        }
    }

    /// What confirming it for `reference` at `now` does. Both stores call
    /// this under the quote's lock and write only on [`ConfirmDecision::Confirm`].
    pub fn decide(&self, reference: &Reference, now: OffsetDateTime) -> ConfirmDecision {
        match &self.confirmation {
            Some(confirmation) if confirmation.reference == *reference => ConfirmDecision::Repeat,
            Some(_) => ConfirmDecision::OtherReference,
            None if now >= self.expires_at => ConfirmDecision::Expired,
            None => ConfirmDecision::Confirm,
        }
    }

    /// The quote as the API shows it at `now`.
    pub fn view(self, now: OffsetDateTime) -> Quote {
        let status = self.status(now);
        let (reference, confirmed_at) = match self.confirmation {
            Some(confirmation) => (
                Some(confirmation.reference),
                Some(confirmation.confirmed_at),
            ),
            None => (None, None),
        };
        Quote {
            id: self.id,
            city: self.city,
            distance_km: self.distance_km,
            weight_grams: self.weight_grams,
            cost_cents: self.cost_cents,
            estimated_days: self.estimated_days,
            status,
            reference,
            created_at: self.created_at,
            expires_at: self.expires_at,
            confirmed_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;

    #[test]
    fn search_keys_ignore_case_accents_and_punctuation() {
        for (text, key) in [
            ("São Paulo", "sao paulo"),
            ("ZÜRICH", "zurich"),
            ("Zu\u{308}rich", "zurich"),
            ("İzmir", "izmir"),
            ("Łódź", "lodz"),
            ("St. John's", "st johns"),
            ("Xi'an", "xian"),
            ("Saint-Étienne", "saint etienne"),
            ("  Straße  am   See ", "strasse am see"),
            ("Ürümqi", "urumqi"),
            ("Timișoara", "timisoara"),
            ("東京", "東京"),
            ("--", ""),
        ] {
            assert_eq!(search_key(text), key, "{text:?}");
        }
    }

    #[test]
    fn the_upper_bound_is_just_past_every_match() {
        assert_eq!(prefix_upper_bound("par"), "pas");
        assert_eq!(prefix_upper_bound("a z"), "a {");
        let bound = prefix_upper_bound("sao");
        for key in ["sao", "sao paulo", "saozzzz", "sao\u{10ffff}"] {
            assert!(key >= "sao" && key < bound.as_str(), "{key}");
        }
        assert!("sap" >= bound.as_str());
        assert_eq!(prefix_upper_bound("a\u{d7ff}"), "a\u{e000}");
        assert_eq!(prefix_upper_bound("a\u{10ffff}"), "b");
    }

    #[test]
    fn city_ids_come_from_country_and_name() {
        let code = |code| CountryCode::parse("country", code).unwrap();
        assert_eq!(
            city_id_of(&code("BR"), "São Paulo").unwrap().as_str(),
            "br-sao-paulo"
        );
        assert_eq!(
            city_id_of(&code("CA"), "St. John's").unwrap().as_str(),
            "ca-st-johns"
        );
        assert!(city_id_of(&code("JP"), "東京").is_err());
        for bad in ["", "NL-ROTTERDAM", "nl rotterdam", &"a".repeat(65)] {
            assert_eq!(
                CityId::parse("city_id", bad).unwrap_err().field(),
                Some("city_id")
            );
        }
        for bad in ["nl", "NLD", "N1", ""] {
            assert!(CountryCode::parse("country", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn coordinates_parse_check_their_range_and_print_back() {
        let rotterdam: Coordinates = " 51.92 , 4.48 ".parse().unwrap();
        assert_eq!(rotterdam, Coordinates::new(51.92, 4.48).unwrap());
        assert_eq!(rotterdam.to_string(), "51.92,4.48");
        assert_eq!(
            rotterdam.to_string().parse::<Coordinates>().unwrap(),
            rotterdam
        );
        for bad in ["51.92", "91,0", "0,181", "north,east", "NaN,0", ",", ""] {
            assert!(bad.parse::<Coordinates>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn searches_are_bounded() {
        let params = |q: &str, country: Option<&str>, limit: Option<u32>| CitySearchParams {
            q: q.to_owned(),
            country: country.map(str::to_owned),
            limit,
        };
        let search = CitySearch::validate(&params(" São ", Some("BR"), None)).unwrap();
        assert_eq!(
            (search.prefix.as_str(), search.limit),
            ("sao", DEFAULT_SEARCH_LIMIT)
        );
        assert_eq!(search.country.unwrap().as_str(), "BR");
        let field = |params: CitySearchParams| {
            CitySearch::validate(&params)
                .unwrap_err()
                .field()
                .map(str::to_owned)
        };
        assert_eq!(field(params("", None, None)).as_deref(), Some("q"));
        assert_eq!(field(params("...", None, None)).as_deref(), Some("q"));
        assert_eq!(
            field(params(&"a".repeat(61), None, None)).as_deref(),
            Some("q")
        );
        assert!(CitySearch::validate(&params(&"é".repeat(60), None, None)).is_ok());
        assert_eq!(field(params("a", None, Some(0))).as_deref(), Some("limit"));
        assert_eq!(field(params("a", None, Some(51))).as_deref(), Some("limit"));
        assert_eq!(
            field(params("a", Some("fr"), None)).as_deref(),
            Some("country")
        );
    }

    #[test]
    fn references_are_trimmed_and_bounded() {
        assert_eq!(
            Reference::parse("reference", "  order-1 ")
                .unwrap()
                .as_str(),
            "order-1"
        );
        for bad in ["", "   ", "a\nb", &"x".repeat(101)] {
            assert_eq!(
                Reference::parse("reference", bad).unwrap_err().field(),
                Some("reference")
            );
        }
    }

    fn record(expires_in: Duration, confirmed_for: Option<&str>) -> (QuoteRecord, OffsetDateTime) {
        let now = OffsetDateTime::now_utc();
        let record = QuoteRecord {
            id: Uuid::new_v4(),
            city: City {
                id: CityId::from_store("fr-paris".to_owned()),
                name: "Paris".to_owned(),
                country_code: CountryCode::from_store("FR".to_owned()),
                country_name: "France".to_owned(),
                latitude: 48.8566,
                longitude: 2.3522,
            },
            distance_km: 372.5,
            weight_grams: 1000,
            cost_cents: 799,
            estimated_days: 2,
            created_at: now,
            expires_at: now + expires_in,
            confirmation: confirmed_for.map(|reference| Confirmation {
                reference: Reference::from_store(reference.to_owned()),
                confirmed_at: now,
            }),
        };
        (record, now)
    }

    #[test]
    fn confirming_decides_by_status_and_reference() {
        let order = Reference::from_store("order-1".to_owned());
        let (open, now) = record(Duration::minutes(30), None);
        assert_eq!(open.status(now), QuoteStatus::Open);
        assert_eq!(open.decide(&order, now), ConfirmDecision::Confirm);

        let (expired, now) = record(Duration::ZERO, None);
        assert_eq!(expired.status(now), QuoteStatus::Expired);
        assert_eq!(expired.decide(&order, now), ConfirmDecision::Expired);

        // Confirmed stays confirmed after the quote's time is up.
        let (confirmed, now) = record(-Duration::minutes(1), Some("order-1"));
        assert_eq!(confirmed.status(now), QuoteStatus::Confirmed);
        assert_eq!(confirmed.decide(&order, now), ConfirmDecision::Repeat);
        let other = Reference::from_store("order-2".to_owned());
        assert_eq!(
            confirmed.decide(&other, now),
            ConfirmDecision::OtherReference
        );
        let view = confirmed.view(now);
        assert_eq!(view.reference, Some(order));
        assert!(view.confirmed_at.is_some());
    }
}
