//! Registering, logging in and out, and the account: the profile, saved
//! addresses and the wallet with its top-up form. Logging in sets the
//! session cookie and merges the visitor's anonymous cart into the user's.

use askama::Template;
use axum::{extract::State, response::Response};
use eshop_platform::extract::{Path, Query};
use eshop_wallet_api::{TopUpInput, TransactionKind, Wallet};
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    AppState,
    aggregate::passthrough,
    api::{clear_session_cookies, log_in, set_session_cookies},
    model::{Address, AddressInput, Login, Registration, UserProfile, day, money},
    session::Visitor,
    web::{Customer, Form, Layout, PageError, Problems, page, safe_next, see_other},
};

/// The test cards the wallet knows, as the top-up page lists them.
pub(crate) const TEST_CARDS: [(&str, &str); 4] = [
    ("4242 4242 4242 4242", "pays"),
    ("4000 0000 0000 0002", "is declined"),
    ("4000 0000 0000 9995", "is declined: insufficient funds"),
    ("4000 0000 0000 0119", "fails at the bank"),
];

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NextParams {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    layout: Layout,
    name: String,
    email: String,
    next: String,
    problems: Problems,
}

pub(crate) async fn register_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<NextParams>,
) -> Response {
    page(&RegisterPage {
        layout: Layout::new(&state, &visitor, "Create your account").await,
        name: String::new(),
        email: String::new(),
        next: safe_next(params.next.as_deref()),
        problems: Problems::none(),
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct RegisterForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

pub(crate) async fn register(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<RegisterForm>,
) -> Result<Response, PageError> {
    let registration = Registration {
        email: form.email.clone(),
        password: form.password,
        name: form.name.clone(),
    };
    let next = safe_next(form.next.as_deref());
    let again = |problems| async {
        page(&RegisterPage {
            layout: Layout::new(&state, &visitor, "Create your account").await,
            name: form.name.clone(),
            email: form.email.clone(),
            next: next.clone(),
            problems,
        })
    };
    if let Err(error) = state.downstream.register(&registration).await {
        let error = passthrough(error);
        if error.status().is_server_error() {
            return Err(error.into());
        }
        let field = if error.code() == "email_taken" {
            Some("email")
        } else {
            None
        };
        let problems = match field {
            Some(field) => Problems::on(
                field,
                "an account with this email exists already; log in instead",
            ),
            None => Problems::from_error(&error, &["name", "email", "password"]),
        };
        return Ok(again(problems).await);
    }
    let login = Login {
        email: registration.email,
        password: registration.password,
    };
    let session = log_in(&state, &visitor, &login).await?;
    let mut response = see_other(&next);
    set_session_cookies(&state, response.headers_mut(), &session);
    Ok(response)
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    problems: Problems,
}

pub(crate) async fn login_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<NextParams>,
) -> Response {
    page(&LoginPage {
        layout: Layout::new(&state, &visitor, "Log in").await,
        email: String::new(),
        next: safe_next(params.next.as_deref()),
        problems: Problems::none(),
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let next = safe_next(form.next.as_deref());
    let login = Login {
        email: form.email.clone(),
        password: form.password,
    };
    match log_in(&state, &visitor, &login).await {
        Ok(session) => {
            let mut response = see_other(&next);
            set_session_cookies(&state, response.headers_mut(), &session);
            Ok(response)
        }
        Err(error) if error.status().is_client_error() => {
            let problems = match error.code() {
                "invalid_credentials" => {
                    Problems::general("that email and password do not match an account")
                }
                _ => Problems::from_error(&error, &["email", "password"]),
            };
            Ok(page(&LoginPage {
                layout: Layout::new(&state, &visitor, "Log in").await,
                email: form.email,
                next,
                problems,
            }))
        }
        Err(error) => Err(error.into()),
    }
}

pub(crate) async fn logout(State(state): State<AppState>) -> Response {
    let mut response = see_other("/?logged_out=1");
    clear_session_cookies(&state, response.headers_mut());
    response
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    profile: UserProfile,
    addresses: Vec<Address>,
    address: AddressFields,
    problems: Problems,
    /// Which form the problem is about: `profile` or `address`.
    form: &'static str,
}

/// What the new-address form holds.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AddressFields {
    #[serde(default)]
    label: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    line1: String,
    #[serde(default)]
    line2: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    phone: String,
}

async fn account_page(
    state: &AppState,
    visitor: &Visitor,
    token: &str,
    address: AddressFields,
    problems: Problems,
    form: &'static str,
) -> Result<Response, PageError> {
    let (layout, profile, addresses) = tokio::join!(
        Layout::new(state, visitor, "Your account"),
        state.downstream.me(token),
        state.downstream.addresses(token),
    );
    Ok(page(&AccountPage {
        layout,
        profile: profile?,
        addresses: addresses?,
        address,
        problems,
        form,
    }))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Customer(user): Customer,
) -> Result<Response, PageError> {
    account_page(
        &state,
        &visitor,
        &user.token,
        AddressFields::default(),
        Problems::none(),
        "",
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct RenameForm {
    #[serde(default)]
    name: String,
}

pub(crate) async fn rename(
    State(state): State<AppState>,
    visitor: Visitor,
    Customer(user): Customer,
    Form(form): Form<RenameForm>,
) -> Result<Response, PageError> {
    match state.downstream.rename(&user.token, form.name.trim()).await {
        Ok(_) => Ok(see_other("/account")),
        Err(error) => {
            let error = passthrough(error);
            if error.status().is_server_error() {
                return Err(error.into());
            }
            let problems = Problems::from_error(&error, &["name"]);
            account_page(
                &state,
                &visitor,
                &user.token,
                AddressFields::default(),
                problems,
                "profile",
            )
            .await
        }
    }
}

pub(crate) async fn add_address(
    State(state): State<AppState>,
    visitor: Visitor,
    Customer(user): Customer,
    Form(fields): Form<AddressFields>,
) -> Result<Response, PageError> {
    let optional = |value: &str| {
        let value = value.trim();
        (!value.is_empty()).then(|| value.to_owned())
    };
    let input = AddressInput {
        label: optional(&fields.label),
        name: fields.name.trim().to_owned(),
        line1: fields.line1.trim().to_owned(),
        line2: optional(&fields.line2),
        city: fields.city.trim().to_owned(),
        postal_code: fields.postal_code.trim().to_owned(),
        country: fields.country.trim().to_uppercase(),
        phone: optional(&fields.phone),
    };
    match state.downstream.add_address(&user.token, &input).await {
        Ok(_) => Ok(see_other("/account#addresses")),
        Err(error) => {
            let error = passthrough(error);
            if error.status().is_server_error() {
                return Err(error.into());
            }
            let problems = Problems::from_error(
                &error,
                &[
                    "label",
                    "name",
                    "line1",
                    "line2",
                    "city",
                    "postal_code",
                    "country",
                    "phone",
                ],
            );
            account_page(&state, &visitor, &user.token, fields, problems, "address").await
        }
    }
}

pub(crate) async fn delete_address(
    State(state): State<AppState>,
    Customer(user): Customer,
    Path(id): Path<Uuid>,
) -> Result<Response, PageError> {
    match state.downstream.delete_address(&user.token, id).await {
        Ok(()) => Ok(see_other("/account#addresses")),
        Err(error) if error.status() == Some(axum::http::StatusCode::NOT_FOUND) => {
            Ok(see_other("/account#addresses"))
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Template)]
#[template(path = "wallet.html")]
struct WalletPage {
    layout: Layout,
    /// `None` when wallet is unavailable.
    wallet: Option<WalletView>,
    amount: String,
    card_number: String,
    key: String,
    topped_up: bool,
    problems: Problems,
    cards: [(&'static str, &'static str); 4],
}

/// A wallet as its page shows it.
struct WalletView {
    balance: String,
    transactions: Vec<TransactionRow>,
}

/// One line of the wallet page's latest transactions.
struct TransactionRow {
    date: String,
    what: &'static str,
    /// With its sign: `−` for a payment, `+` for money in.
    amount: String,
    balance_after: String,
}

impl WalletView {
    fn of(wallet: &Wallet) -> Self {
        let transactions = wallet
            .transactions
            .iter()
            .map(|transaction| {
                let (what, sign) = match transaction.kind {
                    TransactionKind::TopUp => ("Top-up", "+"),
                    TransactionKind::Charge => ("Payment", "−"),
                    TransactionKind::Refund => ("Refund", "+"),
                };
                TransactionRow {
                    date: day(transaction.created_at),
                    what,
                    amount: format!("{sign}{}", money(transaction.amount_cents)),
                    balance_after: money(transaction.balance_after_cents),
                }
            })
            .collect();
        Self {
            balance: money(wallet.balance_cents),
            transactions,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WalletParams {
    #[serde(default)]
    topped_up: Option<u8>,
}

async fn wallet_page(
    state: &AppState,
    visitor: &Visitor,
    token: &str,
    form: Option<&TopUpForm>,
    topped_up: bool,
    problems: Problems,
) -> Response {
    let (layout, wallet) = tokio::join!(
        Layout::new(state, visitor, "Your wallet"),
        state.downstream.wallet.wallet(token),
    );
    let wallet = wallet
        .inspect_err(|error| tracing::warn!(%error, "the wallet page without a wallet"))
        .ok()
        .as_ref()
        .map(WalletView::of);
    let problems = match (
        &wallet,
        problems.overall(),
        problems.about("amount"),
        problems.about("card_number"),
    ) {
        (None, None, None, None) => Problems::general(
            "the wallet is unavailable right now; your balance is safe, please try again in a moment",
        ),
        _ => problems,
    };
    page(&WalletPage {
        layout,
        wallet,
        amount: form.map_or_else(String::new, |form| form.amount.clone()),
        card_number: form.map_or_else(String::new, |form| form.card_number.clone()),
        key: Uuid::new_v4().to_string(),
        topped_up,
        problems,
        cards: TEST_CARDS,
    })
}

pub(crate) async fn wallet(
    State(state): State<AppState>,
    visitor: Visitor,
    Customer(user): Customer,
    Query(params): Query<WalletParams>,
) -> Response {
    wallet_page(
        &state,
        &visitor,
        &user.token,
        None,
        params.topped_up.is_some(),
        Problems::none(),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct TopUpForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    key: String,
}

/// An amount typed in euros (`50`, `12.5`, `12,50`) in cents.
fn cents(amount: &str) -> Option<i64> {
    let amount = amount
        .trim()
        .trim_start_matches('€')
        .trim()
        .replace(',', ".");
    let (units, fraction) = amount.split_once('.').unwrap_or((&amount, ""));
    if units.is_empty() || fraction.len() > 2 || !units.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let units: i64 = units.parse().ok()?;
    let fraction: i64 = format!("{fraction:0<2}").parse().ok()?;
    units.checked_mul(100)?.checked_add(fraction)
}

pub(crate) async fn top_up(
    State(state): State<AppState>,
    visitor: Visitor,
    Customer(user): Customer,
    Form(form): Form<TopUpForm>,
) -> Response {
    let Some(amount_cents) = cents(&form.amount).filter(|cents| *cents > 0) else {
        let problems = Problems::on("amount", "enter an amount in euros, such as 50 or 12.50");
        return wallet_page(&state, &visitor, &user.token, Some(&form), false, problems).await;
    };
    let key = if form.key.is_empty() {
        Uuid::new_v4().to_string()
    } else {
        form.key.clone()
    };
    let top_up = TopUpInput {
        amount_cents,
        card_number: form.card_number.trim().to_owned(),
    };
    match state
        .downstream
        .wallet
        .top_up(&user.token, &key, &top_up)
        .await
    {
        Ok(_) => see_other("/account/wallet?topped_up=1"),
        Err(error) => {
            let error = passthrough(error);
            let problems = match error.code() {
                "card_declined" => {
                    Problems::on("card_number", "this card was declined; nothing was charged")
                }
                "insufficient_funds" => Problems::on(
                    "card_number",
                    "the card's account does not hold enough money; nothing was charged",
                ),
                "processing_error" => Problems::general(
                    "the card's bank did not answer; nothing was charged, please try again",
                ),
                _ if error.status().is_server_error() => Problems::general(
                    "the wallet is unavailable right now; nothing was charged, please try again in a moment",
                ),
                _ => Problems::from_error(&error, &["amount", "card_number"]),
            };
            wallet_page(&state, &visitor, &user.token, Some(&form), false, problems).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_in_euros_into_cents() {
        assert_eq!(cents("50"), Some(5_000));
        assert_eq!(cents("12.5"), Some(1_250));
        assert_eq!(cents("€ 12,05"), Some(1_205));
        for bad in ["", "abc", "1.234", "-5", "1.2.3"] {
            assert_eq!(cents(bad), None, "{bad}");
        }
    }
}
