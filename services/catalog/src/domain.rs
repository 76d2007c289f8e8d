//! The catalog's values, validated once at the edge: a request that gets past
//! these types holds nothing the stores need to check again.

pub use eshop_platform::sku::Sku;
use eshop_platform::{error::ApiError, fields};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Most products one page lists.
pub const MAX_PAGE_SIZE: u32 = 100;
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Longest search query, in characters.
pub const MAX_QUERY_LENGTH: usize = 100;
/// Most lines one reservation holds, and most units of one line.
pub const MAX_RESERVATION_LINES: usize = 50;
pub const MAX_LINE_QUANTITY: u32 = 1_000;
/// Highest price, in cents, and most units in stock.
pub const MAX_PRICE_CENTS: i64 = 10_000_000;
pub const MAX_STOCK: i64 = 1_000_000;
/// Heaviest product, in grams.
pub const MAX_WEIGHT_GRAMS: i64 = 100_000;

/// A category's slug: 1 to 32 lowercase letters, digits and dashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(value_type = String, example = "robots")]
pub struct Slug(String);

impl Slug {
    pub fn parse(field: &str, text: &str) -> Result<Self, ApiError> {
        let valid = !text.is_empty()
            && text.len() <= 32
            && text
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(ApiError::invalid(
                field,
                "a category is 1 to 32 lowercase letters, digits and dashes",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A slug read back from a store, which only holds valid ones.
    pub(crate) fn from_store(slug: String) -> Self {
        Self(slug)
    }
}

/// A category of products.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Category {
    pub slug: Slug,
    pub name: String,
    pub description: String,
    /// Products in the category.
    pub product_count: i64,
}

/// A product as the catalog shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Product {
    pub sku: Sku,
    pub name: String,
    pub description: String,
    /// Price in cents.
    pub price_cents: i64,
    pub category: Slug,
    /// Where its image is, relative to the catalog.
    pub image_url: String,
    /// Units that can be ordered now (held reservations excluded).
    pub stock: i64,
    /// Shipping weight of one unit, in grams.
    pub weight_grams: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// A product to create or replace.
#[derive(Debug, Clone)]
pub struct NewProduct {
    pub sku: Sku,
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub category: Slug,
    pub stock: i64,
    pub weight_grams: i64,
}

/// The body of `PUT /internal/products/{sku}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub category: String,
    pub stock: i64,
    /// Shipping weight of one unit, in grams.
    pub weight_grams: i64,
}

impl ProductInput {
    pub fn validate(self, sku: &str) -> Result<NewProduct, ApiError> {
        if !(1..=MAX_PRICE_CENTS).contains(&self.price_cents) {
            return Err(ApiError::invalid(
                "price_cents",
                format!("must be between 1 and {MAX_PRICE_CENTS}"),
            ));
        }
        if !(0..=MAX_STOCK).contains(&self.stock) {
            return Err(ApiError::invalid(
                "stock",
                format!("must be between 0 and {MAX_STOCK}"),
            ));
        }
        if !(1..=MAX_WEIGHT_GRAMS).contains(&self.weight_grams) {
            return Err(ApiError::invalid(
                "weight_grams",
                format!("must be between 1 and {MAX_WEIGHT_GRAMS}"),
            ));
        }
        Ok(NewProduct {
            sku: Sku::parse("sku", sku)?,
            name: fields::line("name", &self.name, 120)?,
            description: fields::paragraph("description", &self.description, 2000)?,
            price_cents: self.price_cents,
            category: Slug::parse("category", &self.category)?,
            stock: self.stock,
            weight_grams: self.weight_grams,
        })
    }
}

/// The body of `PUT /internal/categories/{slug}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    pub name: String,
    pub description: String,
}

/// How a product list is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// By name, A to Z (the default without a search).
    #[default]
    Name,
    /// Cheapest first.
    Price,
    /// Dearest first.
    PriceDesc,
    /// Most recently added first.
    Newest,
    /// Best match first (the default with a search).
    Relevance,
}

/// The query string of `GET /v1/products`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only products of this category.
    pub category: Option<String>,
    /// Full-text search in names and descriptions.
    pub q: Option<String>,
    /// Order of the list.
    pub sort: Option<Sort>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Products per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

/// A validated product query.
#[derive(Debug, Clone)]
pub struct ProductQuery {
    pub category: Option<Slug>,
    pub search: Option<String>,
    pub sort: Sort,
    pub page: u32,
    pub per_page: u32,
}

impl ProductQuery {
    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }
}

impl ListParams {
    pub fn validate(self) -> Result<ProductQuery, ApiError> {
        let search = match self.q.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(q) if q.chars().count() > MAX_QUERY_LENGTH => {
                return Err(ApiError::invalid(
                    "q",
                    format!("must be at most {MAX_QUERY_LENGTH} characters"),
                ));
            }
            Some(q) => Some(q.to_owned()),
        };
        let per_page = self.per_page.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&per_page) {
            return Err(ApiError::invalid(
                "per_page",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        let page = self.page.unwrap_or(1);
        if !(1..=10_000).contains(&page) {
            return Err(ApiError::invalid("page", "must be between 1 and 10000"));
        }
        let sort = match (self.sort, &search) {
            (Some(Sort::Relevance), None) => {
                return Err(ApiError::invalid("sort", "relevance needs a search (q)"));
            }
            (Some(sort), _) => sort,
            (None, Some(_)) => Sort::Relevance,
            (None, None) => Sort::Name,
        };
        Ok(ProductQuery {
            category: self
                .category
                .as_deref()
                .map(|slug| Slug::parse("category", slug))
                .transpose()?,
            search,
            sort,
            page,
            per_page,
        })
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    /// Items in all pages.
    pub total: i64,
}

/// Units of one product in a reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Line {
    pub sku: Sku,
    pub quantity: i64,
}

/// A line as a client sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    #[schema(example = "ROBOT-ARM-2", pattern = "^[A-Z0-9-]{1,32}$")]
    pub sku: String,
    /// 1 to 1,000.
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: u32,
}

/// The body of `PUT /internal/reservations/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationInput {
    pub lines: Vec<LineInput>,
}

impl ReservationInput {
    /// The lines, sorted by SKU (the order stores lock rows in).
    pub fn validate(self) -> Result<Vec<Line>, ApiError> {
        if self.lines.is_empty() || self.lines.len() > MAX_RESERVATION_LINES {
            return Err(ApiError::invalid(
                "lines",
                format!("must hold 1 to {MAX_RESERVATION_LINES} lines"),
            ));
        }
        let mut lines = Vec::with_capacity(self.lines.len());
        for (index, line) in self.lines.into_iter().enumerate() {
            let sku = Sku::parse(&format!("lines[{index}].sku"), &line.sku)?;
            if !(1..=MAX_LINE_QUANTITY).contains(&line.quantity) {
                return Err(ApiError::invalid(
                    format!("lines[{index}].quantity"),
                    format!("must be between 1 and {MAX_LINE_QUANTITY}"),
                ));
            }
            if lines.iter().any(|existing: &Line| existing.sku == sku) {
                return Err(ApiError::invalid(
                    format!("lines[{index}].sku"),
                    format!("{sku} appears twice"),
                ));
            }
            lines.push(Line {
                sku,
                quantity: i64::from(line.quantity),
            });
        }
        lines.sort_by(|a, b| a.sku.cmp(&b.sku));
        Ok(lines)
    }
}

/// Where a reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    /// Stock is set aside until it is committed, released or expires.
    Held,
    /// The order was placed: the stock is gone for good.
    Committed,
    /// The stock went back on the shelf.
    Released,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Committed => "committed",
            Self::Released => "released",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "held" => Self::Held,
            "committed" => Self::Committed,
            _ => Self::Released,
        }
    }
}

/// Stock set aside for a checkout.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reservation {
    pub id: Uuid,
    pub status: ReservationStatus,
    pub lines: Vec<Line>,
    /// When a held reservation is released unless committed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// What a reservation request came to.
#[derive(Debug)]
pub enum ReserveOutcome {
    /// Newly held.
    Created(Reservation),
    /// The same request again: the first outcome.
    Existing(Reservation),
    /// The id is taken by a reservation with other lines.
    IdTaken,
    /// No product with this SKU.
    UnknownSku { index: usize, sku: Sku },
    /// Not enough units.
    Insufficient {
        index: usize,
        sku: Sku,
        available: i64,
    },
}

/// What a commit or release came to.
#[derive(Debug)]
pub enum TransitionOutcome {
    Done(Reservation),
    NotFound,
    /// A released reservation cannot be committed.
    Refused(Reservation),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_params_default_and_bound() {
        let query = ListParams::default().validate().unwrap();
        assert_eq!(
            (query.page, query.per_page, query.sort),
            (1, 20, Sort::Name)
        );
        let searched = ListParams {
            q: Some(" robot ".to_owned()),
            ..ListParams::default()
        };
        let query = searched.validate().unwrap();
        assert_eq!(
            (query.search.as_deref(), query.sort),
            (Some("robot"), Sort::Relevance)
        );
        let too_big = ListParams {
            per_page: Some(101),
            ..ListParams::default()
        };
        assert_eq!(too_big.validate().unwrap_err().field(), Some("per_page"));
        let relevance_alone = ListParams {
            sort: Some(Sort::Relevance),
            ..ListParams::default()
        };
        assert_eq!(
            relevance_alone.validate().unwrap_err().field(),
            Some("sort")
        );
    }

    #[test]
    fn reservation_lines_are_checked_and_sorted() {
        let input = |lines: &[(&str, u32)]| ReservationInput {
            lines: lines
                .iter()
                .map(|(sku, quantity)| LineInput {
                    sku: (*sku).to_owned(),
                    quantity: *quantity,
                })
                .collect(),
        };
        let lines = input(&[("B-1", 2), ("A-1", 1)]).validate().unwrap();
        assert_eq!(lines[0].sku.as_str(), "A-1");
        assert_eq!(
            input(&[("A-1", 1), ("A-1", 1)])
                .validate()
                .unwrap_err()
                .field(),
            Some("lines[1].sku")
        );
        assert_eq!(
            input(&[("A-1", 0)]).validate().unwrap_err().field(),
            Some("lines[0].quantity")
        );
        assert_eq!(input(&[]).validate().unwrap_err().field(), Some("lines"));
    }
}
