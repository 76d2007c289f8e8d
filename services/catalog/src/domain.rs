//! The catalog's values, validated once at the edge: the requests of the
//! API crate (`eshop-catalog-api`, whose types are re-exported here) become
//! these validated values, which hold nothing the stores need to check
//! again.

pub use eshop_catalog_api::{
    Category, CategoryInput, Line, LineInput, ListParams, Page, Product, ProductInput, Reservation,
    ReservationInput, ReservationStatus, Sku, Slug, Sort,
};
use eshop_platform::{error::ApiError, fields};

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

impl NewProduct {
    /// The product `input` describes, once it is valid.
    pub fn validate(input: &ProductInput, sku: &str) -> Result<Self, ApiError> {
        if !(1..=MAX_PRICE_CENTS).contains(&input.price_cents) {
            return Err(ApiError::invalid(
                "price_cents",
                format!("must be between 1 and {MAX_PRICE_CENTS}"),
            ));
        }
        if !(0..=MAX_STOCK).contains(&input.stock) {
            return Err(ApiError::invalid(
                "stock",
                format!("must be between 0 and {MAX_STOCK}"),
            ));
        }
        if !(1..=MAX_WEIGHT_GRAMS).contains(&input.weight_grams) {
            return Err(ApiError::invalid(
                "weight_grams",
                format!("must be between 1 and {MAX_WEIGHT_GRAMS}"),
            ));
        }
        Ok(Self {
            sku: Sku::parse("sku", sku)?,
            name: fields::line("name", &input.name, 120)?,
            description: fields::paragraph("description", &input.description, 2000)?,
            price_cents: input.price_cents,
            category: Slug::parse("category", &input.category)?,
            stock: input.stock,
            weight_grams: input.weight_grams,
        })
    }
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

    /// The query `params` ask for, once they are valid.
    pub fn validate(params: &ListParams) -> Result<Self, ApiError> {
        let search = match params.q.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(q) if q.chars().count() > MAX_QUERY_LENGTH => {
                return Err(ApiError::invalid(
                    "q",
                    format!("must be at most {MAX_QUERY_LENGTH} characters"),
                ));
            }
            Some(q) => Some(q.to_owned()),
        };
        let per_page = params.per_page.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&per_page) {
            return Err(ApiError::invalid(
                "per_page",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        let page = params.page.unwrap_or(1);
        if !(1..=10_000).contains(&page) {
            return Err(ApiError::invalid("page", "must be between 1 and 10000"));
        }
        let sort = match (params.sort, &search) {
            (Some(Sort::Relevance), None) => {
                return Err(ApiError::invalid("sort", "relevance needs a search (q)"));
            }
            (Some(sort), _) => sort,
            (None, Some(_)) => Sort::Relevance,
            (None, None) => Sort::Name,
        };
        Ok(Self {
            category: params
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

/// The lines `input` asks to reserve, once valid, sorted by SKU (the order
/// stores lock rows in).
pub fn reservation_lines(input: ReservationInput) -> Result<Vec<Line>, ApiError> {
    if input.lines.is_empty() || input.lines.len() > MAX_RESERVATION_LINES {
        return Err(ApiError::invalid(
            "lines",
            format!("must hold 1 to {MAX_RESERVATION_LINES} lines"),
        ));
    }
    let mut lines = Vec::with_capacity(input.lines.len());
    for (index, line) in input.lines.into_iter().enumerate() {
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
        let query = ProductQuery::validate(&ListParams::default()).unwrap();
        assert_eq!(
            (query.page, query.per_page, query.sort),
            (1, 20, Sort::Name)
        );
        let searched = ListParams {
            q: Some(" robot ".to_owned()),
            ..ListParams::default()
        };
        let query = ProductQuery::validate(&searched).unwrap();
        assert_eq!(
            (query.search.as_deref(), query.sort),
            (Some("robot"), Sort::Relevance)
        );
        let too_big = ListParams {
            per_page: Some(101),
            ..ListParams::default()
        };
        assert_eq!(
            ProductQuery::validate(&too_big).unwrap_err().field(),
            Some("per_page")
        );
        let relevance_alone = ListParams {
            sort: Some(Sort::Relevance),
            ..ListParams::default()
        };
        assert_eq!(
            ProductQuery::validate(&relevance_alone)
                .unwrap_err()
                .field(),
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
        let lines = reservation_lines(input(&[("B-1", 2), ("A-1", 1)])).unwrap();
        assert_eq!(lines[0].sku.as_str(), "A-1");
        assert_eq!(
            reservation_lines(input(&[("A-1", 1), ("A-1", 1)]))
                .unwrap_err()
                .field(),
            Some("lines[1].sku")
        );
        assert_eq!(
            reservation_lines(input(&[("A-1", 0)])).unwrap_err().field(),
            Some("lines[0].quantity")
        );
        assert_eq!(
            reservation_lines(input(&[])).unwrap_err().field(),
            Some("lines")
        );
    }
}
