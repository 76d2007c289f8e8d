//! Who is calling.
//!
//! Calls between services carry the internal credential in
//! `x-internal-token`; the [`InternalCaller`] extractor checks it. Calls made
//! for a user carry the user's JWT as `authorization: Bearer ...`; the
//! [`User`] extractor verifies it with the public key every service is given,
//! so no service needs to ask users. Tokens are Ed25519 (EdDSA) JWTs that
//! users signs with [`JwtSigner`].

use std::sync::Arc;

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{HeaderMap, header, request::Parts},
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::error::ApiError;

/// The header that carries the internal credential.
pub const INTERNAL_TOKEN_HEADER: &str = "x-internal-token";
/// Who issues users' tokens, and for whom.
const ISSUER: &str = "eshop-users";
const AUDIENCE: &str = "eshop";

/// What a user's token says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user's id.
    pub sub: Uuid,
    pub email: String,
    pub name: String,
    pub iss: String,
    pub aud: String,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Expires at, seconds since the epoch.
    pub exp: u64,
}

/// A key that does not load.
#[derive(Debug, thiserror::Error)]
#[error("the JWT key is not a PEM Ed25519 key: {0}")]
pub struct KeyError(#[from] jsonwebtoken::errors::Error);

/// Checks the credentials of incoming calls. Part of every service's state.
#[derive(Clone)]
pub struct Auth {
    internal_token: SecretString,
    /// Only services with user-facing endpoints verify users' tokens.
    verifier: Option<Arc<JwtVerifier>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").finish_non_exhaustive()
    }
}

impl Auth {
    /// Checks the internal credential only.
    pub fn internal(internal_token: SecretString) -> Self {
        Self {
            internal_token,
            verifier: None,
        }
    }

    /// Also verifies users' tokens with `jwt_public_key` (PEM).
    pub fn with_users(mut self, jwt_public_key: &str) -> Result<Self, KeyError> {
        self.verifier = Some(Arc::new(JwtVerifier::from_public_pem(jwt_public_key)?));
        Ok(self)
    }

    /// The internal credential, for this service's own outgoing calls.
    pub fn internal_token(&self) -> &SecretString {
        &self.internal_token
    }

    fn check_internal(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let presented = headers
            .get(INTERNAL_TOKEN_HEADER)
            .map(|value| value.as_bytes())
            .ok_or_else(|| {
                ApiError::unauthorized("unauthorized", "this endpoint is for other eShop services")
            })?;
        let expected = self.internal_token.expose_secret().as_bytes();
        if bool::from(presented.ct_eq(expected)) {
            Ok(())
        } else {
            Err(ApiError::unauthorized(
                "unauthorized",
                "the internal credential is wrong",
            ))
        }
    }
}

/// Verifies users' tokens.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier").finish_non_exhaustive()
    }
}

impl JwtVerifier {
    pub fn from_public_pem(pem: &str) -> Result<Self, KeyError> {
        crate::jwt_crypto::install();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 5;
        // A token not valid yet is refused like an expired one.
        validation.validate_nbf = true;
        Ok(Self {
            key: DecodingKey::from_ed_pem(pem.as_bytes())?,
            validation,
        })
    }

    /// The token's claims, or 401 saying what is wrong with it.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => {
                    ApiError::unauthorized("token_expired", "the token has expired; log in again")
                }
                _ => ApiError::unauthorized("invalid_token", "the token is not valid"),
            })
    }
}

/// Signs users' tokens. Only users holds the private key.
pub struct JwtSigner {
    key: EncodingKey,
}

impl std::fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSigner").finish_non_exhaustive()
    }
}

impl JwtSigner {
    pub fn from_private_pem(pem: &str) -> Result<Self, KeyError> {
        crate::jwt_crypto::install();
        Ok(Self {
            key: EncodingKey::from_ed_pem(pem.as_bytes())?,
        })
    }

    /// A token for `user` that expires after `ttl`.
    pub fn sign(
        &self,
        user: Uuid,
        email: &str,
        name: &str,
        ttl: std::time::Duration,
    ) -> Result<(String, Claims), KeyError> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user,
            email: email.to_owned(),
            name: name.to_owned(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now + ttl.as_secs(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.key)?;
        Ok((token, claims))
    }
}

impl JwtSigner {
    /// A token that expired `ago`, for tests of expiry.
    pub fn sign_expired(
        &self,
        user: Uuid,
        email: &str,
        name: &str,
        ago: std::time::Duration,
    ) -> Result<String, KeyError> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user,
            email: email.to_owned(),
            name: name.to_owned(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now.saturating_sub(ago.as_secs() + 3600),
            exp: now.saturating_sub(ago.as_secs()),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &claims,
            &self.key,
        )?)
    }
}

/// A caller that presented the internal credential.
#[derive(Debug, Clone, Copy)]
pub struct InternalCaller;

impl<S> FromRequestParts<S> for InternalCaller
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Auth::from_ref(state).check_internal(&parts.headers)?;
        Ok(Self)
    }
}

/// A user, authenticated by a bearer JWT.
#[derive(Debug, Clone)]
pub struct User {
    pub claims: Claims,
    /// The token itself, to carry on calls made for this user.
    pub token: String,
}

impl User {
    pub fn id(&self) -> Uuid {
        self.claims.sub
    }
}

impl<S> FromRequestParts<S> for User
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers)?;
        let auth = Auth::from_ref(state);
        let verifier = auth.verifier.as_ref().ok_or_else(|| {
            ApiError::internal(&std::io::Error::other(
                "a user endpoint on a service built without a JWT key",
            ))
        })?;
        let claims = verifier.verify(token)?;
        Ok(Self {
            claims,
            token: token.to_owned(),
        })
    }
}

/// A user if the request carries a token, or nobody if it carries none. A
/// token that is present but invalid is still refused.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<User>);

impl<S> FromRequestParts<S> for MaybeUser
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            User::from_request_parts(parts, state)
                .await
                .map(|user| Self(Some(user)))
        } else {
            Ok(Self(None))
        }
    }
}

/// The token of an `authorization: Bearer <token>` header; the scheme is
/// case-insensitive (RFC 9110, 11.1).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("unauthorized", "log in first: no bearer token"))?;
    value
        .to_str()
        .ok()
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("invalid_token", "expected `authorization: Bearer <token>`")
        })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn keys() -> (JwtSigner, JwtVerifier) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        (
            JwtSigner::from_private_pem(&key.serialize_pem()).unwrap(),
            JwtVerifier::from_public_pem(&key.public_key_pem()).unwrap(),
        )
    }

    #[test]
    fn a_signed_token_verifies_with_the_public_key() {
        let (signer, verifier) = keys();
        let user = Uuid::new_v4();
        let (token, claims) = signer
            .sign(user, "ada@example.com", "Ada", Duration::from_secs(60))
            .unwrap();
        assert_eq!(verifier.verify(&token).unwrap(), claims);
        assert_eq!(claims.sub, user);
    }

    #[test]
    fn an_expired_token_is_refused_as_expired() {
        let (signer, verifier) = keys();
        let token = signer
            .sign_expired(Uuid::new_v4(), "a@b.c", "A", Duration::from_secs(60))
            .unwrap();
        assert_eq!(verifier.verify(&token).unwrap_err().code(), "token_expired");
    }

    #[test]
    fn a_token_from_another_key_or_a_garbled_one_is_invalid() {
        let (signer, _) = keys();
        let (_, other_verifier) = keys();
        let (token, _) = signer
            .sign(Uuid::new_v4(), "a@b.c", "A", Duration::from_secs(60))
            .unwrap();
        assert_eq!(
            other_verifier.verify(&token).unwrap_err().code(),
            "invalid_token"
        );
        assert_eq!(
            other_verifier.verify("not.a.token").unwrap_err().code(),
            "invalid_token"
        );
    }

    #[test]
    fn a_token_not_valid_yet_is_refused() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let verifier = JwtVerifier::from_public_pem(&key.public_key_pem()).unwrap();
        let now = jsonwebtoken::get_current_timestamp();
        let claims = serde_json::json!({
            "sub": Uuid::new_v4(), "email": "a@b.c", "name": "A",
            "iss": ISSUER, "aud": AUDIENCE,
            "iat": now, "nbf": now + 3600, "exp": now + 7200,
        });
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &claims,
            &EncodingKey::from_ed_pem(key.serialize_pem().as_bytes()).unwrap(),
        )
        .unwrap();
        assert_eq!(verifier.verify(&token).unwrap_err().code(), "invalid_token");
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer abc", "bearer abc", "BEARER  abc ", "bEaReR abc"] {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            assert_eq!(bearer_token(&headers).unwrap(), "abc", "{value}");
        }
        for value in ["Basic abc", "Bearer", "Bearerabc", "Bearer  "] {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            assert_eq!(
                bearer_token(&headers).unwrap_err().code(),
                "invalid_token",
                "{value}"
            );
        }
    }
}
