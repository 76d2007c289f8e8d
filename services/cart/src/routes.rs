//! The cart's HTTP API. Shoppers reach their own cart under `/v1/cart`, as
//! a user (bearer JWT) or as an anonymous visitor (`x-session-id`); the
//! checkout saga reads and empties users' carts under `/internal`, with the
//! internal credential. Every handler carries its OpenAPI description, so
//! the document is generated from the same code that serves.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{FromRef, FromRequestParts, State},
    http::{StatusCode, request::Parts},
};
use eshop_catalog_api::{CatalogClient, Product};
use eshop_platform::{
    auth::{Auth, InternalCaller, MaybeUser, User},
    client::CallError,
    error::{ApiError, ErrorBody},
    extract::{Json, Path},
    openapi::{BearerScheme, InternalTokenScheme},
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, SecurityScheme},
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    domain::{
        AddItem, CartOwner, CartView, Change, LineWrite, MAX_LINES, MAX_QUANTITY, MergeInput,
        SetQuantity, Sku, WriteOutcome, check_quantity, parse_session_id,
    },
    store::CartStore,
};

/// The header that carries an anonymous visitor's session id.
pub const SESSION_HEADER: &str = "x-session-id";

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Arc<dyn CartStore>,
    pub(crate) auth: Auth,
    pub(crate) catalog: CatalogClient,
    pub(crate) metrics: CartMetrics,
    /// How long an idle cart is kept.
    pub(crate) ttl: Duration,
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OwnerLabel {
    owner: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// The cart's own metrics.
#[derive(Clone, Default)]
pub(crate) struct CartMetrics {
    items_added: Family<OwnerLabel, Counter>,
    lines_removed: Counter,
    carts_cleared: Family<OwnerLabel, Counter>,
    merges: Family<OutcomeLabel, Counter>,
    merge_lines_dropped: Counter,
    refused: Family<ReasonLabel, Counter>,
    pub(crate) expired: Counter,
}

impl CartMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "cart_items_added",
            "Units put into carts, by whose cart (user or session)",
            self.items_added.clone(),
        );
        registry.register(
            "cart_lines_removed",
            "Lines taken out of carts one by one",
            self.lines_removed.clone(),
        );
        registry.register(
            "cart_carts_cleared",
            "Carts emptied, by whose cart (user, session, or checkout for the saga)",
            self.carts_cleared.clone(),
        );
        registry.register(
            "cart_merges",
            "Anonymous carts merged into users' carts at login, by outcome (merged or nothing)",
            self.merges.clone(),
        );
        registry.register(
            "cart_merge_lines_dropped",
            "Lines of anonymous carts left out of a merge because the user's cart was full",
            self.merge_lines_dropped.clone(),
        );
        registry.register(
            "cart_writes_refused",
            "Adds and quantity changes refused, by reason",
            self.refused.clone(),
        );
        registry.register(
            "cart_carts_expired",
            "Idle carts deleted by the embedded backend's expiry worker (Redis expires them itself)",
            self.expired.clone(),
        );
    }

    fn refuse(&self, reason: &'static str) {
        self.refused.get_or_create(&ReasonLabel { reason }).inc();
    }

    fn cleared(&self, owner: &'static str) {
        self.carts_cleared
            .get_or_create(&OwnerLabel { owner })
            .inc();
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "eShop cart",
        description = "Carts of users and of anonymous visitors: lines priced and checked against the catalog, merged at login, dropped when idle."
    ),
    components(schemas(ErrorBody)),
    modifiers(&InternalTokenScheme, &BearerScheme, &SessionIdScheme)
)]
struct ApiDoc;

/// The `session_id` scheme: an anonymous visitor's cart.
struct SessionIdScheme;

impl Modify for SessionIdScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_default();
        components.add_security_scheme(
            "session_id",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                SESSION_HEADER,
                "an anonymous visitor's session id, a UUID the storefront makes up; a bearer token wins over it",
            ))),
        );
    }
}

/// The API routes and their OpenAPI document.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(get_cart, clear_cart))
        .routes(routes!(add_item))
        .routes(routes!(set_item, remove_item))
        .routes(routes!(merge_carts))
        .routes(routes!(internal_cart, internal_clear))
}

/// Whose cart a shopper's request is about: the user of a bearer token,
/// else the anonymous session of `x-session-id`. A token that is present
/// but invalid or expired is refused, whatever session id comes with it.
impl<S> FromRequestParts<S> for CartOwner
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let MaybeUser(Some(user)) = MaybeUser::from_request_parts(parts, state).await? {
            return Ok(Self::User(user.id()));
        }
        let Some(session) = parts.headers.get(SESSION_HEADER) else {
            return Err(ApiError::unauthorized(
                "unauthorized",
                "log in, or send the anonymous session id in x-session-id",
            ));
        };
        let session = session.to_str().unwrap_or_default();
        parse_session_id(SESSION_HEADER, session).map(Self::Session)
    }
}

/// The caller's cart; an unknown or expired cart is an empty one.
#[utoipa::path(get, path = "/v1/cart", tag = "cart",
    security(("bearer" = []), ("session_id" = [])),
    responses(
        (status = OK, description = "the caller's cart; an unknown or expired one is empty", body = CartView),
        (status = UNAUTHORIZED, description = "no credentials, or a bad or expired token", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "the session id is not a UUID", body = ErrorBody),
    ))]
async fn get_cart(
    owner: CartOwner,
    State(state): State<AppState>,
) -> Result<Json<CartView>, ApiError> {
    Ok(Json(state.store.cart(owner).await?.into()))
}

/// Empties the caller's cart.
#[utoipa::path(delete, path = "/v1/cart", tag = "cart",
    security(("bearer" = []), ("session_id" = [])),
    responses(
        (status = NO_CONTENT, description = "the cart is empty"),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "the session id is not a UUID", body = ErrorBody),
    ))]
async fn clear_cart(
    owner: CartOwner,
    State(state): State<AppState>,
) -> Result<StatusCode, ApiError> {
    state.store.clear(owner).await?;
    state.metrics.cleared(owner.kind());
    Ok(StatusCode::NO_CONTENT)
}

/// Adds units of a product to what the cart holds, at the catalog's
/// current name and price. A line holds at most 99 units, a cart at most
/// 50 lines, and no line more than the catalog has in stock.
#[utoipa::path(post, path = "/v1/cart/items", tag = "cart",
    request_body = AddItem,
    security(("bearer" = []), ("session_id" = [])),
    responses(
        (status = OK, description = "the cart after the change", body = CartView),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = CONFLICT, description = "`insufficient_stock` (field `quantity`) or `cart_full` (field `sku`)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "a field is invalid, the product does not exist (field `sku`), or the line would exceed 99 (field `quantity`)", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, description = "the catalog cannot be reached", body = ErrorBody),
    ))]
async fn add_item(
    owner: CartOwner,
    State(state): State<AppState>,
    Json(input): Json<AddItem>,
) -> Result<Json<CartView>, ApiError> {
    let sku = Sku::parse("sku", &input.sku)?;
    let quantity = check_quantity("quantity", input.quantity)?;
    write_line(&state, owner, sku, Change::Add(quantity))
        .await
        .map(Json)
}

/// Sets how many units of a product the cart holds, adding the line if it
/// is not there, at the catalog's current name and price.
#[utoipa::path(put, path = "/v1/cart/items/{sku}", tag = "cart",
    params(("sku" = String, Path, description = "the product's SKU")),
    request_body = SetQuantity,
    security(("bearer" = []), ("session_id" = [])),
    responses(
        (status = OK, description = "the cart after the change", body = CartView),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = CONFLICT, description = "`insufficient_stock` (field `quantity`) or `cart_full` (field `sku`)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "a field is invalid, or the product does not exist (field `sku`)", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, description = "the catalog cannot be reached", body = ErrorBody),
    ))]
async fn set_item(
    owner: CartOwner,
    State(state): State<AppState>,
    Path(sku): Path<String>,
    Json(input): Json<SetQuantity>,
) -> Result<Json<CartView>, ApiError> {
    let sku = Sku::parse("sku", &sku)?;
    let quantity = check_quantity("quantity", input.quantity)?;
    write_line(&state, owner, sku, Change::Set(quantity))
        .await
        .map(Json)
}

/// Takes a product out of the cart.
#[utoipa::path(delete, path = "/v1/cart/items/{sku}", tag = "cart",
    params(("sku" = String, Path, description = "the product's SKU")),
    security(("bearer" = []), ("session_id" = [])),
    responses(
        (status = NO_CONTENT, description = "removed"),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "the cart does not hold this product", body = ErrorBody),
    ))]
async fn remove_item(
    owner: CartOwner,
    State(state): State<AppState>,
    Path(sku): Path<String>,
) -> Result<StatusCode, ApiError> {
    let not_in_cart = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("the cart holds no {sku}"),
        )
        .with_field("sku")
    };
    // A SKU that cannot exist cannot be in the cart either.
    let valid = Sku::parse("sku", &sku).map_err(|_| not_in_cart())?;
    if state.store.remove_line(owner, &valid, state.ttl).await? {
        state.metrics.lines_removed.inc();
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_in_cart())
    }
}

/// At login: moves the anonymous session's lines into the user's cart and
/// deletes the anonymous cart. Quantities of a product in both are summed
/// (up to 99) and take the anonymous line's name and price; lines beyond
/// the 50 a cart holds are left out. An empty or unknown session changes
/// nothing.
#[utoipa::path(post, path = "/v1/cart/merge", tag = "cart",
    request_body = MergeInput,
    security(("bearer" = [])),
    responses(
        (status = OK, description = "the user's cart after the merge", body = CartView),
        (status = UNAUTHORIZED, description = "no valid user token", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "the session id is not a UUID", body = ErrorBody),
    ))]
async fn merge_carts(
    user: User,
    State(state): State<AppState>,
    Json(input): Json<MergeInput>,
) -> Result<Json<CartView>, ApiError> {
    let session = parse_session_id("session_id", &input.session_id)?;
    let outcome = state
        .store
        .merge(
            CartOwner::Session(session),
            CartOwner::User(user.id()),
            state.ttl,
        )
        .await?;
    let metrics = &state.metrics;
    let outcome_label = if outcome.moved + outcome.dropped > 0 {
        "merged"
    } else {
        "nothing"
    };
    metrics
        .merges
        .get_or_create(&OutcomeLabel {
            outcome: outcome_label,
        })
        .inc();
    metrics.merge_lines_dropped.inc_by(outcome.dropped);
    if outcome.dropped > 0 {
        tracing::info!(
            dropped = outcome.dropped,
            "a merge left out lines of a full cart"
        );
    }
    Ok(Json(outcome.cart.into()))
}

/// A user's cart, for checkout.
#[utoipa::path(get, path = "/internal/carts/{user_id}", tag = "internal",
    params(("user_id" = Uuid, Path, description = "the user's id")),
    security(("internal_token" = [])),
    responses(
        (status = OK, description = "the user's cart; an unknown or expired one is empty", body = CartView),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "the user id is not a UUID", body = ErrorBody),
    ))]
async fn internal_cart(
    _: InternalCaller,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<Json<CartView>, ApiError> {
    let owner = CartOwner::User(parse_user_id(&user_id)?);
    Ok(Json(state.store.cart(owner).await?.into()))
}

/// Empties a user's cart once their order is placed; emptying an empty
/// cart is fine.
#[utoipa::path(delete, path = "/internal/carts/{user_id}", tag = "internal",
    params(("user_id" = Uuid, Path, description = "the user's id")),
    security(("internal_token" = [])),
    responses(
        (status = NO_CONTENT, description = "the cart is empty"),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "the user id is not a UUID", body = ErrorBody),
    ))]
async fn internal_clear(
    _: InternalCaller,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let owner = CartOwner::User(parse_user_id(&user_id)?);
    state.store.clear(owner).await?;
    state.metrics.cleared("checkout");
    Ok(StatusCode::NO_CONTENT)
}

fn parse_user_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(text).map_err(|_| ApiError::invalid("user_id", "a user id is a UUID"))
}

/// Writes a line after checking the product against the catalog: it must
/// exist, and have the units in stock.
async fn write_line(
    state: &AppState,
    owner: CartOwner,
    sku: Sku,
    change: Change,
) -> Result<CartView, ApiError> {
    let Some(product) = catalog_product(&state.catalog, &sku).await? else {
        state.metrics.refuse("unknown_product");
        return Err(ApiError::invalid(
            "sku",
            format!("product {sku} does not exist"),
        ));
    };
    let stock = product.stock.max(0);
    let requested = match change {
        Change::Set(quantity) | Change::Add(quantity) => quantity,
    };
    if i64::from(requested) > stock {
        state.metrics.refuse("insufficient_stock");
        return Err(insufficient_stock(&sku, stock, None));
    }
    let line = LineWrite {
        limit: u32::try_from(stock).map_or(MAX_QUANTITY, |stock| stock.min(MAX_QUANTITY)),
        sku,
        name: product.name,
        unit_price_cents: product.price_cents,
        change,
    };
    match state.store.write_line(owner, &line, state.ttl).await? {
        WriteOutcome::Written { cart, previous } => {
            let now = cart
                .lines
                .iter()
                .find(|held| held.sku == line.sku)
                .map_or(0, |held| held.quantity);
            state
                .metrics
                .items_added
                .get_or_create(&OwnerLabel {
                    owner: owner.kind(),
                })
                .inc_by(u64::from(now.saturating_sub(previous)));
            Ok(cart.into())
        }
        WriteOutcome::OverLimit { current } if wanted(change, current) > MAX_QUANTITY => {
            state.metrics.refuse("quantity_limit");
            Err(ApiError::invalid(
                "quantity",
                format!(
                    "a line holds at most {MAX_QUANTITY} units and the cart already holds {current} of {}",
                    line.sku
                ),
            ))
        }
        WriteOutcome::OverLimit { current } => {
            state.metrics.refuse("insufficient_stock");
            Err(insufficient_stock(&line.sku, stock, Some(current)))
        }
        WriteOutcome::TooManyLines => {
            state.metrics.refuse("cart_full");
            Err(ApiError::conflict(
                "cart_full",
                format!("a cart holds at most {MAX_LINES} different products; remove one first"),
            )
            .with_field("sku"))
        }
    }
}

/// The units a line would hold after `change`, when it holds `current`.
fn wanted(change: Change, current: u32) -> u32 {
    match change {
        Change::Set(quantity) => quantity,
        Change::Add(quantity) => current.saturating_add(quantity),
    }
}

fn insufficient_stock(sku: &Sku, left: i64, held: Option<u32>) -> ApiError {
    let message = match held {
        Some(held) => format!("only {left} of {sku} left, and the cart already holds {held}"),
        None => format!("only {left} of {sku} left"),
    };
    ApiError::conflict("insufficient_stock", message).with_field("quantity")
}

/// The product as the catalog has it now, or `None` if the catalog does
/// not know it. A catalog that cannot be reached is 503.
async fn catalog_product(catalog: &CatalogClient, sku: &Sku) -> Result<Option<Product>, ApiError> {
    let product = match catalog.product(sku.as_str()).await {
        Ok(product) => product,
        Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    if product.price_cents < 0 || product.name.trim().is_empty() {
        return Err(CallError::BadAnswer {
            service: "catalog",
            reason: format!("product {sku} has no name or a negative price"),
        }
        .into());
    }
    Ok(Some(product))
}
