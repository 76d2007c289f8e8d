//! Test credentials: the internal token, a fresh Ed25519 key pair for users'
//! JWTs, and server settings for a service on a free loopback port.

use std::time::Duration;

use eshop_platform::{auth::JwtSigner, keys::KeyPair, settings::ServerSettings};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

/// The internal credential of services under test.
pub const INTERNAL_TOKEN: &str = "test-internal-token";

/// Settings that serve the API and the admin endpoints on free ports of
/// 127.0.0.1, with [`INTERNAL_TOKEN`].
pub fn server_settings() -> ServerSettings {
    ServerSettings {
        listen: "127.0.0.1:0".parse().expect("a valid address"),
        admin_listen: "127.0.0.1:0".parse().expect("a valid address"),
        log: "warn".to_owned(),
        request_timeout: Duration::from_secs(10),
        internal_token: SecretString::from(INTERNAL_TOKEN),
        fault_latency: Duration::ZERO,
    }
}

/// A key pair for users' JWTs, made fresh for a test.
#[derive(Debug)]
pub struct TestKeys {
    pub private_pem: String,
    pub public_pem: String,
    signer: JwtSigner,
}

impl TestKeys {
    pub fn generate() -> Self {
        let pair = KeyPair::generate();
        Self {
            private_pem: pair.private_pem.expose_secret().to_owned(),
            public_pem: pair.public_pem,
            signer: pair.signer,
        }
    }

    /// A valid token for a user with this id, as users would sign it.
    pub fn token_for(&self, user: Uuid) -> String {
        self.signer
            .sign(
                user,
                &format!("{user}@example.com"),
                "Test User",
                Duration::from_secs(600),
            )
            .expect("signing works")
            .0
    }

    /// A token for a user with this id that expired a minute ago.
    pub fn expired_token_for(&self, user: Uuid) -> String {
        self.signer
            .sign_expired(
                user,
                &format!("{user}@example.com"),
                "Test User",
                Duration::from_secs(60),
            )
            .expect("signing works")
    }
}
