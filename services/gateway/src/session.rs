//! Who is calling, and whether a state-changing request may be trusted.
//!
//! The web keeps a signed-in user's JWT in the HttpOnly, SameSite=Lax
//! cookie `eshop_session`; API clients send it as a bearer token instead.
//! Every visitor also gets the cookie `eshop_visitor`, a random UUID that
//! names their anonymous cart (API clients may send `x-session-id`); at
//! login that cart is merged into the user's. [`identify`] reads all this
//! into a [`Visitor`] for the handlers and refuses cross-site requests that
//! would change something with the cookies' authority (CSRF): their
//! `Origin` (or, without one, `Referer`) must be the shop itself.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use eshop_platform::{auth::Claims, error::ApiError};
use uuid::Uuid;

use crate::{AppState, downstream::CartOwner, web};

/// The cookie that holds a signed-in user's token.
pub(crate) const SESSION_COOKIE: &str = "eshop_session";
/// The cookie that names an anonymous visitor's cart.
pub(crate) const VISITOR_COOKIE: &str = "eshop_visitor";
/// How long the visitor cookie lasts: a month.
const VISITOR_MAX_AGE: u64 = 30 * 24 * 3600;

/// A signed-in user and their token.
#[derive(Debug, Clone)]
pub(crate) struct SignedInUser {
    pub(crate) claims: Claims,
    pub(crate) token: String,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub(crate) struct Visitor {
    pub(crate) user: Option<SignedInUser>,
    /// The anonymous cart's session.
    pub(crate) session: Uuid,
    /// The address rate limits and login limits count.
    pub(crate) address: IpAddr,
}

impl Visitor {
    /// Whose cart the visitor sees: the user's once signed in.
    pub(crate) fn cart_owner(&self) -> CartOwner {
        match &self.user {
            Some(user) => CartOwner::User(user.token.clone()),
            None => CartOwner::Anonymous(self.session),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
            ApiError::internal(&std::io::Error::other(
                "a handler ran without the identify middleware",
            ))
        })
    }
}

/// Whether the request is for the JSON API rather than a page.
pub(crate) fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The value of cookie `name`.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// How the gateway writes its cookies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CookiePolicy {
    pub(crate) secure: bool,
}

impl CookiePolicy {
    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, for the whole shop.
    pub(crate) fn set(self, name: &str, value: &str, max_age_seconds: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{secure}"
        ))
        .expect("cookie names and values are header-safe")
    }

    /// A `Set-Cookie` value that removes the cookie.
    pub(crate) fn clear(self, name: &str) -> HeaderValue {
        self.set(name, "", 0)
    }

    /// The session cookie for `token`, until `expires_at` (seconds since the epoch).
    pub(crate) fn session(self, token: &str, expires_at: u64) -> HeaderValue {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let left = expires_at.saturating_sub(u64::try_from(now).unwrap_or(0));
        self.set(SESSION_COOKIE, token, left)
    }

    pub(crate) fn visitor(self, session: Uuid) -> HeaderValue {
        self.set(VISITOR_COOKIE, &session.to_string(), VISITOR_MAX_AGE)
    }
}

/// The client's address: the socket's peer, or the last hop of
/// `x-forwarded-for` when a trusted proxy in front appends it.
pub(crate) fn client_address(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trust_forwarded: bool,
) -> IpAddr {
    let forwarded = trust_forwarded
        .then(|| headers.get("x-forwarded-for"))
        .flatten()
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(|hop| hop.trim().parse::<IpAddr>().ok());
    forwarded
        .or_else(|| peer.map(|peer| peer.ip()))
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
        .to_canonical()
}

/// The authority (`host:port`) of an `Origin` or `Referer` value.
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// Whether a request that relies on cookies comes from the shop's own
/// pages: its `Origin`, or failing that its `Referer`, names this host.
/// A form post must say where it comes from; a JSON call (which browsers
/// only send cross-site after a CORS preflight the gateway never grants)
/// may come from a program that says nothing, but not from another site.
fn same_origin(headers: &HeaderMap, api: bool) -> bool {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
    else {
        return false;
    };
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|value| value.to_str().ok());
    match from {
        Some(from) => authority(from).is_some_and(|from| from.eq_ignore_ascii_case(host)),
        None => api,
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    eshop_platform::auth::bearer_token(headers).ok()
}

/// Middleware: works out the [`Visitor`], checks where state-changing
/// requests come from, and keeps the cookies up to date.
pub(crate) async fn identify(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let path = request.uri().path().to_owned();
    let api = is_api(&path);
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    let address = client_address(headers, peer, state.trust_forwarded_for);

    let bearer = bearer(headers).map(str::to_owned);
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes_state && bearer.is_none() && !same_origin(headers, api) {
        state.metrics.csrf_refused.inc();
        let message = "this form was sent from another site; open the shop and try again";
        return if api {
            ApiError::forbidden(message).into_response()
        } else {
            web::error_page(StatusCode::FORBIDDEN, message)
        };
    }

    let mut clear_session = false;
    let user = match (&bearer, cookie(headers, SESSION_COOKIE)) {
        (Some(token), _) => match state.verifier.verify(token) {
            Ok(claims) => Some(SignedInUser {
                claims,
                token: token.clone(),
            }),
            Err(error) => return error.into_response(),
        },
        (None, Some(token)) if !token.is_empty() => match state.verifier.verify(token) {
            Ok(claims) => Some(SignedInUser {
                claims,
                token: token.to_owned(),
            }),
            Err(_) => {
                clear_session = true;
                None
            }
        },
        _ => None,
    };

    // An API client names its anonymous cart; a malformed name is refused,
    // never replaced by another cart its writes would be lost in.
    let header_session = match headers.get(crate::downstream::SESSION_HEADER) {
        None => None,
        Some(value) => match value
            .to_str()
            .ok()
            .and_then(|value| value.trim().parse::<Uuid>().ok())
        {
            Some(session) => Some(session),
            None => {
                return ApiError::invalid(
                    crate::downstream::SESSION_HEADER,
                    "a session id is a UUID, e.g. 0b0e4b0c-8a3c-4d47-9d1c-2b9e2f4f5a61",
                )
                .into_response();
            }
        },
    };
    let cookie_session =
        cookie(headers, VISITOR_COOKIE).and_then(|value| value.parse::<Uuid>().ok());
    let (session, new_session) = match header_session.or(cookie_session) {
        Some(session) => (session, false),
        None => (Uuid::new_v4(), bearer.is_none()),
    };

    request.extensions_mut().insert(Visitor {
        user,
        session,
        address,
    });
    let mut response = next.run(request).await;
    let set = response.headers_mut();
    let session_set = set.get_all(header::SET_COOKIE).iter().any(|value| {
        value
            .as_bytes()
            .starts_with(format!("{SESSION_COOKIE}=").as_bytes())
    });
    if clear_session && !session_set {
        set.append(header::SET_COOKIE, state.cookies.clear(SESSION_COOKIE));
    }
    if new_session {
        set.append(header::SET_COOKIE, state.cookies.visitor(session));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn cookies_are_found_by_name() {
        let headers = headers(&[(header::COOKIE, "a=1; eshop_session=tok; b=2")]);
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn only_the_shops_own_pages_may_change_state() {
        let host = (header::HOST, "shop.example:8080");
        for api in [false, true] {
            assert!(same_origin(
                &headers(&[host.clone(), (header::ORIGIN, "http://shop.example:8080")]),
                api
            ));
            assert!(same_origin(
                &headers(&[
                    host.clone(),
                    (header::REFERER, "https://shop.example:8080/cart?x=1")
                ]),
                api
            ));
            assert!(!same_origin(
                &headers(&[host.clone(), (header::ORIGIN, "http://evil.example")]),
                api
            ));
            assert!(!same_origin(
                &headers(&[
                    host.clone(),
                    (header::ORIGIN, "http://shop.example:8080.evil.example")
                ]),
                api
            ));
        }
        assert!(
            !same_origin(&headers(std::slice::from_ref(&host)), false),
            "a form says where it is from"
        );
        assert!(same_origin(&headers(&[host]), true), "a program need not");
    }

    #[test]
    fn cookies_are_http_only_and_lax_and_secure_when_asked() {
        let plain = CookiePolicy { secure: false }.set("a", "b", 60);
        assert_eq!(plain, "a=b; Path=/; HttpOnly; SameSite=Lax; Max-Age=60");
        let secure = CookiePolicy { secure: true }.clear("a");
        assert_eq!(
            secure,
            "a=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
        );
    }

    #[test]
    fn the_forwarded_address_counts_only_when_trusted() {
        let headers = headers(&[(
            header::HeaderName::from_static("x-forwarded-for"),
            "203.0.113.9, 198.51.100.7",
        )]);
        let peer = Some(SocketAddr::from(([10, 0, 0, 1], 5000)));
        assert_eq!(
            client_address(&headers, peer, true),
            IpAddr::from([198, 51, 100, 7])
        );
        assert_eq!(
            client_address(&headers, peer, false),
            IpAddr::from([10, 0, 0, 1])
        );
    }
}
