//! The wallet's HTTP API. Users see and top up their own wallet under `/v1`
//! (bearer JWT; the wallet is always the token's user's). The checkout saga
//! charges and refunds under `/internal`, with the internal credential, and
//! an invariant checker reads the ledger totals there. Every handler carries
//! its OpenAPI description, so the document is generated from the same code
//! that serves.

use std::sync::Arc;

use axum::{
    extract::{FromRef, State},
    response::Response,
};
use eshop_platform::{
    auth::{Auth, InternalCaller, User},
    error::{ApiError, ErrorBody},
    extract::{Json, Path},
    idempotency::IdempotencyKey,
    openapi::{BearerScheme, InternalTokenScheme},
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    bank::{self, Verdict},
    domain::{
        Charge, ChargeInput, ChargeRequest, LedgerTotals, Payment, Refund, RefundInput,
        RefundRequest, TopUpInput, TopUpReceipt, TopUpRequest, Wallet,
    },
    idempotency::{Claim, Decision, Idempotent},
    store::{StoreResult, WalletStore},
};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Arc<dyn WalletStore>,
    pub(crate) auth: Auth,
    pub(crate) metrics: WalletMetrics,
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChargeLabels {
    method: &'static str,
    outcome: String,
}

/// The wallet's own metrics. An outcome is `succeeded`, `replayed`, or the
/// code of the error answered (e.g. `insufficient_funds`,
/// `processing_error`, `idempotency_key_reused`).
#[derive(Clone, Default)]
pub(crate) struct WalletMetrics {
    top_ups: Family<OutcomeLabel, Counter>,
    charges: Family<ChargeLabels, Counter>,
    refunds: Family<OutcomeLabel, Counter>,
}

impl WalletMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "wallet_top_ups",
            "Top-up requests, by outcome",
            self.top_ups.clone(),
        );
        registry.register(
            "wallet_charges",
            "Charge requests, by payment method and outcome",
            self.charges.clone(),
        );
        registry.register(
            "wallet_refunds",
            "Refund requests, by outcome",
            self.refunds.clone(),
        );
    }
}

/// The outcome a request is counted under.
fn outcome(result: &Result<Idempotent, ApiError>) -> String {
    match result {
        Ok(idempotent) => idempotent.outcome().to_owned(),
        Err(error) => error.code().to_owned(),
    }
}

const DESCRIPTION: &str = "The shop's simulated bank: a wallet per user, topped up by card, \
charged and refunded by the checkout saga.

Top-ups, charges and refunds are idempotent by a key the caller picks: the same key with the \
same request gets the first answer again (a success as 200 instead of 201, with \
`idempotent-replayed: true`), even a refusal; the same key with another request is refused with \
422 `idempotency_key_reused`. A wallet never goes below zero.

Card numbers are 16 digits (spaces ignored) passing the Luhn check. Test cards: \
`4242424242424242` succeeds; `4000000000000002` is declined (402 `card_declined`); \
`4000000000009995` is declined for insufficient funds (402 `insufficient_funds`); \
`4000000000000119` makes the bank fail (502 `processing_error`, not kept under the key, so a \
retry may succeed). Any other valid number succeeds.";

#[derive(OpenApi)]
#[openapi(
    info(title = "eShop wallet", description = DESCRIPTION),
    components(schemas(ErrorBody)),
    modifiers(&InternalTokenScheme, &BearerScheme)
)]
struct ApiDoc;

/// The API routes and their OpenAPI document.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(get_wallet))
        .routes(routes!(top_up))
        .routes(routes!(create_charge))
        .routes(routes!(get_charge))
        .routes(routes!(create_refund))
        .routes(routes!(ledger))
}

/// The caller's wallet: the balance and the latest 20 transactions, newest
/// first. A wallet is opened, empty, the first time it is used.
#[utoipa::path(get, path = "/v1/wallet", tag = "wallet",
    security(("bearer" = [])),
    responses(
        (status = OK, description = "the caller's balance", body = Wallet),
        (status = UNAUTHORIZED, description = "no token, or an invalid or expired one", body = ErrorBody),
    ))]
async fn get_wallet(user: User, State(state): State<AppState>) -> Result<Json<Wallet>, ApiError> {
    Ok(Json(state.store.wallet(user.id()).await?))
}

/// Pays money into the caller's wallet by card. The balance may not exceed
/// 10,000,000 cents.
#[utoipa::path(post, path = "/v1/wallet/top-ups", tag = "wallet",
    params(("Idempotency-Key" = String, Header,
        description = "1 to 100 printable ASCII characters of your choosing; a retry with the same key is not a second payment")),
    request_body = TopUpInput,
    security(("bearer" = [])),
    responses(
        (status = CREATED, description = "paid in", body = TopUpReceipt),
        (status = OK, description = "this key was used for this request before: the first answer", body = TopUpReceipt),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = PAYMENT_REQUIRED, description = "the card was declined: `card_declined` or `insufficient_funds`", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "invalid input, `balance_limit_exceeded`, or `idempotency_key_reused`", body = ErrorBody),
        (status = BAD_GATEWAY, description = "`processing_error`: the card's bank failed; nothing was charged", body = ErrorBody),
    ))]
async fn top_up(
    user: User,
    key: IdempotencyKey,
    State(state): State<AppState>,
    Json(input): Json<TopUpInput>,
) -> Result<Response, ApiError> {
    let request = TopUpRequest::validate(&input, user.id())?;
    let claim = request.claim(&key);
    let store = state.store.as_ref();
    let result = paid_by_card(
        store,
        &claim,
        request.card.authorize(),
        store.top_up(&claim, &request.approved()),
    )
    .await;
    state
        .metrics
        .top_ups
        .get_or_create(&OutcomeLabel {
            outcome: outcome(&result),
        })
        .inc();
    Ok(result?.into_response(&claim))
}

/// Charges a user's wallet or a card, for the checkout saga. A wallet
/// charge takes the money only if the wallet holds it all; a card charge
/// follows the test-card rules. Either way a refusal is kept under the key.
#[utoipa::path(post, path = "/internal/charges", tag = "internal",
    request_body = ChargeInput,
    security(("internal_token" = [])),
    responses(
        (status = CREATED, description = "charged", body = Charge),
        (status = OK, description = "this key was used for this request before: the first answer", body = Charge),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = PAYMENT_REQUIRED, description = "`insufficient_funds` (wallet or card) or `card_declined`; nothing was charged", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "invalid input or `idempotency_key_reused`", body = ErrorBody),
        (status = BAD_GATEWAY, description = "`processing_error`: the card's bank failed; nothing was charged and a retry may succeed", body = ErrorBody),
    ))]
async fn create_charge(
    _: InternalCaller,
    State(state): State<AppState>,
    Json(input): Json<ChargeInput>,
) -> Result<Response, ApiError> {
    let request = ChargeRequest::validate(input)?;
    let claim = request.claim();
    let verdict = match &request.payment {
        Payment::Wallet => Verdict::Approved,
        Payment::Card(card) => card.authorize(),
    };
    let charge = request.approved();
    let store = state.store.as_ref();
    let result = paid_by_card(store, &claim, verdict, store.charge(&claim, &charge)).await;
    state
        .metrics
        .charges
        .get_or_create(&ChargeLabels {
            method: charge.method.as_str(),
            outcome: outcome(&result),
        })
        .inc();
    Ok(result?.into_response(&claim))
}

/// A charge, with how much of it was refunded.
#[utoipa::path(get, path = "/internal/charges/{id}", tag = "internal",
    params(("id" = Uuid, Path, description = "the charge's id")),
    security(("internal_token" = [])),
    responses(
        (status = OK, description = "the charge", body = Charge),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "no charge has this id", body = ErrorBody),
    ))]
async fn get_charge(
    _: InternalCaller,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Charge>, ApiError> {
    let charge = state.store.charge_by_id(id).await?;
    charge
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("charge {id}")))
}

/// Refunds (part of) a charge, for the checkout saga: a wallet charge's
/// refund is credited to the wallet; a card charge's is recorded. All the
/// refunds of a charge together never exceed it.
#[utoipa::path(post, path = "/internal/refunds", tag = "internal",
    request_body = RefundInput,
    security(("internal_token" = [])),
    responses(
        (status = CREATED, description = "refunded", body = Refund),
        (status = OK, description = "this key was used for this request before: the first answer", body = Refund),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "no such charge", body = ErrorBody),
        (status = CONFLICT, description = "`refund_exceeds_charge`: the charge has less left to refund", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "invalid input or `idempotency_key_reused`", body = ErrorBody),
    ))]
async fn create_refund(
    _: InternalCaller,
    State(state): State<AppState>,
    Json(input): Json<RefundInput>,
) -> Result<Response, ApiError> {
    let request = RefundRequest::validate(&input)?;
    let claim = request.claim();
    let result = match state.store.refund(&claim, &request.approved()).await {
        Ok(Some(idempotent)) => Ok(idempotent),
        Ok(None) => Err(ApiError::not_found(format!("charge {}", request.charge_id))),
        Err(error) => Err(error.into()),
    };
    state
        .metrics
        .refunds
        .get_or_create(&OutcomeLabel {
            outcome: outcome(&result),
        })
        .inc();
    Ok(result?.into_response(&claim))
}

/// Money totals over every wallet, read in one snapshot, for an invariant
/// checker. Always `balances_cents = top_ups_cents − charged_cents +
/// refunded_cents` (wallet charges and refunds; card payments are counted
/// apart and never touch a wallet), refunds never exceed charges, and
/// `unbalanced_accounts` is 0.
#[utoipa::path(get, path = "/internal/ledger", tag = "internal",
    security(("internal_token" = [])),
    responses(
        (status = OK, description = "one page of the ledger", body = LedgerTotals),
        (status = UNAUTHORIZED, body = ErrorBody),
    ))]
async fn ledger(
    _: InternalCaller,
    State(state): State<AppState>,
) -> Result<Json<LedgerTotals>, ApiError> {
    Ok(Json(state.store.ledger().await?))
}

/// Carries out an operation whose card's bank answered `verdict` (wallet
/// payments are always approved). An approved one runs `approved`; a
/// declined one keeps the decline under the key; a failed bank moves
/// nothing and keeps nothing, unless the key already holds an answer.
async fn paid_by_card(
    store: &dyn WalletStore,
    claim: &Claim,
    verdict: Verdict,
    approved: impl Future<Output = StoreResult<Idempotent>>,
) -> Result<Idempotent, ApiError> {
    match verdict {
        Verdict::Approved => Ok(approved.await?),
        Verdict::Declined(decline) => Ok(store
            .refuse(claim, Decision::refused(&decline.error()))
            .await?),
        Verdict::ProcessingError => store
            .recorded(claim)
            .await?
            .ok_or_else(bank::processing_error),
    }
}
