//! The users service's HTTP API: registration, logins that issue tokens,
//! the signed-in user's profile, password and addresses under `/v1`, the
//! public key under `/v1/keys`, and a look-up for other services under
//! `/internal`. Every handler carries its OpenAPI description.
//!
//! A signed-in user is only ever the user of the token: no route takes a
//! user id from the path or the body, and an address id that belongs to
//! someone else is simply not found.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts, State},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use eshop_platform::{
    auth::{Auth, InternalCaller, User},
    error::{ApiError, ErrorBody},
    extract::{Json, Path},
    fields,
    keys::KeyPair,
    openapi::{BearerScheme, InternalTokenScheme},
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    domain::{
        AddAddressOutcome, Address, AddressInput, CreateOutcome, Email, LoginInput, MAX_ADDRESSES,
        MAX_NAME_LENGTH, NewUser, PasswordChange, ProfilePatch, PublicKey, PublicKeys,
        RegistrationInput, Session, UserProfile, UserSummary, now,
    },
    limits::{AttemptKeys, AttemptOutcome, LoginLimits, address_key, client_address, retry_after},
    passwords::Passwords,
    store::UserStore,
};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Arc<dyn UserStore>,
    pub(crate) auth: Auth,
    pub(crate) metrics: UsersMetrics,
    pub(crate) passwords: Passwords,
    pub(crate) keys: Arc<KeyPair>,
    pub(crate) token_ttl: Duration,
    pub(crate) limits: LoginLimits,
    /// Slots for checking attempts against the limits.
    pub(crate) attempt_checks: Arc<Semaphore>,
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OutcomeLabel {
    outcome: &'static str,
}

/// The users service's own metrics.
#[derive(Clone, Default)]
pub(crate) struct UsersMetrics {
    registrations: Family<OutcomeLabel, Counter>,
    logins: Family<OutcomeLabel, Counter>,
    pub(crate) purged: Counter,
}

impl UsersMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "users_registrations",
            "Registrations, by outcome (created, email_taken)",
            self.registrations.clone(),
        );
        registry.register(
            "users_logins",
            "Logins, by outcome (success, invalid, rate_limited)",
            self.logins.clone(),
        );
        registry.register(
            "users_login_failures_purged",
            "Records of failed logins deleted because they left the window",
            self.purged.clone(),
        );
    }

    fn registration(&self, outcome: &'static str) {
        self.registrations
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&OutcomeLabel { outcome }).inc();
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "eShop users",
        description = "Accounts, logins that issue EdDSA JWTs, profiles, passwords and addresses, \
                       and the public key that verifies the tokens."
    ),
    components(schemas(ErrorBody)),
    modifiers(&InternalTokenScheme, &BearerScheme)
)]
struct ApiDoc;

/// The API routes and their OpenAPI document.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(get_me, patch_me))
        .routes(routes!(change_password))
        .routes(routes!(list_addresses, add_address))
        .routes(routes!(replace_address, delete_address))
        .routes(routes!(public_keys))
        .routes(routes!(internal_user))
}

/// The address a request comes from, as the login limits count it: the
/// first hop of `x-forwarded-for` when the gateway (holding the internal
/// credential) forwarded the request, the socket's peer otherwise.
struct ClientAddress(IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| *peer)
            .ok_or_else(|| {
                ApiError::internal(&std::io::Error::other(
                    "served without the peer's address (ConnectInfo)",
                ))
            })?;
        let from_gateway = InternalCaller::from_request_parts(parts, state)
            .await
            .is_ok();
        Ok(Self(client_address(&parts.headers, peer, from_gateway)))
    }
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "the email or the password is wrong")
}

/// A valid token whose account does not exist (any more).
fn account_gone() -> ApiError {
    ApiError::unauthorized(
        "invalid_token",
        "the account this token was issued for does not exist",
    )
}

/// An address id in a path: one that cannot exist is simply not found.
fn address_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found(format!("address {id}")))
}

/// Lets a password check go ahead (the inner `Ok`, the attempt's id), or
/// refuses it with 429 and `Retry-After` (the inner `Err`); the outer `Err`
/// is the store failing.
async fn begin_attempt(
    state: &AppState,
    keys: &AttemptKeys,
) -> Result<Result<Uuid, ApiError>, ApiError> {
    let _slot = state
        .attempt_checks
        .acquire()
        .await
        .map_err(|closed| ApiError::internal(&closed))?;
    let now = now();
    Ok(
        match state.store.begin_attempt(keys, &state.limits, now).await? {
            AttemptOutcome::Allowed(attempt) => Ok(attempt),
            AttemptOutcome::Limited { retry_at } => Err(ApiError::too_many_requests(
                "too many failed logins; try again later",
                retry_after(retry_at, now),
            )),
        },
    )
}

/// Creates an account. The email is trimmed and lowercased; the password is
/// stored only as an Argon2id hash.
#[utoipa::path(post, path = "/v1/users", tag = "users",
    request_body = RegistrationInput,
    responses(
        (status = CREATED, description = "the user, registered", body = UserProfile),
        (status = CONFLICT, description = "`email_taken`: an account has this email", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "a field is missing or invalid", body = ErrorBody),
    ))]
async fn register(
    State(state): State<AppState>,
    Json(input): Json<RegistrationInput>,
) -> Result<(StatusCode, Json<UserProfile>), ApiError> {
    let registration = input.validate()?;
    let password_hash = state.passwords.hash(registration.password.expose()).await?;
    let user = NewUser {
        id: Uuid::new_v4(),
        email: registration.email,
        name: registration.name,
        password_hash,
        created_at: now(),
    };
    match state.store.create_user(&user).await? {
        CreateOutcome::Created(profile) => {
            state.metrics.registration("created");
            Ok((StatusCode::CREATED, Json(profile)))
        }
        CreateOutcome::EmailTaken => {
            state.metrics.registration("email_taken");
            Err(
                ApiError::conflict("email_taken", "an account with this email already exists")
                    .with_field("email"),
            )
        }
    }
}

/// Logs in: a bearer token for the account. An unknown email and a wrong
/// password get the same answer. At most 5 failures per account and 20 per
/// client address count in a sliding window (15 minutes unless configured);
/// beyond that the answer is 429 with `Retry-After`.
#[utoipa::path(post, path = "/v1/sessions", tag = "users",
    request_body = LoginInput,
    responses(
        (status = OK, description = "a token for the user", body = Session),
        (status = UNAUTHORIZED, description = "`invalid_credentials`", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "a field is missing or invalid", body = ErrorBody),
        (status = TOO_MANY_REQUESTS, description = "`rate_limited`: too many failures; see `Retry-After`", body = ErrorBody,
            headers(("retry-after" = u64, description = "seconds until a login may be tried again"))),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Json(input): Json<LoginInput>,
) -> Result<Json<Session>, ApiError> {
    let email = Email::parse("email", &input.email)?;
    let password = input.password.check_presented("password")?;
    let keys = AttemptKeys {
        account: email.as_str().to_owned(),
        address: address_key(address),
    };
    // Looked up before the attempt is recorded, so a store failure here
    // costs the account nothing.
    let account = state.store.account_by_email(&email).await?;
    let attempt = begin_attempt(&state, &keys)
        .await?
        .inspect_err(|_| state.metrics.login("rate_limited"))?;
    let hash = account
        .as_ref()
        .map(|account| account.password_hash.as_str());
    let matches = state.passwords.verify(password, hash).await?;
    let Some(account) = account.filter(|_| matches) else {
        state.metrics.login("invalid");
        return Err(invalid_credentials());
    };
    state.store.attempt_succeeded(attempt, &keys).await?;
    let profile = account.profile;
    let (token, claims) = state
        .keys
        .signer
        .sign(
            profile.id,
            profile.email.as_str(),
            &profile.name,
            state.token_ttl,
        )
        .map_err(|error| ApiError::internal(&error))?;
    let expires_at = i64::try_from(claims.exp)
        .ok()
        .and_then(|exp| OffsetDateTime::from_unix_timestamp(exp).ok())
        .ok_or_else(|| ApiError::internal(&std::io::Error::other("token expiry out of range")))?;
    state.metrics.login("success");
    Ok(Json(Session {
        token,
        token_type: "Bearer",
        expires_at,
        user: profile,
    }))
}

/// The signed-in user.
#[utoipa::path(get, path = "/v1/users/me", tag = "users",
    security(("bearer" = [])),
    responses(
        (status = OK, description = "the caller's profile", body = UserProfile),
        (status = UNAUTHORIZED, description = "no, a bad or an expired token", body = ErrorBody),
    ))]
async fn get_me(user: User, State(state): State<AppState>) -> Result<Json<UserProfile>, ApiError> {
    let account = state.store.account(user.id()).await?;
    account
        .map(|account| Json(account.profile))
        .ok_or_else(account_gone)
}

/// Changes the signed-in user's profile; fields left out stay as they are.
/// Tokens already issued keep the old name until they expire.
#[utoipa::path(patch, path = "/v1/users/me", tag = "users",
    security(("bearer" = [])),
    request_body = ProfilePatch,
    responses(
        (status = OK, description = "the profile after the change", body = UserProfile),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody),
    ))]
async fn patch_me(
    user: User,
    State(state): State<AppState>,
    Json(patch): Json<ProfilePatch>,
) -> Result<Json<UserProfile>, ApiError> {
    let profile = match patch.name {
        Some(name) => {
            let name = fields::line("name", &name, MAX_NAME_LENGTH)?;
            state.store.rename(user.id(), &name).await?
        }
        None => state
            .store
            .account(user.id())
            .await?
            .map(|account| account.profile),
    };
    profile.map(Json).ok_or_else(account_gone)
}

/// Changes the signed-in user's password, given the current one. Wrong
/// current passwords count against the login limits. Tokens already issued
/// stay valid until they expire.
#[utoipa::path(put, path = "/v1/users/me/password", tag = "users",
    security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = NO_CONTENT, description = "changed"),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = FORBIDDEN, description = "`invalid_credentials`: the current password is wrong", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody),
        (status = TOO_MANY_REQUESTS, description = "`rate_limited`", body = ErrorBody,
            headers(("retry-after" = u64, description = "seconds until it may be tried again"))),
    ))]
async fn change_password(
    user: User,
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Json(input): Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let current = input.current_password.check_presented("current_password")?;
    let new = input.new_password.check_new("new_password")?;
    let account = state
        .store
        .account(user.id())
        .await?
        .ok_or_else(account_gone)?;
    let keys = AttemptKeys {
        account: account.profile.email.as_str().to_owned(),
        address: address_key(address),
    };
    let attempt = begin_attempt(&state, &keys).await??;
    if !state
        .passwords
        .verify(current, Some(&account.password_hash))
        .await?
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_credentials",
            "the current password is wrong",
        )
        .with_field("current_password"));
    }
    state.store.attempt_succeeded(attempt, &keys).await?;
    let password_hash = state.passwords.hash(new).await?;
    if state
        .store
        .set_password_hash(user.id(), &password_hash)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(account_gone())
    }
}

/// The signed-in user's addresses, oldest first.
#[utoipa::path(get, path = "/v1/users/me/addresses", tag = "addresses",
    security(("bearer" = [])),
    responses(
        (status = OK, description = "the caller's addresses", body = Vec<Address>),
        (status = UNAUTHORIZED, body = ErrorBody),
    ))]
async fn list_addresses(
    user: User,
    State(state): State<AppState>,
) -> Result<Json<Vec<Address>>, ApiError> {
    Ok(Json(state.store.addresses(user.id()).await?))
}

/// Adds an address; a user keeps at most 10.
#[utoipa::path(post, path = "/v1/users/me/addresses", tag = "addresses",
    security(("bearer" = [])),
    request_body = AddressInput,
    responses(
        (status = CREATED, description = "the address, added", body = Address,
            headers(("location" = String, description = "where the new address is"))),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = CONFLICT, description = "`too_many_addresses`: the user already keeps 10", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody),
    ))]
async fn add_address(
    user: User,
    State(state): State<AppState>,
    Json(input): Json<AddressInput>,
) -> Result<Response, ApiError> {
    let address = input.validate()?;
    let outcome = state
        .store
        .add_address(user.id(), Uuid::new_v4(), &address, now(), MAX_ADDRESSES)
        .await?;
    match outcome {
        AddAddressOutcome::Added(address) => Ok((
            StatusCode::CREATED,
            [(
                header::LOCATION,
                format!("/v1/users/me/addresses/{}", address.id),
            )],
            Json(address),
        )
            .into_response()),
        AddAddressOutcome::LimitReached => Err(ApiError::conflict(
            "too_many_addresses",
            format!("a user keeps at most {MAX_ADDRESSES} addresses; delete one first"),
        )),
        AddAddressOutcome::UnknownUser => Err(account_gone()),
    }
}

/// Replaces one of the signed-in user's addresses.
#[utoipa::path(put, path = "/v1/users/me/addresses/{id}", tag = "addresses",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the address's id")),
    request_body = AddressInput,
    responses(
        (status = OK, description = "the address after the change", body = Address),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "the user has no such address", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, body = ErrorBody),
    ))]
async fn replace_address(
    user: User,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(input): Json<AddressInput>,
) -> Result<Json<Address>, ApiError> {
    let id = address_id(&id)?;
    let address = input.validate()?;
    let replaced = state
        .store
        .replace_address(user.id(), id, &address, now())
        .await?;
    replaced
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("address {id}")))
}

/// Deletes one of the signed-in user's addresses.
#[utoipa::path(delete, path = "/v1/users/me/addresses/{id}", tag = "addresses",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the address's id")),
    responses(
        (status = NO_CONTENT, description = "deleted"),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "the user has no such address", body = ErrorBody),
    ))]
async fn delete_address(
    user: User,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = address_id(&id)?;
    if state.store.delete_address(user.id(), id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("address {id}")))
    }
}

/// The public key that verifies users' tokens (EdDSA, Ed25519).
#[utoipa::path(get, path = "/v1/keys", tag = "users",
    responses((status = OK, description = "the public keys that verify users' tokens (a JWK set)", body = PublicKeys)))]
async fn public_keys(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(PublicKeys {
            keys: vec![PublicKey {
                alg: "EdDSA",
                key_use: "sig",
                public_key_pem: state.keys.public_pem.clone(),
            }],
        }),
    )
        .into_response()
}

/// A user, for other services (the checkout verifies its buyer with it).
#[utoipa::path(get, path = "/internal/users/{id}", tag = "internal",
    params(("id" = Uuid, Path, description = "the user's id")),
    security(("internal_token" = [])),
    responses(
        (status = OK, description = "the user's name and email", body = UserSummary),
        (status = UNAUTHORIZED, body = ErrorBody),
        (status = NOT_FOUND, description = "no user has this id", body = ErrorBody),
    ))]
async fn internal_user(
    _: InternalCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<UserSummary>, ApiError> {
    let not_found = || ApiError::not_found(format!("user {id}"));
    let user = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let account = state.store.account(user).await?;
    account
        .map(|account| Json(UserSummary::from(account.profile)))
        .ok_or_else(not_found)
}
