//! The customer's orders: the history, one order (also the confirmation
//! after checkout) and its printable invoice. Statuses change while the
//! page is open: the page's script polls the JSON API and updates them.

use askama::Template;
use axum::{
    body::Body,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use eshop_platform::extract::{Path, Query};
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    AppState,
    model::{Order, OrderSummary, Page},
    session::Visitor,
    web::{Customer, Layout, PageError, page},
};

/// Statuses after which nothing changes any more.
pub(crate) fn is_final(status: &str) -> bool {
    matches!(status, "delivered" | "cancelled" | "returned")
}

#[derive(Template)]
#[template(path = "orders.html")]
struct History {
    layout: Layout,
    orders: Page<OrderSummary>,
    /// Whether a status may still change, so the script should poll.
    live: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct HistoryParams {
    #[serde(default)]
    page: Option<u32>,
}

pub(crate) async fn history(
    State(state): State<AppState>,
    visitor: Visitor,
    Customer(user): Customer,
    Query(params): Query<HistoryParams>,
) -> Result<Response, PageError> {
    let page_number = params.page.unwrap_or(1).clamp(1, 10_000);
    let (layout, orders) = tokio::join!(
        Layout::new(&state, &visitor, "Your orders"),
        state.downstream.orders(&user.token, page_number),
    );
    let orders = orders?;
    let live = orders.items.iter().any(|order| !is_final(&order.status));
    Ok(page(&History {
        layout,
        orders,
        live,
    }))
}

#[derive(Template)]
#[template(path = "order.html")]
struct Detail {
    layout: Layout,
    order: Order,
    placed: bool,
    live: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DetailParams {
    #[serde(default)]
    placed: Option<u8>,
}

pub(crate) async fn detail(
    State(state): State<AppState>,
    visitor: Visitor,
    Customer(user): Customer,
    Path(id): Path<Uuid>,
    Query(params): Query<DetailParams>,
) -> Result<Response, PageError> {
    let (layout, order) = tokio::join!(
        Layout::new(&state, &visitor, "Your order"),
        state.downstream.order(&user.token, id),
    );
    let order = order?;
    Ok(page(&Detail {
        layout: Layout {
            title: format!("Order {}", order.number),
            ..layout
        },
        live: !is_final(&order.status),
        order,
        placed: params.placed.is_some(),
    }))
}

pub(crate) async fn invoice(
    State(state): State<AppState>,
    Customer(user): Customer,
    Path(id): Path<Uuid>,
) -> Result<Response, PageError> {
    let html = state.downstream.invoice(&user.token, id).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        Body::from(html),
    )
        .into_response())
}
