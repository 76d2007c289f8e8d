//! The generated credentials and the Secrets that hold them.
//!
//! Four Secrets: `<shop>-postgres` (the database password), `<shop>-redis`
//! (Redis's password), `<shop>-jwt` (the Ed25519 key pair users' tokens are
//! signed with) and `<shop>-internal-token` (the credential of calls between
//! services). The reconciler reads them back on every pass and generates a
//! value only when its Secret does not exist, so they are never rotated by
//! accident; [`Credentials::from_secrets`] is that reading.

use std::collections::BTreeMap;

use eshop_platform::keys::{KeyPair, random_secret};
use k8s_openapi::{ByteString, api::core::v1::Secret};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::Shop;

pub const POSTGRES: &str = "postgres";
pub const REDIS: &str = "redis";
pub const JWT: &str = "jwt";
pub const INTERNAL_TOKEN: &str = "internal-token";

/// The keys within the Secrets.
pub const PASSWORD_KEY: &str = "password";
pub const PRIVATE_KEY: &str = "private.pem";
pub const PUBLIC_KEY: &str = "public.pem";
pub const TOKEN_KEY: &str = "token";

/// Every generated credential of one shop.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub postgres_password: String,
    pub redis_password: String,
    pub jwt_private_pem: String,
    pub jwt_public_pem: String,
    pub internal_token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("jwt_public_pem", &self.jwt_public_pem)
            .finish_non_exhaustive()
    }
}

/// The data of the four Secrets as found, by Secret suffix; a Secret that
/// does not exist (or lacks a key) is missing here.
pub type FoundSecrets = BTreeMap<&'static str, BTreeMap<String, ByteString>>;

impl Credentials {
    /// The credentials from the Secrets found, generating only what is
    /// missing. A JWT Secret counts only with both keys: they belong together.
    pub fn from_secrets(found: &FoundSecrets) -> Self {
        let value = |secret: &str, key: &str| {
            found
                .get(secret)
                .and_then(|data| data.get(key))
                .and_then(|bytes| String::from_utf8(bytes.0.clone()).ok())
                .filter(|value| !value.is_empty())
        };
        let (jwt_private_pem, jwt_public_pem) =
            match (value(JWT, PRIVATE_KEY), value(JWT, PUBLIC_KEY)) {
                (Some(private), Some(public)) => (private, public),
                _ => {
                    let pair = KeyPair::generate();
                    (pair.private_pem.expose_secret().to_owned(), pair.public_pem)
                }
            };
        Self {
            postgres_password: value(POSTGRES, PASSWORD_KEY).unwrap_or_else(random_secret),
            redis_password: value(REDIS, PASSWORD_KEY).unwrap_or_else(random_secret),
            jwt_private_pem,
            jwt_public_pem,
            internal_token: value(INTERNAL_TOKEN, TOKEN_KEY).unwrap_or_else(random_secret),
        }
    }

    /// Bytes that change whenever a credential does.
    pub fn digest_input(&self) -> Vec<u8> {
        let mut hasher = Sha256::new();
        for value in [
            &self.postgres_password,
            &self.redis_password,
            &self.jwt_private_pem,
            &self.internal_token,
        ] {
            hasher.update(value.as_bytes());
            hasher.update([0]);
        }
        hasher.finalize().to_vec()
    }

    /// Every value that must never appear in plain sight.
    pub fn secret_values(&self) -> [&str; 4] {
        [
            &self.postgres_password,
            &self.redis_password,
            &self.jwt_private_pem,
            &self.internal_token,
        ]
    }
}

/// The four Secrets holding `credentials`.
pub fn secrets(shop: &Shop<'_>, credentials: &Credentials) -> Vec<Secret> {
    let secret = |suffix: &str, data: &[(&str, &str)]| Secret {
        metadata: shop.metadata(shop.child_name(suffix), suffix),
        type_: Some("Opaque".to_owned()),
        data: Some(
            data.iter()
                .map(|(key, value)| ((*key).to_owned(), ByteString(value.as_bytes().to_vec())))
                .collect(),
        ),
        ..Secret::default()
    };
    vec![
        secret(POSTGRES, &[(PASSWORD_KEY, &credentials.postgres_password)]),
        secret(REDIS, &[(PASSWORD_KEY, &credentials.redis_password)]),
        secret(
            JWT,
            &[
                (PRIVATE_KEY, &credentials.jwt_private_pem),
                (PUBLIC_KEY, &credentials.jwt_public_pem),
            ],
        ),
        secret(INTERNAL_TOKEN, &[(TOKEN_KEY, &credentials.internal_token)]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(credentials: &Credentials) -> FoundSecrets {
        let bytes = |value: &str| ByteString(value.as_bytes().to_vec());
        BTreeMap::from([
            (
                POSTGRES,
                BTreeMap::from([(
                    PASSWORD_KEY.to_owned(),
                    bytes(&credentials.postgres_password),
                )]),
            ),
            (
                REDIS,
                BTreeMap::from([(PASSWORD_KEY.to_owned(), bytes(&credentials.redis_password))]),
            ),
            (
                JWT,
                BTreeMap::from([
                    (PRIVATE_KEY.to_owned(), bytes(&credentials.jwt_private_pem)),
                    (PUBLIC_KEY.to_owned(), bytes(&credentials.jwt_public_pem)),
                ]),
            ),
            (
                INTERNAL_TOKEN,
                BTreeMap::from([(TOKEN_KEY.to_owned(), bytes(&credentials.internal_token))]),
            ),
        ])
    }

    #[test]
    fn missing_secrets_are_generated_and_found_ones_are_kept() {
        let first = Credentials::from_secrets(&FoundSecrets::new());
        let second = Credentials::from_secrets(&FoundSecrets::new());
        assert_ne!(first.postgres_password, second.postgres_password);
        assert_eq!(first.internal_token.len(), 32);
        assert!(
            first
                .redis_password
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
        assert!(
            first
                .jwt_private_pem
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        assert!(
            first
                .jwt_public_pem
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );

        assert_eq!(Credentials::from_secrets(&found(&first)), first);

        let mut partial = found(&first);
        partial.remove(REDIS);
        partial
            .get_mut(JWT)
            .expect("the JWT Secret")
            .remove(PUBLIC_KEY);
        let regenerated = Credentials::from_secrets(&partial);
        assert_eq!(regenerated.postgres_password, first.postgres_password);
        assert_eq!(regenerated.internal_token, first.internal_token);
        assert_ne!(regenerated.redis_password, first.redis_password);
        assert_ne!(regenerated.jwt_private_pem, first.jwt_private_pem);
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let credentials = Credentials::from_secrets(&FoundSecrets::new());
        let debug = format!("{credentials:?}");
        for value in credentials.secret_values() {
            assert!(!debug.contains(value));
        }
    }
}
