//! Checkout, in two steps. First the address, with a city picker (a
//! `<datalist>` the script fills from `/api/cities` as the customer types;
//! without the script the city is matched by name). Then the shipping
//! quote for the cart and the payment: the wallet, or a card. Paying sends
//! the checkout to payments under an idempotency key made for that form,
//! with the total the page showed, so a double click buys once and the
//! customer pays what they saw; a refusal shows the form again with a new
//! key and a plain explanation. A payment that takes too long, or an
//! answer that never comes, sends the customer to a page that follows the
//! checkout by its key to its end: the checkout may well go through, so
//! nobody is told that nothing was charged unless payments never saw it.

use askama::Template;
use axum::{extract::State, response::Response};
use eshop_platform::{
    error::ApiError,
    extract::{Path, Query},
};
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    AppState,
    aggregate::passthrough,
    model::{
        Cart, Checkout, CheckoutAddress, CheckoutPayment, CheckoutRequest, City, Quote, money,
    },
    session::Visitor,
    web::{Customer, Form, Layout, PageError, Problems, page, see_other},
};

/// What shipping the visitor's cart to `city_id` costs.
pub(crate) async fn quote_cart(
    state: &AppState,
    visitor: &Visitor,
    city_id: &str,
) -> Result<Quote, ApiError> {
    let valid = (1..=64).contains(&city_id.len())
        && city_id
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    if !valid {
        return Err(ApiError::invalid(
            "city_id",
            "not a city id from /api/cities",
        ));
    }
    let cart = state
        .downstream
        .cart(&visitor.cart_owner())
        .await
        .map_err(passthrough)?;
    if cart.lines.is_empty() {
        return Err(ApiError::conflict("cart_empty", "the cart is empty"));
    }
    let weight = state
        .downstream
        .weight_grams(&cart)
        .await
        .map_err(passthrough)?;
    state
        .downstream
        .quote(city_id, weight)
        .await
        .map_err(passthrough)
}

/// The address fields of both steps.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AddressForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    line1: String,
    #[serde(default)]
    line2: String,
    #[serde(default)]
    postal_code: String,
    /// As typed: `Paris (FR)` from the picker, or just `Paris`.
    #[serde(default)]
    city: String,
    #[serde(default)]
    phone: String,
}

/// The payment step's form: the address again, hidden, and how to pay.
#[derive(Debug, Deserialize)]
pub(crate) struct PayForm {
    #[serde(flatten)]
    address: AddressForm,
    #[serde(default)]
    city_id: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    card_number: String,
    /// The total the page showed, which the customer confirmed by paying.
    #[serde(default)]
    expected_total_cents: Option<i64>,
}

#[derive(Template)]
#[template(path = "checkout.html")]
struct CheckoutPage {
    layout: Layout,
    cart: Cart,
    address: AddressForm,
    /// Set once the city is known and the quote shown.
    quote: Option<Quote>,
    wallet_balance: Option<String>,
    /// The idempotency key of this payment form.
    key: String,
    method: String,
    card_number: String,
    problems: Problems,
}

impl CheckoutPage {
    /// What the customer is shown they will pay: items plus shipping.
    fn total_cents(&self) -> i64 {
        self.cart.total_cents + self.quote.as_ref().map_or(0, |quote| quote.cost_cents)
    }

    fn total(&self) -> String {
        money(self.total_cents())
    }

    fn city_id(&self) -> &str {
        self.quote
            .as_ref()
            .map_or("", |quote| quote.city.id.as_str())
    }
}

/// Renders the checkout for what the form holds, with the cart as it is.
async fn checkout_page(
    state: &AppState,
    visitor: &Visitor,
    address: AddressForm,
    quote: Option<Quote>,
    payment: (String, String),
    problems: Problems,
) -> Result<Response, PageError> {
    let wallet = async {
        match (&quote, &visitor.user) {
            (Some(_), Some(user)) => state.downstream.wallet.wallet(&user.token).await.ok(),
            _ => None,
        }
    };
    let owner = visitor.cart_owner();
    let (layout, cart, wallet) = tokio::join!(
        Layout::new(state, visitor, "Checkout"),
        state.downstream.cart(&owner),
        wallet,
    );
    let cart = cart?;
    if cart.lines.is_empty() {
        return Ok(see_other("/cart"));
    }
    let (method, card_number) = payment;
    Ok(page(&CheckoutPage {
        layout,
        cart,
        address,
        quote,
        wallet_balance: wallet.map(|wallet| money(wallet.balance_cents)),
        key: Uuid::new_v4().to_string(),
        method: if method == "card" {
            method
        } else {
            "wallet".to_owned()
        },
        card_number,
        problems,
    }))
}

pub(crate) async fn start(
    State(state): State<AppState>,
    visitor: Visitor,
    Customer(user): Customer,
) -> Result<Response, PageError> {
    let address = AddressForm {
        name: user.claims.name,
        ..AddressForm::default()
    };
    checkout_page(
        &state,
        &visitor,
        address,
        None,
        (String::new(), String::new()),
        Problems::none(),
    )
    .await
}

/// The fields a person must fill in, with the first one left empty.
fn missing_field(address: &AddressForm) -> Option<Problems> {
    [
        ("name", &address.name, "enter who receives the parcel"),
        ("line1", &address.line1, "enter the street and number"),
        ("postal_code", &address.postal_code, "enter the postal code"),
        ("city", &address.city, "choose a city"),
    ]
    .into_iter()
    .find(|(_, value, _)| value.trim().is_empty())
    .map(|(field, _, message)| Problems::on(field, message))
}

/// The city the customer picked: `Name (CC)` from the picker, or a name.
async fn resolve_city(state: &AppState, typed: &str) -> Result<City, Problems> {
    let typed = typed.trim();
    let (name, country) = match typed.rsplit_once(" (") {
        Some((name, code)) if code.len() == 3 && code.ends_with(')') => {
            (name.trim(), Some(&code[..2]))
        }
        _ => (typed, None),
    };
    let cities = state.downstream.cities(name, 20).await.map_err(|error| {
        tracing::warn!(%error, "city suggestions failed");
        Problems::general("shipping is unavailable right now, so we cannot price delivery; please try again in a moment")
    })?;
    let matches_country = |city: &City| country.is_none_or(|code| city.country_code == code);
    cities
        .iter()
        .find(|city| city.name.eq_ignore_ascii_case(name) && matches_country(city))
        .or_else(|| cities.iter().find(|city| country.is_some() && matches_country(city)))
        .cloned()
        .ok_or_else(|| {
            Problems::on(
                "city",
                "we don't deliver to a city of that name; pick one from the suggestions as you type",
            )
        })
}

pub(crate) async fn quote(
    State(state): State<AppState>,
    visitor: Visitor,
    Customer(_): Customer,
    Form(address): Form<AddressForm>,
) -> Result<Response, PageError> {
    let no_payment = (String::new(), String::new());
    if let Some(problems) = missing_field(&address) {
        return checkout_page(&state, &visitor, address, None, no_payment, problems).await;
    }
    let city = match resolve_city(&state, &address.city).await {
        Ok(city) => city,
        Err(problems) => {
            return checkout_page(&state, &visitor, address, None, no_payment, problems).await;
        }
    };
    match quote_cart(&state, &visitor, &city.id).await {
        Ok(quote) => {
            let address = AddressForm {
                city: city.label(),
                ..address
            };
            checkout_page(
                &state,
                &visitor,
                address,
                Some(quote),
                no_payment,
                Problems::none(),
            )
            .await
        }
        Err(error) if error.status().is_client_error() => {
            let problems = Problems::from_error(&error, &["city"]);
            checkout_page(&state, &visitor, address, None, no_payment, problems).await
        }
        Err(_) => {
            let problems = Problems::general(
                "shipping is unavailable right now, so we cannot price delivery; please try again in a moment",
            );
            checkout_page(&state, &visitor, address, None, no_payment, problems).await
        }
    }
}

/// What a refused checkout means for the customer.
fn refusal(code: &str, message: &str) -> String {
    match code {
        "card_declined" => "Your card was declined. Nothing was charged: try another card, or pay from your wallet.".to_owned(),
        "insufficient_funds" => "There is not enough money to pay for this order. Nothing was charged: top up your wallet or use another card.".to_owned(),
        "processing_error" => "The card's bank did not answer. Nothing was charged: please try again.".to_owned(),
        "out_of_stock" => format!("{} Please change your cart and try again.", super::sentence(message)),
        "price_changed" => "Prices or shipping changed since you looked, so nothing was charged. The new total is shown below: check it and pay again.".to_owned(),
        _ => super::sentence(message),
    }
}

pub(crate) async fn place(
    State(state): State<AppState>,
    visitor: Visitor,
    Customer(user): Customer,
    Form(form): Form<PayForm>,
) -> Result<Response, PageError> {
    let payment = match form.method.as_str() {
        "card" => CheckoutPayment::Card {
            card_number: form.card_number.trim().to_owned(),
        },
        _ => CheckoutPayment::Wallet,
    };
    let chosen = (form.method.clone(), form.card_number.clone());
    let again = |problems: Problems| {
        let (state, visitor, address, city_id, chosen) = (
            &state,
            &visitor,
            form.address.clone(),
            form.city_id.clone(),
            chosen.clone(),
        );
        async move {
            let quote = quote_cart(state, visitor, &city_id).await.ok();
            checkout_page(state, visitor, address, quote, chosen, problems).await
        }
    };
    if matches!(&payment, CheckoutPayment::Card { card_number } if card_number.is_empty()) {
        return again(Problems::on("card_number", "enter the card's number")).await;
    }
    let optional = |value: &str| {
        let value = value.trim();
        (!value.is_empty()).then(|| value.to_owned())
    };
    let request = CheckoutRequest {
        address: CheckoutAddress {
            name: form.address.name.trim().to_owned(),
            line1: form.address.line1.trim().to_owned(),
            line2: optional(&form.address.line2),
            postal_code: form.address.postal_code.trim().to_owned(),
            city_id: form.city_id.clone(),
            phone: optional(&form.address.phone),
        },
        payment,
        expected_total_cents: form.expected_total_cents,
    };
    let key = if form.key.is_empty() {
        Uuid::new_v4().to_string()
    } else {
        form.key.clone()
    };
    match state.downstream.checkout(&user.token, &key, &request).await {
        Ok(checkout) => Ok(after(&checkout)),
        Err(error) => {
            let error = passthrough(error);
            if error.status().is_server_error() {
                return Ok(see_other(&confirming_path(&key)));
            }
            let message = refusal(error.code(), error.message());
            let problems = match Problems::from_error(&error, &["card_number"]).about("card_number")
            {
                Some(_) => Problems::on("card_number", &message),
                None => Problems::general(&message),
            };
            again(problems).await
        }
    }
}

/// Where a checkout leads: its order, or a page that waits for it.
fn after(checkout: &Checkout) -> Response {
    match (checkout.status.as_str(), checkout.order_id) {
        ("completed", Some(order)) => see_other(&format!("/orders/{order}?placed=1")),
        _ => see_other(&format!("/checkout/status/{}", checkout.id)),
    }
}

/// The page that follows the checkout sent with `key`.
fn confirming_path(key: &str) -> String {
    let query = serde_urlencoded::to_string([("key", key)]).expect("a pair always encodes");
    format!("/checkout/confirming?{query}")
}

#[derive(Template)]
#[template(path = "checkout_confirming.html")]
struct ConfirmingPage {
    layout: Layout,
    /// Payments has no checkout with the key: nothing was charged.
    not_received: bool,
}

/// Which checkout a confirming page follows.
#[derive(Debug, Deserialize)]
pub(crate) struct ConfirmingQuery {
    key: String,
}

/// Follows the checkout sent with a key: to its status or order once
/// payments knows it; until payments answers, a page that looks again by
/// itself; "not received" only when payments says it has no such checkout.
pub(crate) async fn confirming(
    State(state): State<AppState>,
    visitor: Visitor,
    Customer(user): Customer,
    Query(query): Query<ConfirmingQuery>,
) -> Result<Response, PageError> {
    let (layout, found) = tokio::join!(
        Layout::new(&state, &visitor, "Confirming your payment"),
        state.downstream.checkout_by_key(&user.token, &query.key),
    );
    let not_received = match found {
        Ok(Some(checkout)) => return Ok(after(&checkout)),
        Ok(None) => true,
        Err(error) => {
            tracing::warn!(%error, "looking a checkout up by its key");
            false
        }
    };
    Ok(page(&ConfirmingPage {
        layout,
        not_received,
    }))
}

#[derive(Template)]
#[template(path = "checkout_status.html")]
struct StatusPage {
    layout: Layout,
    failure: Option<String>,
}

pub(crate) async fn status(
    State(state): State<AppState>,
    visitor: Visitor,
    Customer(user): Customer,
    Path(id): Path<Uuid>,
) -> Result<Response, PageError> {
    let (layout, checkout) = tokio::join!(
        Layout::new(&state, &visitor, "Your order"),
        state.downstream.checkout_status(&user.token, id),
    );
    let checkout = checkout?;
    if checkout.status == "completed" {
        return Ok(after(&checkout));
    }
    let failure = (checkout.status == "failed").then(|| {
        checkout.failure.as_ref().map_or_else(
            || "The checkout did not go through, and nothing was charged.".to_owned(),
            |failure| refusal(&failure.code, &failure.message),
        )
    });
    Ok(page(&StatusPage { layout, failure }))
}
