//! The one signature algorithm the shop's tokens use, EdDSA over Ed25519,
//! installed as jsonwebtoken's crypto provider. jsonwebtoken's own RustCrypto
//! provider brings RSA, ECDSA and HMAC with it, and with RSA the `rsa` crate
//! (RUSTSEC-2023-0071, a timing side channel) into every build; this one
//! brings only Ed25519, and refuses every other algorithm.

use ed25519_dalek::{Signature, SigningKey, VerifyingKey, pkcs8::DecodePrivateKey};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey,
    crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils},
    errors::{ErrorKind, Result},
};
use signature::{Signer, Verifier};

static EDDSA_ONLY: CryptoProvider = CryptoProvider {
    signer_factory,
    verifier_factory,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Installs the provider for this process; later calls change nothing.
pub fn install() {
    // Only one provider is ever installed in this process: this one.
    let _ = EDDSA_ONLY.install_default();
}

fn only_eddsa(algorithm: Algorithm) -> Result<()> {
    if algorithm == Algorithm::EdDSA {
        Ok(())
    } else {
        Err(ErrorKind::InvalidAlgorithm.into())
    }
}

fn signer_factory(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    only_eddsa(*algorithm)?;
    let key = SigningKey::from_pkcs8_der(key.as_bytes()).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(EdSigner(key)))
}

fn verifier_factory(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    only_eddsa(*algorithm)?;
    let bytes: &[u8; 32] = key
        .try_get_as_bytes()?
        .get(..32)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(ErrorKind::InvalidEddsaKey)?;
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(EdVerifier(key)))
}

struct EdSigner(SigningKey);

impl Signer<Vec<u8>> for EdSigner {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(self.0.sign(message).to_bytes().to_vec())
    }
}

impl JwtSigner for EdSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct EdVerifier(VerifyingKey);

impl Verifier<Vec<u8>> for EdVerifier {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> std::result::Result<(), signature::Error> {
        self.0.verify(message, &Signature::from_slice(signature)?)
    }
}

impl JwtVerifier for EdVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::Header;

    use super::*;

    #[test]
    fn only_eddsa_is_signed_and_verified() {
        install();
        let claims = serde_json::json!({"sub": "someone"});
        let refused = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"a shared secret"),
        )
        .unwrap_err();
        assert_eq!(refused.kind(), &ErrorKind::InvalidAlgorithm);

        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &claims,
            &EncodingKey::from_ed_pem(key.serialize_pem().as_bytes()).unwrap(),
        )
        .unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &DecodingKey::from_ed_pem(key.public_key_pem().as_bytes()).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(decoded.claims, claims);
    }
}
