//! The ratings service's values, validated once at the edge: stars, review
//! texts, SKUs, list limits. A request that gets past these types holds
//! nothing the stores need to check again.

use eshop_platform::error::ApiError;
pub use eshop_platform::sku::Sku;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

/// Longest review, in characters, after trimming.
pub const MAX_REVIEW_LENGTH: usize = 500;
/// Most products one summaries request asks about.
pub const MAX_SKUS: usize = 100;
/// Reviews listed unless the caller asks for another number, and the most.
pub const DEFAULT_REVIEWS: u32 = 10;
pub const MAX_REVIEWS: u32 = 50;

/// One to five stars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[schema(value_type = u8, minimum = 1, maximum = 5, example = 4)]
pub struct Stars(u8);

impl Stars {
    /// `value` if it is 1 to 5.
    pub fn new(value: i64) -> Option<Self> {
        u8::try_from(value)
            .ok()
            .filter(|stars| (1..=5).contains(stars))
            .map(Self)
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// A rating as it is stored and shown to its author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Rating {
    pub sku: Sku,
    pub stars: Stars,
    /// The review text, if the user wrote one.
    #[schema(required = true)]
    pub review: Option<String>,
    /// The user's display name when they rated.
    pub author: String,
    /// When the user last rated the product, to the millisecond.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub rated_at: OffsetDateTime,
}

/// What storing a rating came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The user had not rated the product.
    Created,
    /// The user's previous rating was replaced.
    Replaced,
}

/// The body of `PUT /v1/products/{sku}/rating`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingInput {
    #[schema(minimum = 1, maximum = 5, example = 4)]
    pub stars: i64,
    /// Up to 500 characters; blank or missing means no review.
    #[serde(default)]
    #[schema(max_length = 500, example = "Sturdy, and the battery lasts all day.")]
    pub review: Option<String>,
}

/// A validated rating, before it is given its product, author and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRating {
    pub stars: Stars,
    pub review: Option<String>,
}

impl RatingInput {
    pub fn validate(self) -> Result<NewRating, ApiError> {
        let stars = Stars::new(self.stars)
            .ok_or_else(|| ApiError::invalid("stars", "must be between 1 and 5"))?;
        let review = match self.review.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) if text.chars().count() > MAX_REVIEW_LENGTH => {
                return Err(ApiError::invalid(
                    "review",
                    format!("must be at most {MAX_REVIEW_LENGTH} characters"),
                ));
            }
            Some(text)
                if text
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
            {
                return Err(ApiError::invalid(
                    "review",
                    "must not contain control characters other than line breaks and tabs",
                ));
            }
            Some(text) => Some(text.to_owned()),
        };
        Ok(NewRating { stars, review })
    }
}

/// A review as anyone may read it: no user id, only the display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Review {
    pub author: String,
    pub stars: Stars,
    pub review: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub rated_at: OffsetDateTime,
}

/// A product's running totals, as the stores keep them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// All stars given, added up.
    pub sum: i64,
    /// Ratings given.
    pub count: i64,
}

/// How a product is rated.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Summary {
    pub sku: Sku,
    /// Mean stars, rounded to one decimal (halves up); null when unrated.
    #[schema(required = true, example = 4.3)]
    pub average: Option<f64>,
    /// Ratings given.
    #[schema(example = 12)]
    pub count: u64,
}

impl Summary {
    pub fn new(sku: Sku, tally: Tally) -> Self {
        let count = u64::try_from(tally.count).unwrap_or(0);
        let average = (count > 0).then(|| {
            // Tenths, rounded half up, in integers: sum * 10 / count + 1/2.
            let tenths = (tally.sum * 20 + tally.count) / (tally.count * 2);
            tenths as f64 / 10.0
        });
        Self {
            sku,
            average,
            count,
        }
    }
}

/// The query string of `GET /v1/ratings`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SummariesParams {
    /// Comma-separated SKUs, 1 to 100, e.g. `ROBOT-ARM-2,DRONE-MINI-1`.
    #[param(min_length = 1, example = "ROBOT-ARM-2,DRONE-MINI-1")]
    pub skus: String,
}

impl SummariesParams {
    /// The SKUs in the order asked, each once.
    pub fn validate(&self) -> Result<Vec<Sku>, ApiError> {
        let mut skus: Vec<Sku> = Vec::new();
        for text in self.skus.split(',') {
            let sku = Sku::parse("skus", text.trim()).map_err(|_| {
                ApiError::invalid(
                    "skus",
                    format!("{text:?} is not a SKU (1 to 32 capital letters, digits and dashes)"),
                )
            })?;
            if !skus.contains(&sku) {
                skus.push(sku);
            }
            if skus.len() > MAX_SKUS {
                return Err(ApiError::invalid(
                    "skus",
                    format!("must list at most {MAX_SKUS} SKUs"),
                ));
            }
        }
        Ok(skus)
    }
}

/// The query string of `GET /v1/products/{sku}/reviews`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReviewsParams {
    /// Reviews to list, 1 to 50 (default 10).
    #[param(minimum = 1, maximum = 50, default = 10)]
    pub limit: Option<u32>,
}

impl ReviewsParams {
    pub fn validate(&self) -> Result<u32, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_REVIEWS);
        if (1..=MAX_REVIEWS).contains(&limit) {
            Ok(limit)
        } else {
            Err(ApiError::invalid(
                "limit",
                format!("must be between 1 and {MAX_REVIEWS}"),
            ))
        }
    }
}

/// Now, to the millisecond: the precision both stores keep.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_millisecond(now.millisecond()).unwrap_or(now)
}

/// Milliseconds since the epoch, as the stores keep times.
pub fn to_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The time `millis` after the epoch, if it is one `time` can hold.
pub fn from_millis(millis: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(stars: i64, review: Option<&str>) -> RatingInput {
        RatingInput {
            stars,
            review: review.map(str::to_owned),
        }
    }

    #[test]
    fn stars_are_one_to_five() {
        for stars in 1..=5 {
            assert!(input(stars, None).validate().is_ok());
        }
        for stars in [0, 6, -1, 256, i64::MAX] {
            let error = input(stars, None).validate().unwrap_err();
            assert_eq!(error.field(), Some("stars"), "{stars}");
        }
    }

    #[test]
    fn reviews_are_trimmed_bounded_and_blank_means_none() {
        let rating = input(4, Some("  Good.  ")).validate().unwrap();
        assert_eq!(rating.review.as_deref(), Some("Good."));
        assert_eq!(input(4, Some(" \n ")).validate().unwrap().review, None);
        let longest = format!("  {}  ", "é".repeat(MAX_REVIEW_LENGTH));
        assert!(input(4, Some(&longest)).validate().is_ok());
        let too_long = "x".repeat(MAX_REVIEW_LENGTH + 1);
        assert_eq!(
            input(4, Some(&too_long)).validate().unwrap_err().field(),
            Some("review")
        );
        assert!(input(4, Some("two\nlines")).validate().is_ok());
        assert_eq!(
            input(4, Some("bell\u{7}")).validate().unwrap_err().field(),
            Some("review")
        );
    }

    #[test]
    fn averages_have_one_decimal_rounded_half_up() {
        let sku = Sku::parse("sku", "A-1").unwrap();
        let average = |sum, count| Summary::new(sku.clone(), Tally { sum, count }).average;
        assert_eq!(average(0, 0), None);
        assert_eq!(average(8, 2), Some(4.0));
        assert_eq!(average(13, 3), Some(4.3));
        assert_eq!(average(14, 3), Some(4.7));
        assert_eq!(average(7, 4), Some(1.8));
        assert_eq!(average(5, 1), Some(5.0));
    }

    #[test]
    fn summaries_take_up_to_a_hundred_distinct_skus_in_order() {
        let params = |skus: String| SummariesParams { skus };
        let skus = params("B-1, A-1,B-1".to_owned()).validate().unwrap();
        let skus: Vec<&str> = skus.iter().map(Sku::as_str).collect();
        assert_eq!(skus, ["B-1", "A-1"]);
        for bad in ["", "A-1,", "a-1", "A-1,,B-1"] {
            let error = params(bad.to_owned()).validate().unwrap_err();
            assert_eq!(error.field(), Some("skus"), "{bad:?}");
        }
        let hundred: Vec<String> = (0..100).map(|n| format!("P-{n}")).collect();
        assert_eq!(params(hundred.join(",")).validate().unwrap().len(), 100);
        let too_many: Vec<String> = (0..101).map(|n| format!("P-{n}")).collect();
        assert_eq!(
            params(too_many.join(",")).validate().unwrap_err().field(),
            Some("skus")
        );
    }

    #[test]
    fn review_limits_default_and_bound() {
        assert_eq!(ReviewsParams::default().validate().unwrap(), 10);
        for (limit, ok) in [(1, true), (50, true), (0, false), (51, false)] {
            let params = ReviewsParams { limit: Some(limit) };
            assert_eq!(params.validate().is_ok(), ok, "{limit}");
        }
    }

    #[test]
    fn times_keep_milliseconds() {
        let at = now();
        assert_eq!(from_millis(to_millis(at)), Some(at));
    }
}
