//! Password hashing with Argon2id (OWASP's parameters: 19 MiB, two passes,
//! one lane), off the async runtime and a few at a time.
//!
//! Hashing is deliberately slow and memory-hungry, so it runs on the
//! blocking pool, and a semaphore bounds how many hashes run at once: a
//! flood of logins queues instead of exhausting memory. A login for an
//! unknown email checks the password against a dummy hash with the same
//! parameters, so it takes as long as one for a real account.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version, password_hash};
use eshop_platform::error::ApiError;
use tokio::sync::Semaphore;

/// Hashes and verifies passwords. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Passwords {
    inner: Arc<Inner>,
}

struct Inner {
    /// A hash of a random password: what unknown accounts are checked against.
    dummy_hash: String,
    permits: Semaphore,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords").finish_non_exhaustive()
    }
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

fn hash_blocking(password: &str) -> Result<String, password_hash::Error> {
    Ok(argon2().hash_password(password.as_bytes())?.to_string())
}

fn verify_blocking(password: &str, hash: &str) -> Result<bool, password_hash::Error> {
    match argon2().verify_password(password.as_bytes(), hash) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::PasswordInvalid) => Ok(false),
        Err(error) => Err(error),
    }
}

impl Passwords {
    /// Computes the dummy hash, which takes as long as one login; call it
    /// off the async runtime.
    pub(crate) fn new() -> Result<Self, password_hash::Error> {
        let parallelism = std::thread::available_parallelism().map_or(2, usize::from);
        let dummy_password = uuid::Uuid::new_v4().to_string();
        Ok(Self {
            inner: Arc::new(Inner {
                dummy_hash: hash_blocking(&dummy_password)?,
                permits: Semaphore::new(parallelism * 2),
            }),
        })
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) of
    /// `password`, with a fresh random salt.
    pub(crate) async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let password = password.to_owned();
        self.run(move || hash_blocking(&password)).await
    }

    /// Whether `password` is the one `hash` was made from; with no hash (no
    /// such account) it takes as long and answers no.
    pub(crate) async fn verify(
        &self,
        password: &str,
        hash: Option<&str>,
    ) -> Result<bool, ApiError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.inner.dummy_hash).to_owned();
        let password = password.to_owned();
        let matches = self.run(move || verify_blocking(&password, &hash)).await?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, password_hash::Error> + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|closed| ApiError::internal(&closed))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|failed| ApiError::internal(&failed))?
            .map_err(|error| ApiError::internal(&error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_argon2id_salted_and_verifies_only_its_password() {
        let passwords = Passwords::new().unwrap();
        let first = passwords.hash("correct horse").await.unwrap();
        let second = passwords.hash("correct horse").await.unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "every hash has its own salt");
        assert!(
            passwords
                .verify("correct horse", Some(&first))
                .await
                .unwrap()
        );
        assert!(!passwords.verify("wrong horse", Some(&first)).await.unwrap());
        assert!(!passwords.verify("correct horse", None).await.unwrap());
    }

    #[tokio::test]
    async fn a_corrupt_hash_is_an_internal_error() {
        let passwords = Passwords::new().unwrap();
        let error = passwords.verify("x", Some("not a hash")).await.unwrap_err();
        assert_eq!(error.code(), "internal");
    }
}
