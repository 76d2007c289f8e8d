//! The shop's own secrets.
//!
//! Users' tokens are signed with an Ed25519 key pair. Users is given only
//! the private key (PEM, PKCS#8); the public key that every other service
//! verifies tokens with is derived from it, so the two can never disagree.
//! Whoever sets a shop up (the operator in a cluster, `eshop up` on one
//! machine, the tests) makes the pair with [`KeyPair::generate`] and the
//! shared credentials with [`random_secret`].

use rand::distr::{Alphanumeric, SampleString};
use secrecy::SecretString;

use crate::auth::JwtSigner;

/// How many characters a generated credential has.
const SECRET_LENGTH: usize = 32;

/// 32 random alphanumerics from the thread's cryptographically secure
/// generator: safe in URLs and environment variables without escaping.
pub fn random_secret() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), SECRET_LENGTH)
}

/// A private key that does not load, and why.
#[derive(Debug, thiserror::Error)]
pub enum KeyPairError {
    #[error("it is not a PEM PKCS#8 private key: {0}")]
    Unreadable(String),
    #[error("it is not an Ed25519 key")]
    NotEd25519,
    #[error(transparent)]
    Signer(#[from] crate::auth::KeyError),
}

/// The signer of users' tokens and the public key that verifies them.
#[derive(Debug)]
pub struct KeyPair {
    pub signer: JwtSigner,
    /// PEM, PKCS#8.
    pub private_pem: SecretString,
    /// PEM, SubjectPublicKeyInfo.
    pub public_pem: String,
}

impl KeyPair {
    /// A new key pair.
    ///
    /// # Panics
    /// Never: generating and reloading an Ed25519 key cannot fail.
    pub fn generate() -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
            .expect("generating an Ed25519 key cannot fail");
        Self::from_private_pem(&key.serialize_pem()).expect("a generated Ed25519 key loads")
    }

    pub fn from_private_pem(private_pem: &str) -> Result<Self, KeyPairError> {
        let key = rcgen::KeyPair::from_pem(private_pem)
            .map_err(|error| KeyPairError::Unreadable(error.to_string()))?;
        if key.algorithm() != &rcgen::PKCS_ED25519 {
            return Err(KeyPairError::NotEd25519);
        }
        Ok(Self {
            signer: JwtSigner::from_private_pem(private_pem)?,
            private_pem: SecretString::from(private_pem.to_owned()),
            public_pem: key.public_key_pem(),
        })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::auth::JwtVerifier;

    #[test]
    fn the_derived_public_key_verifies_what_the_private_key_signs() {
        let generated = KeyPair::generate();
        let pair = KeyPair::from_private_pem(generated.private_pem.expose_secret()).unwrap();
        assert_eq!(pair.public_pem, generated.public_pem);
        let (token, claims) = pair
            .signer
            .sign(
                uuid::Uuid::new_v4(),
                "ada@example.com",
                "Ada",
                std::time::Duration::from_secs(60),
            )
            .unwrap();
        let verifier = JwtVerifier::from_public_pem(&pair.public_pem).unwrap();
        assert_eq!(verifier.verify(&token).unwrap(), claims);
    }

    #[test]
    fn a_pkcs8_v1_key_as_openssl_writes_it_loads() {
        // `openssl genpkey -algorithm ed25519`: PKCS#8 v1, no public key inside.
        let pem = "-----BEGIN PRIVATE KEY-----\n\
                   MC4CAQAwBQYDK2VwBCIEIFzPI4cS2k1UOrmIuhZkEPw15Tl7cDN0zD1uiL2LRF+A\n\
                   -----END PRIVATE KEY-----\n";
        let pair = KeyPair::from_private_pem(pem).unwrap();
        assert!(pair.public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    }

    #[test]
    fn other_keys_and_garbage_are_refused() {
        let ecdsa = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        assert!(matches!(
            KeyPair::from_private_pem(&ecdsa.serialize_pem()),
            Err(KeyPairError::NotEd25519)
        ));
        assert!(matches!(
            KeyPair::from_private_pem("not a key"),
            Err(KeyPairError::Unreadable(_))
        ));
    }

    #[test]
    fn secrets_are_long_alphanumeric_and_different() {
        let (one, two) = (random_secret(), random_secret());
        assert_eq!(one.len(), SECRET_LENGTH);
        assert!(one.chars().all(|c| c.is_ascii_alphanumeric()), "{one}");
        assert_ne!(one, two);
    }
}
