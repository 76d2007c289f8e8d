//! The browsing pages: home (categories and featured products), a
//! category's products with paging, search, and a product's page with its
//! reviews and the form to rate it.

use askama::Template;
use axum::{extract::State, response::Response};
use eshop_platform::{
    extract::{Path, Query},
    sku::Sku,
};
use serde::Deserialize;

use crate::{
    AppState,
    aggregate::{self, passthrough},
    downstream::ProductQuery,
    model::{Category, Product, ProductDetail, ProductList, RatingInput, RatingSummary},
    session::Visitor,
    web::{Customer, Form, Layout, PageError, Problems, page, see_other},
};

/// Products per listing page.
const PER_PAGE: u32 = 8;
/// Products on the home page.
const FEATURED: u32 = 8;

/// A product in a listing, with its rating when ratings answered.
pub(crate) struct Card {
    pub(crate) product: Product,
    pub(crate) rating: Option<RatingSummary>,
}

fn cards(list: ProductList) -> (Vec<Card>, bool) {
    let degraded = !list.degraded.is_empty();
    let mut ratings = list.ratings.unwrap_or_default().into_iter();
    let cards = list
        .products
        .items
        .into_iter()
        .map(|product| {
            let rating = ratings.next().filter(|rating| rating.sku == product.sku);
            Card { product, rating }
        })
        .collect();
    (cards, degraded)
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    layout: Layout,
    categories: Vec<Category>,
    featured: Vec<Card>,
    ratings_unavailable: bool,
}

pub(crate) async fn home(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    let query = ProductQuery {
        sort: Some("newest".to_owned()),
        page: 1,
        per_page: FEATURED,
        ..ProductQuery::default()
    };
    let (layout, featured) = tokio::join!(
        Layout::new(&state, &visitor, "Parts and robots for makers"),
        aggregate::product_list(&state, &query),
    );
    let (featured, ratings_unavailable) = cards(featured?);
    if layout.categories.is_empty() {
        return Err(PageError::Unavailable);
    }
    Ok(page(&Home {
        categories: layout.categories.clone(),
        layout,
        featured,
        ratings_unavailable,
    }))
}

/// The query string of listing pages.
#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    sort: Option<String>,
}

/// A sort order a listing offers.
pub(crate) struct SortChoice {
    pub(crate) value: &'static str,
    pub(crate) label: &'static str,
    pub(crate) selected: bool,
}

fn sort_choices(chosen: Option<&str>, searching: bool) -> Vec<SortChoice> {
    let default = if searching { "relevance" } else { "name" };
    let chosen = chosen.unwrap_or(default);
    let mut choices = vec![("name", "Name, A to Z"), ("price", "Price, low to high")];
    choices.extend([
        ("price_desc", "Price, high to low"),
        ("newest", "Newest first"),
    ]);
    if searching {
        choices.insert(0, ("relevance", "Best match"));
    }
    choices
        .into_iter()
        .map(|(value, label)| SortChoice {
            value,
            label,
            selected: value == chosen,
        })
        .collect()
}

/// Only the sort orders catalog knows.
fn known_sort(sort: Option<String>, searching: bool) -> Option<String> {
    sort.filter(|sort| {
        matches!(sort.as_str(), "name" | "price" | "price_desc" | "newest")
            || (searching && sort == "relevance")
    })
}

#[derive(Template)]
#[template(path = "listing.html")]
struct Listing {
    layout: Layout,
    heading: String,
    intro: String,
    cards: Vec<Card>,
    ratings_unavailable: bool,
    page: u32,
    pages: u32,
    total: i64,
    /// The listing's URL with its query, up to `page=`.
    base: String,
    sorts: Vec<SortChoice>,
    /// The search, kept in the sort form.
    q: String,
}

impl Listing {
    fn page_url(&self, page: u32) -> String {
        format!("{}page={page}", self.base)
    }

    fn previous_url(&self) -> String {
        self.page_url(self.page.saturating_sub(1).max(1))
    }

    fn next_url(&self) -> String {
        self.page_url(self.page + 1)
    }
}

pub(crate) async fn category(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, PageError> {
    let page_number = params.page.unwrap_or(1).clamp(1, 10_000);
    let sort = known_sort(params.sort, false);
    let query = ProductQuery {
        category: Some(slug.clone()),
        sort: sort.clone(),
        page: page_number,
        per_page: PER_PAGE,
        ..ProductQuery::default()
    };
    let (layout, list) = tokio::join!(
        Layout::new(&state, &visitor, "Category"),
        aggregate::product_list(&state, &query),
    );
    let Some(found) = layout
        .categories
        .iter()
        .find(|category| category.slug == slug)
        .cloned()
    else {
        return Err(if layout.categories.is_empty() {
            PageError::Unavailable
        } else {
            PageError::NotFound
        });
    };
    let list = list?;
    let (pages, total) = (list.products.pages(), list.products.total);
    let (cards, ratings_unavailable) = cards(list);
    let sort_query = sort
        .as_deref()
        .map_or(String::new(), |sort| format!("sort={sort}&"));
    Ok(page(&Listing {
        layout: Layout {
            title: found.name.clone(),
            ..layout
        },
        heading: found.name,
        intro: found.description,
        cards,
        ratings_unavailable,
        page: page_number,
        pages,
        total,
        base: format!("/categories/{slug}?{sort_query}"),
        sorts: sort_choices(sort.as_deref(), false),
        q: String::new(),
    }))
}

pub(crate) async fn search(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<ListParams>,
) -> Result<Response, PageError> {
    let q = params
        .q
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .chars()
        .take(100)
        .collect::<String>();
    let page_number = params.page.unwrap_or(1).clamp(1, 10_000);
    let searching = !q.is_empty();
    let sort = known_sort(params.sort, searching);
    let layout = Layout::new(&state, &visitor, "Search").await.with_query(&q);
    if !searching {
        return Ok(page(&Listing {
            layout,
            heading: "Search the shop".to_owned(),
            intro:
                "Type what you are looking for in the search box above: a part, a robot, a sensor…"
                    .to_owned(),
            cards: Vec::new(),
            ratings_unavailable: false,
            page: 1,
            pages: 0,
            total: 0,
            base: "/search?".to_owned(),
            sorts: Vec::new(),
            q,
        }));
    }
    let query = ProductQuery {
        q: Some(q.clone()),
        sort: sort.clone(),
        page: page_number,
        per_page: PER_PAGE,
        ..ProductQuery::default()
    };
    let list = aggregate::product_list(&state, &query).await?;
    let (pages, total) = (list.products.pages(), list.products.total);
    let (cards, ratings_unavailable) = cards(list);
    let found = match total {
        0 => "Nothing matches your search. Try another word, or browse a category.".to_owned(),
        1 => "1 product matches.".to_owned(),
        total => format!("{total} products match."),
    };
    let sort_query = sort
        .as_deref()
        .map_or(String::new(), |sort| format!("sort={sort}&"));
    Ok(page(&Listing {
        layout: Layout {
            title: format!("Search: {q}"),
            ..layout
        },
        heading: format!("Results for “{q}”"),
        intro: found,
        cards,
        ratings_unavailable,
        page: page_number,
        pages,
        total,
        base: format!("/search?q={}&{sort_query}", super::encode(&q)),
        sorts: sort_choices(sort.as_deref(), true),
        q,
    }))
}

#[derive(Template)]
#[template(path = "product.html")]
struct ProductPage {
    layout: Layout,
    detail: ProductDetail,
    signed_in: bool,
    rated: bool,
    problems: Problems,
    /// What the rating form holds.
    stars: u8,
    review: String,
}

impl ProductPage {
    fn stock_text(&self) -> String {
        match self.detail.product.stock {
            0 => "Out of stock".to_owned(),
            stock @ 1..=5 => format!("Only {stock} left"),
            stock => format!("In stock ({stock} available)"),
        }
    }

    fn max_quantity(&self) -> i64 {
        self.detail.product.stock.clamp(1, 99)
    }

    fn star_choices(&self) -> Vec<StarChoice> {
        ["1 star", "2 stars", "3 stars", "4 stars", "5 stars"]
            .into_iter()
            .zip(1..)
            .map(|(label, value)| StarChoice {
                value,
                label,
                checked: value == self.stars,
            })
            .collect()
    }
}

/// One choice of the rating form.
struct StarChoice {
    value: u8,
    label: &'static str,
    checked: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ProductParams {
    #[serde(default)]
    rated: Option<u8>,
}

pub(crate) async fn product(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(sku): Path<String>,
    Query(params): Query<ProductParams>,
) -> Result<Response, PageError> {
    product_page(
        &state,
        &visitor,
        &sku,
        params.rated.is_some(),
        Problems::none(),
        None,
    )
    .await
}

async fn product_page(
    state: &AppState,
    visitor: &Visitor,
    sku: &str,
    rated: bool,
    problems: Problems,
    form: Option<&RatingForm>,
) -> Result<Response, PageError> {
    let (layout, detail) = tokio::join!(
        Layout::new(state, visitor, "Product"),
        aggregate::product_detail(state, visitor, sku),
    );
    let detail = detail?;
    let (stars, review) = match (form, &detail.my_rating) {
        (Some(form), _) => (form.stars.unwrap_or(0), form.review.clone()),
        (None, Some(mine)) => (mine.stars, mine.review.clone().unwrap_or_default()),
        (None, None) => (0, String::new()),
    };
    Ok(page(&ProductPage {
        layout: Layout {
            title: detail.product.name.clone(),
            ..layout
        },
        signed_in: visitor.user.is_some(),
        detail,
        rated,
        problems,
        stars,
        review,
    }))
}

/// The rating form.
#[derive(Debug, Deserialize)]
pub(crate) struct RatingForm {
    #[serde(default)]
    stars: Option<u8>,
    #[serde(default)]
    review: String,
}

pub(crate) async fn rate(
    State(state): State<AppState>,
    visitor: Visitor,
    Customer(user): Customer,
    Path(sku): Path<String>,
    Form(form): Form<RatingForm>,
) -> Result<Response, PageError> {
    if !Sku::is_valid(&sku) {
        return Err(PageError::NotFound);
    }
    let Some(stars) = form.stars.filter(|stars| (1..=5).contains(stars)) else {
        let problems = Problems::on("stars", "choose from one to five stars");
        return product_page(&state, &visitor, &sku, false, problems, Some(&form)).await;
    };
    let review = form.review.trim();
    let input = RatingInput {
        stars,
        review: (!review.is_empty()).then(|| review.to_owned()),
    };
    match state.downstream.rate(&sku, &user.token, &input).await {
        Ok(_) => Ok(see_other(&format!("/products/{sku}?rated=1#rate"))),
        Err(error) => {
            let error = passthrough(error);
            if error.status().is_server_error() {
                let problems = Problems::general(
                    "ratings are unavailable right now, so your rating was not saved; please try again in a moment",
                );
                return product_page(&state, &visitor, &sku, false, problems, Some(&form)).await;
            }
            let problems = Problems::from_error(&error, &["stars", "review"]);
            product_page(&state, &visitor, &sku, false, problems, Some(&form)).await
        }
    }
}
