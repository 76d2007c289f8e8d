//! The key pair of users' tokens. Users is given only the private key
//! (PEM, Ed25519, PKCS#8); the public key that every other service verifies
//! tokens with is derived from it, so the two can never disagree.

use eshop_platform::auth::JwtSigner;

/// A private key that does not load, and why.
#[derive(Debug, thiserror::Error)]
pub enum KeyPairError {
    #[error("it is not a PEM PKCS#8 private key: {0}")]
    Unreadable(String),
    #[error("it is not an Ed25519 key")]
    NotEd25519,
    #[error(transparent)]
    Signer(#[from] eshop_platform::auth::KeyError),
}

/// The signer of users' tokens and the public key that verifies them.
#[derive(Debug)]
pub struct KeyPair {
    pub signer: JwtSigner,
    /// PEM, SubjectPublicKeyInfo.
    pub public_pem: String,
}

impl KeyPair {
    pub fn from_private_pem(private_pem: &str) -> Result<Self, KeyPairError> {
        let key = rcgen::KeyPair::from_pem(private_pem)
            .map_err(|error| KeyPairError::Unreadable(error.to_string()))?;
        if key.algorithm() != &rcgen::PKCS_ED25519 {
            return Err(KeyPairError::NotEd25519);
        }
        Ok(Self {
            signer: JwtSigner::from_private_pem(private_pem)?,
            public_pem: key.public_key_pem(),
        })
    }
}

#[cfg(test)]
mod tests {
    use eshop_platform::auth::JwtVerifier;

    use super::*;

    #[test]
    fn the_derived_public_key_verifies_what_the_private_key_signs() {
        let generated = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let pair = KeyPair::from_private_pem(&generated.serialize_pem()).unwrap();
        assert_eq!(pair.public_pem, generated.public_key_pem());
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
}
