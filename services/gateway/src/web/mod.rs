//! The web storefront: server-rendered pages from askama templates (the
//! `templates/` folder, checked when the crate compiles), forms that post
//! and redirect, and a few lines of script for the city picker and live
//! order status. Every page shares the [`Layout`]: the header with search,
//! categories, the cart's size and the account links.
//!
//! Failures become friendly pages ([`PageError`]): 404, 429, 503 and 500
//! explain themselves in plain words and never show internals; a form
//! whose input a service refused is shown again with the message next to
//! the field the service named.

mod account;
mod cart;
pub(crate) mod checkout;
mod orders;
mod shop;

use askama::Template;
use axum::{
    Router,
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{StatusCode, header, request::Parts},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{any, get, post},
};
use eshop_platform::{client::CallError, error::ApiError};
use serde::de::DeserializeOwned;

use crate::{
    AppState,
    aggregate::passthrough,
    assets,
    model::Category,
    session::{SignedInUser, Visitor},
};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(shop::home))
        .route("/categories/{slug}", get(shop::category))
        .route("/search", get(shop::search))
        .route("/products/{sku}", get(shop::product))
        .route("/products/{sku}/rating", post(shop::rate))
        .route("/cart", get(cart::show))
        .route("/cart/items", post(cart::add))
        .route("/cart/items/{sku}", post(cart::set_quantity))
        .route("/cart/items/{sku}/remove", post(cart::remove))
        .route("/checkout", get(checkout::start).post(checkout::place))
        .route("/checkout/quote", post(checkout::quote))
        .route("/checkout/confirming", get(checkout::confirming))
        .route("/checkout/status/{id}", get(checkout::status))
        .route("/orders", get(orders::history))
        .route("/orders/{id}", get(orders::detail))
        .route("/orders/{id}/invoice", get(orders::invoice))
        .route(
            "/register",
            get(account::register_form).post(account::register),
        )
        .route("/login", get(account::login_form).post(account::login))
        .route("/logout", post(account::logout))
        .route("/account", get(account::show))
        .route("/account/profile", post(account::rename))
        .route("/account/addresses", post(account::add_address))
        .route(
            "/account/addresses/{id}/delete",
            post(account::delete_address),
        )
        .route("/account/wallet", get(account::wallet))
        .route("/account/wallet/top-ups", post(account::top_up))
        .route("/{*path}", any(not_found))
}

async fn not_found() -> PageError {
    PageError::NotFound
}

/// What every page shows around its content.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) title: String,
    /// The signed-in user's name.
    pub(crate) user: Option<String>,
    /// Units in the cart; `None` when cart did not answer.
    pub(crate) cart_count: Option<u32>,
    pub(crate) categories: Vec<Category>,
    /// What the search box holds.
    pub(crate) query: String,
    pub(crate) css: &'static str,
    pub(crate) js: &'static str,
    pub(crate) icon: &'static str,
}

impl Layout {
    /// A layout that needs no service: for error pages.
    pub(crate) fn bare(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            user: None,
            cart_count: None,
            categories: Vec::new(),
            query: String::new(),
            css: assets::css_path(),
            js: assets::js_path(),
            icon: assets::icon_path(),
        }
    }

    /// The full layout: categories and the cart's size, asked in parallel.
    /// Neither is worth failing a page for; the header makes do without.
    pub(crate) async fn new(state: &AppState, visitor: &Visitor, title: &str) -> Self {
        let owner = visitor.cart_owner();
        let (categories, cart) =
            tokio::join!(state.downstream.categories(), state.downstream.cart(&owner));
        Self {
            user: visitor.user.as_ref().map(|user| user.claims.name.clone()),
            cart_count: cart.ok().map(|cart| cart.item_count),
            categories: categories.unwrap_or_default(),
            ..Self::bare(title)
        }
    }

    pub(crate) fn with_query(mut self, query: &str) -> Self {
        query.clone_into(&mut self.query);
        self
    }
}

/// What the shop's pages may load: only what the gateway serves.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self'; style-src 'self'; \
script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A rendered page.
pub(crate) fn page(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (
            [
                (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::REFERRER_POLICY, "same-origin"),
            ],
            Html(html),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "a page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            )
                .into_response()
        }
    }
}

/// A rendered page with a status other than 200.
pub(crate) fn page_with(status: StatusCode, template: &impl Template) -> Response {
    let mut response = page(template);
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    response
}

/// `303 See Other`: where a form goes once it was handled.
pub(crate) fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    heading: &'static str,
    message: String,
}

/// A friendly error page.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let heading = match status {
        StatusCode::NOT_FOUND => "We couldn't find that page",
        StatusCode::TOO_MANY_REQUESTS => "Slow down a little",
        StatusCode::SERVICE_UNAVAILABLE => "Part of the shop is taking a break",
        StatusCode::FORBIDDEN => "That didn't come from our shop",
        status if status.is_client_error() => "That didn't work",
        _ => "Something went wrong on our side",
    };
    page_with(
        status,
        &ErrorPage {
            layout: Layout::bare(heading),
            status: status.as_u16(),
            heading,
            message: message.to_owned(),
        },
    )
}

/// Why a page cannot be shown.
#[derive(Debug)]
pub(crate) enum PageError {
    NotFound,
    /// Sign in first, then come back to this path.
    SignIn(String),
    /// A service the page needs is down.
    Unavailable,
    Failed(StatusCode, String),
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        match error.status() {
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::UNAUTHORIZED => Self::SignIn("/".to_owned()),
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable,
            status => Self::Failed(status, error.message().to_owned()),
        }
    }
}

impl From<CallError> for PageError {
    fn from(error: CallError) -> Self {
        passthrough(error).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::NotFound => error_page(
                StatusCode::NOT_FOUND,
                "The page or product you asked for isn't here. It may have moved, or the link may be mistyped.",
            ),
            Self::SignIn(next) => see_other(&format!("/login?next={}", encode(&next))),
            Self::Unavailable => error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "We can't reach part of the shop right now. Nothing was lost: please try again in a moment.",
            ),
            Self::Failed(status, message) if status.is_client_error() => {
                error_page(status, &sentence(&message))
            }
            Self::Failed(status, _) => error_page(
                status,
                "We hit a problem while getting this page ready. Please try again in a moment.",
            ),
        }
    }
}

/// A service's message as a sentence: capitalised, with a full stop.
pub(crate) fn sentence(message: &str) -> String {
    let mut chars = message.trim().chars();
    let mut text: String = chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !text.is_empty() && !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}

/// Percent-encodes a query value.
pub(crate) fn encode(value: &str) -> String {
    serde_urlencoded::to_string([("", value)])
        .map(|encoded| encoded.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// Where to go after signing in: only paths of this shop.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next) if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') => {
            next.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// A signed-in customer; anyone else is sent to the login page first.
pub(crate) struct Customer(pub(crate) SignedInUser);

impl<S: Send + Sync> FromRequestParts<S> for Customer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match visitor.user {
            Some(user) => Ok(Self(user)),
            None => {
                let next = parts.uri.path_and_query().map_or("/", |path| path.as_str());
                // After a form post, come back to the page, not the action.
                let next = if parts.method == axum::http::Method::GET {
                    next
                } else {
                    "/"
                };
                Err(PageError::SignIn(next.to_owned()).into_response())
            }
        }
    }
}

/// A form body (`application/x-www-form-urlencoded`).
pub(crate) struct Form<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| error_page(StatusCode::BAD_REQUEST, "The form could not be read."))?;
        serde_urlencoded::from_bytes(&bytes).map(Form).map_err(|_| {
            error_page(
                StatusCode::BAD_REQUEST,
                "The form was incomplete. Go back and try again.",
            )
        })
    }
}

/// A service's refusal of a form, placed next to the field it names when
/// the form has that field, above the form otherwise.
#[derive(Debug, Clone, Default)]
pub(crate) struct Problems {
    field: Option<String>,
    message: Option<String>,
}

impl Problems {
    pub(crate) fn none() -> Self {
        Self::default()
    }

    /// A message about the whole form.
    pub(crate) fn general(message: &str) -> Self {
        Self {
            field: None,
            message: Some(sentence(message)),
        }
    }

    /// A message about one field of the form.
    pub(crate) fn on(field: &str, message: &str) -> Self {
        Self {
            field: Some(field.to_owned()),
            message: Some(sentence(message)),
        }
    }

    /// The problem a service reported, against the form's `fields`. A field
    /// path such as `address.line1` counts by its last part.
    pub(crate) fn from_error(error: &ApiError, fields: &[&str]) -> Self {
        let field = error
            .field()
            .map(|field| field.rsplit('.').next().unwrap_or(field))
            .map(|field| match field {
                "amount_cents" => "amount",
                "city_id" => "city",
                other => other,
            })
            .filter(|field| fields.contains(field));
        match field {
            Some(field) => Self::on(field, error.message()),
            None => Self::general(error.message()),
        }
    }

    /// The message about `field`, if any.
    pub(crate) fn about(&self, field: &str) -> Option<&str> {
        match (&self.field, &self.message) {
            (Some(at), Some(message)) if at == field => Some(message),
            _ => None,
        }
    }

    /// The message about the whole form, if any.
    pub(crate) fn overall(&self) -> Option<&str> {
        match (&self.field, &self.message) {
            (None, Some(message)) => Some(message),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(sentence("the card was declined"), "The card was declined.");
        assert_eq!(sentence("Done!"), "Done!");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/checkout")), "/checkout");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn a_problem_sits_next_to_the_field_it_names() {
        let error = ApiError::invalid("address.line1", "must not be empty");
        let problems = Problems::from_error(&error, &["name", "line1"]);
        assert_eq!(problems.about("line1"), Some("Must not be empty."));
        assert_eq!(problems.overall(), None);
        let elsewhere = Problems::from_error(&error, &["name"]);
        assert_eq!(elsewhere.overall(), Some("Must not be empty."));
    }
}
