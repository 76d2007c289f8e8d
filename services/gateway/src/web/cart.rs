//! The cart page and its forms: add a product, change a quantity, take a
//! product out. Anonymous visitors have a cart too; it joins theirs when
//! they log in.

use askama::Template;
use axum::{extract::State, response::Response};
use eshop_platform::{
    extract::{Path, Query},
    sku::Sku,
};
use serde::Deserialize;

use crate::{
    AppState,
    aggregate::passthrough,
    model::{AddItem, Cart},
    session::Visitor,
    web::{Form, Layout, PageError, Problems, page, see_other},
};

#[derive(Template)]
#[template(path = "cart.html")]
struct CartPage {
    layout: Layout,
    cart: Cart,
    signed_in: bool,
    problems: Problems,
    added: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CartParams {
    #[serde(default)]
    added: Option<String>,
}

pub(crate) async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<CartParams>,
) -> Result<Response, PageError> {
    cart_page(&state, &visitor, Problems::none(), params.added.is_some()).await
}

async fn cart_page(
    state: &AppState,
    visitor: &Visitor,
    problems: Problems,
    added: bool,
) -> Result<Response, PageError> {
    let owner = visitor.cart_owner();
    let (layout, cart) = tokio::join!(
        Layout::new(state, visitor, "Your cart"),
        state.downstream.cart(&owner),
    );
    Ok(page(&CartPage {
        layout,
        cart: cart?,
        signed_in: visitor.user.is_some(),
        problems,
        added,
    }))
}

/// The add-to-cart form of a product page.
#[derive(Debug, Deserialize)]
pub(crate) struct AddForm {
    sku: String,
    #[serde(default)]
    quantity: Option<u32>,
}

pub(crate) async fn add(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<AddForm>,
) -> Result<Response, PageError> {
    if !Sku::is_valid(&form.sku) {
        return Err(PageError::NotFound);
    }
    let item = AddItem {
        quantity: form.quantity.unwrap_or(1).clamp(1, 99),
        sku: form.sku,
    };
    match state
        .downstream
        .add_item(&visitor.cart_owner(), &item)
        .await
    {
        Ok(_) => Ok(see_other(&format!("/cart?added={}", item.sku))),
        Err(error) => refused(&state, &visitor, error).await,
    }
}

/// A cart line's quantity form.
#[derive(Debug, Deserialize)]
pub(crate) struct QuantityForm {
    quantity: u32,
}

pub(crate) async fn set_quantity(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(sku): Path<String>,
    Form(form): Form<QuantityForm>,
) -> Result<Response, PageError> {
    if !Sku::is_valid(&sku) {
        return Err(PageError::NotFound);
    }
    let owner = visitor.cart_owner();
    let changed = if form.quantity == 0 {
        state.downstream.remove_item(&owner, &sku).await
    } else {
        state
            .downstream
            .set_quantity(&owner, &sku, form.quantity.min(99))
            .await
            .map(drop)
    };
    match changed {
        Ok(()) => Ok(see_other("/cart")),
        Err(error) => refused(&state, &visitor, error).await,
    }
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(sku): Path<String>,
) -> Result<Response, PageError> {
    if Sku::is_valid(&sku) {
        state
            .downstream
            .remove_item(&visitor.cart_owner(), &sku)
            .await?;
    }
    Ok(see_other("/cart"))
}

/// The cart again, saying why a change was refused (e.g. not enough stock).
async fn refused(
    state: &AppState,
    visitor: &Visitor,
    error: eshop_platform::client::CallError,
) -> Result<Response, PageError> {
    let error = passthrough(error);
    if !error.status().is_client_error() {
        return Err(error.into());
    }
    cart_page(state, visitor, Problems::from_error(&error, &[]), false).await
}
