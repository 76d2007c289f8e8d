//! The public JSON API under `/api`: the shop for programs, and the few
//! endpoints the pages' scripts call (city suggestions, order status).
//!
//! Callers authenticate with a bearer JWT (from `POST /api/sessions`) or
//! the session cookie; anonymous carts use `x-session-id` or the visitor
//! cookie. Errors have the shared shape, with the field at fault when a
//! service names one. Every handler carries its OpenAPI description.

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::any,
};
use eshop_platform::{
    error::{ApiError, ErrorBody},
    extract::{Json, Path, Query},
    idempotency::IdempotencyKey,
    openapi::BearerScheme,
    sku::Sku,
};
use eshop_wallet_api::{TopUpInput, TopUpReceipt, Wallet};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    aggregate::{self, passthrough},
    downstream::ProductQuery,
    model::{
        AddItem, Address, AddressInput, Cart, Category, Checkout, CheckoutRequest, CitiesParams,
        City, Login, Order, OrderSummary, OrdersParams, Page, ProductDetail, ProductList,
        ProductsParams, Quote, QuoteRequest, Rating, RatingInput, Registration, Session,
        SetQuantity, UserProfile,
    },
    session::{SESSION_COOKIE, SignedInUser, Visitor},
};

const DESCRIPTION: &str = "The eShop's public API: the whole shop behind one address. \
Product answers gather the product, its rating, latest reviews and stock in one call; when the \
optional ratings service is down they still answer, with `ratings: null` and \
`degraded: [\"ratings\"]`.

Authenticate with `authorization: Bearer <token>` from `POST /api/sessions` (the web pages use \
an HttpOnly cookie instead). Without a token, the cart is an anonymous one named by the \
`x-session-id` header (a UUID of your choosing) or the visitor cookie; logging in merges it into \
the user's cart.

Each client address may send a burst of requests and then a steady rate; beyond that the answer \
is 429 with `Retry-After`. Errors have one shape: `{\"error\": {\"code\", \"message\", \"field\"}}`.

Test cards: `4242424242424242` succeeds, `4000000000000002` is declined, `4000000000009995` is \
declined for insufficient funds, `4000000000000119` fails at the bank.";

#[derive(OpenApi)]
#[openapi(
    info(title = "eShop gateway", description = DESCRIPTION),
    components(schemas(ErrorBody)),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(categories))
        .routes(routes!(products))
        .routes(routes!(product))
        .routes(routes!(product_image))
        .routes(routes!(rate))
        .routes(routes!(cart))
        .routes(routes!(add_item))
        .routes(routes!(set_quantity, remove_item))
        .routes(routes!(register))
        .routes(routes!(login, logout))
        .routes(routes!(me))
        .routes(routes!(addresses, add_address))
        .routes(routes!(wallet))
        .routes(routes!(top_up))
        .routes(routes!(cities))
        .routes(routes!(quote))
        .routes(routes!(orders))
        .routes(routes!(order))
        .routes(routes!(invoice))
        .routes(routes!(checkout))
        .routes(routes!(checkout_status))
        .route("/api/{*rest}", any(no_such_endpoint))
}

async fn no_such_endpoint() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// The signed-in user, or 401.
fn signed_in(visitor: &Visitor) -> Result<&SignedInUser, ApiError> {
    visitor
        .user
        .as_ref()
        .ok_or_else(|| ApiError::unauthorized("unauthorized", "log in first: no bearer token"))
}

/// Every category, with how many products it has.
#[utoipa::path(get, path = "/api/categories", tag = "catalog",
    responses((status = OK, description = "every category", body = Vec<Category>), (status = SERVICE_UNAVAILABLE, body = ErrorBody)))]
async fn categories(State(state): State<AppState>) -> Result<Json<Vec<Category>>, ApiError> {
    Ok(Json(
        state.downstream.categories().await.map_err(passthrough)?,
    ))
}

/// A page of products, by category or search, each with its rating.
#[utoipa::path(get, path = "/api/products", tag = "catalog", params(ProductsParams),
    responses(
        (status = OK, description = "one page of the matching products", body = ProductList),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, body = ErrorBody),
    ))]
async fn products(
    State(state): State<AppState>,
    Query(params): Query<ProductsParams>,
) -> Result<Json<ProductList>, ApiError> {
    let query = ProductQuery {
        category: params.category,
        q: params.q,
        sort: params.sort,
        page: params.page.unwrap_or(1),
        per_page: params.per_page.unwrap_or(20),
    };
    Ok(Json(aggregate::product_list(&state, &query).await?))
}

/// A product with its stock, rating summary, latest reviews and the
/// caller's own rating, gathered in parallel. Without ratings it still
/// answers: `ratings` and `reviews` are null and `degraded` names ratings.
#[utoipa::path(get, path = "/api/products/{sku}", tag = "catalog",
    params(("sku" = String, Path, example = "ROBOT-ARM-2")),
    responses(
        (status = OK, description = "the product with its ratings and reviews; `degraded` names what could not be shown", body = ProductDetail),
        (status = NOT_FOUND, description = "no product has this SKU", body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, description = "catalog is unavailable", body = ErrorBody),
    ))]
async fn product(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(sku): Path<String>,
) -> Result<Json<ProductDetail>, ApiError> {
    Ok(Json(
        aggregate::product_detail(&state, &visitor, &sku).await?,
    ))
}

/// A product's picture, as SVG.
#[utoipa::path(get, path = "/api/products/{sku}/image.svg", tag = "catalog",
    params(("sku" = String, Path)),
    responses(
        (status = OK, description = "the product's picture", content_type = "image/svg+xml", body = String),
        (status = NOT_FOUND, description = "no product has this SKU", body = ErrorBody),
    ))]
async fn product_image(
    State(state): State<AppState>,
    Path(sku): Path<String>,
) -> Result<Response, ApiError> {
    if !Sku::is_valid(&sku) {
        return Err(ApiError::not_found(format!("product {sku}")));
    }
    let image = state.downstream.image(&sku).await.map_err(passthrough)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        Body::from(image),
    )
        .into_response())
}

/// Rates a product for the caller, replacing their previous rating.
#[utoipa::path(put, path = "/api/products/{sku}/rating", tag = "catalog",
    params(("sku" = String, Path)),
    request_body = RatingInput,
    security(("bearer" = [])),
    responses(
        (status = OK, description = "the product's rating after the customer's", body = Rating),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "no product has this SKU", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, description = "ratings is unavailable", body = ErrorBody),
    ))]
async fn rate(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(sku): Path<String>,
    Json(input): Json<RatingInput>,
) -> Result<Json<Rating>, ApiError> {
    let user = signed_in(&visitor)?;
    if !Sku::is_valid(&sku) {
        return Err(ApiError::not_found(format!("product {sku}")));
    }
    Ok(Json(
        state
            .downstream
            .rate(&sku, &user.token, &input)
            .await
            .map_err(passthrough)?,
    ))
}

/// The caller's cart: the user's, or the anonymous one of `x-session-id`.
#[utoipa::path(get, path = "/api/cart", tag = "cart",
    params(("x-session-id" = Option<Uuid>, Header, description = "an anonymous cart, without a token")),
    responses(
        (status = OK, description = "the visitor's cart", body = Cart),
        (status = UNPROCESSABLE_ENTITY, description = "the `x-session-id` is not a UUID", body = ErrorBody),
    ))]
async fn cart(State(state): State<AppState>, visitor: Visitor) -> Result<Json<Cart>, ApiError> {
    Ok(Json(
        state
            .downstream
            .cart(&visitor.cart_owner())
            .await
            .map_err(passthrough)?,
    ))
}

/// Adds units of a product to the cart.
#[utoipa::path(post, path = "/api/cart/items", tag = "cart", request_body = AddItem,
    params(("x-session-id" = Option<Uuid>, Header, description = "an anonymous cart, without a token")),
    responses(
        (status = OK, description = "the cart after the change", body = Cart),
        (status = CONFLICT, description = "not enough stock, or the cart is full", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "a field is invalid, the product does not exist (field `sku`), or the `x-session-id` is not a UUID", body = ErrorBody),
    ))]
async fn add_item(
    State(state): State<AppState>,
    visitor: Visitor,
    Json(item): Json<AddItem>,
) -> Result<Json<Cart>, ApiError> {
    Ok(Json(
        state
            .downstream
            .add_item(&visitor.cart_owner(), &item)
            .await
            .map_err(passthrough)?,
    ))
}

/// Sets how many units of a product the cart holds.
#[utoipa::path(put, path = "/api/cart/items/{sku}", tag = "cart", request_body = SetQuantity,
    params(("sku" = String, Path), ("x-session-id" = Option<Uuid>, Header)),
    responses(
        (status = OK, description = "the cart after the change", body = Cart),
        (status = NOT_FOUND, description = "no product has this SKU", body = ErrorBody),
        (status = CONFLICT, description = "not enough stock (`insufficient_stock`) or the cart is full (`cart_full`)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "a field is invalid, the product does not exist (field `sku`), or the `x-session-id` is not a UUID", body = ErrorBody),
    ))]
async fn set_quantity(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(sku): Path<String>,
    Json(input): Json<SetQuantity>,
) -> Result<Json<Cart>, ApiError> {
    if !Sku::is_valid(&sku) {
        return Err(ApiError::not_found(format!("product {sku}")));
    }
    Ok(Json(
        state
            .downstream
            .set_quantity(&visitor.cart_owner(), &sku, input.quantity)
            .await
            .map_err(passthrough)?,
    ))
}

/// Takes a product out of the cart.
#[utoipa::path(delete, path = "/api/cart/items/{sku}", tag = "cart",
    params(("sku" = String, Path), ("x-session-id" = Option<Uuid>, Header)),
    responses(
        (status = NO_CONTENT, description = "it is not in the cart (any more)"),
        (status = UNPROCESSABLE_ENTITY, description = "the `x-session-id` is not a UUID", body = ErrorBody),
    ))]
async fn remove_item(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(sku): Path<String>,
) -> Result<StatusCode, ApiError> {
    if Sku::is_valid(&sku) {
        state
            .downstream
            .remove_item(&visitor.cart_owner(), &sku)
            .await
            .map_err(passthrough)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Creates an account.
#[utoipa::path(post, path = "/api/users", tag = "account", request_body = Registration,
    responses(
        (status = CREATED, description = "the customer, registered", body = UserProfile),
        (status = CONFLICT, description = "`email_taken`", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody),
    ))]
async fn register(
    State(state): State<AppState>,
    Json(registration): Json<Registration>,
) -> Result<(StatusCode, Json<UserProfile>), ApiError> {
    let profile = state
        .downstream
        .register(&registration)
        .await
        .map_err(passthrough)?;
    Ok((StatusCode::CREATED, Json(profile)))
}

/// Logs in: a bearer token, also set as the session cookie. The anonymous
/// cart of the caller joins the user's.
#[utoipa::path(post, path = "/api/sessions", tag = "account", request_body = Login,
    responses(
        (status = OK, description = "a token for the customer", body = Session),
        (status = UNAUTHORIZED, description = "`invalid_credentials`", body = ErrorBody),
        (status = TOO_MANY_REQUESTS, description = "too many failed attempts", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    visitor: Visitor,
    Json(login): Json<Login>,
) -> Result<Response, ApiError> {
    let session = log_in(&state, &visitor, &login).await?;
    let mut response = Json(session.clone()).into_response();
    set_session_cookies(&state, response.headers_mut(), &session);
    Ok(response)
}

/// Logs in and merges the visitor's anonymous cart into the user's.
pub(crate) async fn log_in(
    state: &AppState,
    visitor: &Visitor,
    login: &Login,
) -> Result<Session, ApiError> {
    let session = state
        .downstream
        .login(login, visitor.address)
        .await
        .map_err(passthrough)?;
    if let Err(error) = state
        .downstream
        .merge_cart(&session.token, visitor.session)
        .await
    {
        tracing::warn!(%error, "the anonymous cart was not merged at login");
    }
    Ok(session)
}

/// The session cookie for a new session, and a fresh anonymous cart id.
pub(crate) fn set_session_cookies(state: &AppState, headers: &mut HeaderMap, session: &Session) {
    let expires = u64::try_from(session.expires_at.unix_timestamp()).unwrap_or(0);
    headers.append(
        header::SET_COOKIE,
        state.cookies.session(&session.token, expires),
    );
    headers.append(header::SET_COOKIE, state.cookies.visitor(Uuid::new_v4()));
}

/// The cookies that end a session.
pub(crate) fn clear_session_cookies(state: &AppState, headers: &mut HeaderMap) {
    headers.append(header::SET_COOKIE, state.cookies.clear(SESSION_COOKIE));
    headers.append(header::SET_COOKIE, state.cookies.visitor(Uuid::new_v4()));
}

/// Logs out: the session cookie is removed. Bearer tokens stay valid
/// until they expire; a client forgets its own.
#[utoipa::path(delete, path = "/api/sessions", tag = "account",
    responses((status = NO_CONTENT, description = "logged out")))]
async fn logout(State(state): State<AppState>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    clear_session_cookies(&state, response.headers_mut());
    response
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/me", tag = "account", security(("bearer" = [])),
    responses((status = OK, description = "the customer's profile", body = UserProfile), (status = UNAUTHORIZED, body = ErrorBody)))]
async fn me(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Json<UserProfile>, ApiError> {
    let user = signed_in(&visitor)?;
    Ok(Json(
        state
            .downstream
            .me(&user.token)
            .await
            .map_err(passthrough)?,
    ))
}

/// The signed-in user's addresses.
#[utoipa::path(get, path = "/api/me/addresses", tag = "account", security(("bearer" = [])),
    responses((status = OK, description = "the customer's addresses", body = Vec<Address>), (status = UNAUTHORIZED, body = ErrorBody)))]
async fn addresses(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Json<Vec<Address>>, ApiError> {
    let user = signed_in(&visitor)?;
    Ok(Json(
        state
            .downstream
            .addresses(&user.token)
            .await
            .map_err(passthrough)?,
    ))
}

/// Adds an address.
#[utoipa::path(post, path = "/api/me/addresses", tag = "account", request_body = AddressInput,
    security(("bearer" = [])),
    responses(
        (status = CREATED, description = "the address, added", body = Address),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = CONFLICT, description = "`too_many_addresses`", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody),
    ))]
async fn add_address(
    State(state): State<AppState>,
    visitor: Visitor,
    Json(input): Json<AddressInput>,
) -> Result<(StatusCode, Json<Address>), ApiError> {
    let user = signed_in(&visitor)?;
    let address = state
        .downstream
        .add_address(&user.token, &input)
        .await
        .map_err(passthrough)?;
    Ok((StatusCode::CREATED, Json(address)))
}

/// The caller's wallet: balance and latest transactions.
#[utoipa::path(get, path = "/api/wallet", tag = "wallet", security(("bearer" = [])),
    responses(
        (status = OK, description = "the customer's balance", body = Wallet),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, description = "wallet is unavailable", body = ErrorBody),
    ))]
async fn wallet(State(state): State<AppState>, visitor: Visitor) -> Result<Json<Wallet>, ApiError> {
    let user = signed_in(&visitor)?;
    Ok(Json(
        state
            .downstream
            .wallet
            .wallet(&user.token)
            .await
            .map_err(passthrough)?,
    ))
}

/// Pays money into the wallet by card. Send the same `Idempotency-Key` on
/// a retry: it pays once.
#[utoipa::path(post, path = "/api/wallet/top-ups", tag = "wallet", request_body = TopUpInput,
    params(("Idempotency-Key" = String, Header)),
    security(("bearer" = [])),
    responses(
        (status = OK, description = "the balance after the top-up", body = TopUpReceipt),
        (status = PAYMENT_REQUIRED, description = "`card_declined` or `insufficient_funds`", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, description = "the bank failed or wallet is unavailable", body = ErrorBody),
    ))]
async fn top_up(
    State(state): State<AppState>,
    visitor: Visitor,
    key: Result<IdempotencyKey, ApiError>,
    Json(input): Json<TopUpInput>,
) -> Result<Json<TopUpReceipt>, ApiError> {
    let user = signed_in(&visitor)?;
    let key = key?;
    Ok(Json(
        state
            .downstream
            .wallet
            .top_up(&user.token, key.as_str(), &input)
            .await
            .map_err(passthrough)?,
    ))
}

/// Cities whose name starts with `q`, the largest first: the suggestions
/// of the checkout's city picker.
#[utoipa::path(get, path = "/api/cities", tag = "shipping", params(CitiesParams),
    responses(
        (status = OK, description = "the matching cities", body = Vec<City>),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, description = "shipping is unavailable", body = ErrorBody),
    ))]
async fn cities(
    State(state): State<AppState>,
    Query(params): Query<CitiesParams>,
) -> Result<Json<Vec<City>>, ApiError> {
    let limit = params.limit.unwrap_or(8).clamp(1, 20);
    Ok(Json(
        state
            .downstream
            .cities(params.q.trim(), limit)
            .await
            .map_err(passthrough)?,
    ))
}

/// What shipping the caller's cart to a city costs.
#[utoipa::path(post, path = "/api/quotes", tag = "shipping", request_body = QuoteRequest,
    params(("x-session-id" = Option<Uuid>, Header)),
    responses(
        (status = OK, description = "the shipping quote", body = Quote),
        (status = CONFLICT, description = "`cart_empty`", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody),
    ))]
async fn quote(
    State(state): State<AppState>,
    visitor: Visitor,
    Json(request): Json<QuoteRequest>,
) -> Result<Json<Quote>, ApiError> {
    Ok(Json(
        crate::web::checkout::quote_cart(&state, &visitor, &request.city_id).await?,
    ))
}

/// The caller's orders, newest first, with their status: the order
/// history page polls it to show status changes as they happen.
#[utoipa::path(get, path = "/api/orders", tag = "orders", params(OrdersParams),
    security(("bearer" = [])),
    responses((status = OK, description = "one page of the customer's orders, newest first", body = Page<OrderSummary>), (status = UNAUTHORIZED, body = ErrorBody)))]
async fn orders(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<OrdersParams>,
) -> Result<Json<Page<OrderSummary>>, ApiError> {
    let user = signed_in(&visitor)?;
    Ok(Json(
        state
            .downstream
            .orders(&user.token, params.page.unwrap_or(1))
            .await
            .map_err(passthrough)?,
    ))
}

/// One of the caller's orders, with its lines and history.
#[utoipa::path(get, path = "/api/orders/{id}", tag = "orders", params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = OK, description = "the order", body = Order),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "the customer has no order with this id", body = ErrorBody),
    ))]
async fn order(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<Uuid>,
) -> Result<Json<Order>, ApiError> {
    let user = signed_in(&visitor)?;
    Ok(Json(
        state
            .downstream
            .order(&user.token, id)
            .await
            .map_err(passthrough)?,
    ))
}

/// An order's invoice, as a printable HTML page.
#[utoipa::path(get, path = "/api/orders/{id}/invoice", tag = "orders", params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = OK, description = "the order's invoice", content_type = "text/html", body = String),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "the customer has no order with this id", body = ErrorBody),
    ))]
async fn invoice(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let user = signed_in(&visitor)?;
    let page = state
        .downstream
        .invoice(&user.token, id)
        .await
        .map_err(passthrough)?;
    Ok((
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        Body::from(page),
    )
        .into_response())
}

/// Buys what is in the caller's cart. Send the same `Idempotency-Key` on
/// every retry of one checkout, and `expected_total_cents`, the total you
/// showed. While it waits for a service, or when it takes longer than the
/// gateway waits, the answer is 202 with the checkout's `Location`, to be
/// polled at `GET /api/checkouts/{id}`. A 503 means payments could not be
/// reached: send the same request again with the same key, which is never
/// charged twice.
#[utoipa::path(post, path = "/api/checkouts", tag = "checkout", request_body = CheckoutRequest,
    params(("Idempotency-Key" = String, Header)),
    security(("bearer" = [])),
    responses(
        (status = CREATED, description = "completed: the order exists", body = Checkout),
        (status = ACCEPTED, description = "still running; poll the `Location`", body = Checkout),
        (status = PAYMENT_REQUIRED, description = "declined or not enough money", body = ErrorBody),
        (status = CONFLICT, description = "out of stock, an empty cart, or `price_changed`", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody),
        (status = SERVICE_UNAVAILABLE, description = "payments could not be reached; retry with the same key", body = ErrorBody),
    ))]
async fn checkout(
    State(state): State<AppState>,
    visitor: Visitor,
    key: Result<IdempotencyKey, ApiError>,
    Json(request): Json<CheckoutRequest>,
) -> Result<Response, ApiError> {
    let user = signed_in(&visitor)?;
    let key = key?;
    let checkout = match state
        .downstream
        .checkout(&user.token, key.as_str(), &request)
        .await
        .map_err(passthrough)
    {
        Ok(checkout) => checkout,
        // No answer in time: the checkout may be under way, so say where
        // it is rather than that it failed.
        Err(error) if error.status().is_server_error() => {
            match state
                .downstream
                .checkout_by_key(&user.token, key.as_str())
                .await
            {
                Ok(Some(checkout)) => checkout,
                Ok(None) | Err(_) => return Err(error),
            }
        }
        Err(error) => return Err(error),
    };
    let status = if checkout.status == "completed" {
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    let location = format!("/api/checkouts/{}", checkout.id);
    Ok((status, [(header::LOCATION, location)], Json(checkout)).into_response())
}

/// One of the caller's checkouts.
#[utoipa::path(get, path = "/api/checkouts/{id}", tag = "checkout", params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses((status = OK, description = "the checkout and how far it got", body = Checkout), (status = NOT_FOUND, description = "the customer has no checkout with this id", body = ErrorBody)))]
async fn checkout_status(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<Uuid>,
) -> Result<Json<Checkout>, ApiError> {
    let user = signed_in(&visitor)?;
    Ok(Json(
        state
            .downstream
            .checkout_status(&user.token, id)
            .await
            .map_err(passthrough)?,
    ))
}
