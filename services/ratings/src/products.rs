//! Whether a product exists, as the catalog says. A rating is only taken for
//! a product the catalog knows, so every new rating asks.
//!
//! Two things keep that cheap for the catalog. Concurrent questions about
//! one product share one call, so a burst of ratings of a popular product
//! costs the catalog one request, not one per rating. And a "yes" is kept
//! for [`CONFIRMED_FOR`] (the catalog never removes products), so a product
//! confirmed a moment ago can still be rated while the catalog is briefly
//! unreachable. A "no" and a failure are never kept: a product added to the
//! catalog can be rated at once, and the next request asks again.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::http::StatusCode;
use eshop_platform::{client::ServiceClient, error::ApiError};
use tokio::{sync::OnceCell, time::Instant};

use crate::domain::Sku;

/// How long the catalog's word that a product exists is taken.
pub(crate) const CONFIRMED_FOR: Duration = Duration::from_secs(60);
/// Most products remembered at once; beyond that, stale answers are dropped.
const MAX_REMEMBERED: usize = 10_000;

/// When the catalog confirmed a product exists, once it has.
type Confirmation = OnceCell<Instant>;

/// The catalog's answers about which products exist.
#[derive(Debug)]
pub(crate) struct Products {
    catalog: ServiceClient,
    confirmed_for: Duration,
    confirmations: Mutex<HashMap<Sku, Arc<Confirmation>>>,
}

impl Products {
    pub(crate) fn new(catalog: ServiceClient, confirmed_for: Duration) -> Self {
        Self {
            catalog,
            confirmed_for,
            confirmations: Mutex::default(),
        }
    }

    /// `Ok` when the product exists; 404 when the catalog has no such
    /// product, 503 when it cannot say.
    pub(crate) async fn ensure_exists(&self, sku: &Sku) -> Result<(), ApiError> {
        let confirmation = self.confirmation(sku);
        let answer = confirmation
            .get_or_try_init(|| self.ask_catalog(sku))
            .await
            .map(drop);
        if answer.is_err() {
            self.forget(sku, &confirmation);
        }
        answer
    }

    /// The confirmation of `sku` to wait for or fill in: a fresh one unless
    /// one is pending or still valid.
    fn confirmation(&self, sku: &Sku) -> Arc<Confirmation> {
        let is_valid = |confirmation: &Confirmation| {
            confirmation
                .get()
                .is_none_or(|at| at.elapsed() < self.confirmed_for)
        };
        let mut confirmations = self.confirmations.lock().expect("not poisoned");
        if let Some(confirmation) = confirmations.get(sku)
            && is_valid(confirmation)
        {
            return confirmation.clone();
        }
        if confirmations.len() >= MAX_REMEMBERED {
            confirmations.retain(|_, confirmation| is_valid(confirmation));
            if confirmations.len() >= MAX_REMEMBERED {
                confirmations.clear();
            }
        }
        let confirmation = Arc::new(Confirmation::new());
        confirmations.insert(sku.clone(), confirmation.clone());
        confirmation
    }

    /// Drops a confirmation that failed, unless another took its place.
    fn forget(&self, sku: &Sku, failed: &Arc<Confirmation>) {
        let mut confirmations = self.confirmations.lock().expect("not poisoned");
        if confirmations
            .get(sku)
            .is_some_and(|current| Arc::ptr_eq(current, failed) && current.get().is_none())
        {
            confirmations.remove(sku);
        }
    }

    async fn ask_catalog(&self, sku: &Sku) -> Result<Instant, ApiError> {
        let path = format!("/v1/products/{sku}");
        match self.catalog.get(&path).send_without_answer().await {
            Ok(()) => Ok(Instant::now()),
            Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => {
                Err(ApiError::not_found(format!("product {sku}")))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// How many products are remembered, pending or confirmed.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.confirmations.lock().expect("not poisoned").len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::{Router, extract::Path, routing::get};
    use eshop_platform::client::ClientPolicy;
    use futures::future::join_all;

    use super::*;

    /// A catalog that knows `KNOWN-1` and counts the questions it is asked.
    async fn catalog() -> (ServiceClient, Arc<AtomicUsize>) {
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        let app = Router::new().route(
            "/v1/products/{sku}",
            get(move |Path(sku): Path<String>| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    if sku == "KNOWN-1" {
                        StatusCode::OK
                    } else {
                        StatusCode::NOT_FOUND
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = ServiceClient::new(
            "catalog",
            &format!("http://{address}"),
            "token".to_owned().into(),
            ClientPolicy::default(),
        );
        (client, asked)
    }

    fn sku(text: &str) -> Sku {
        Sku::parse("sku", text).unwrap()
    }

    #[tokio::test]
    async fn concurrent_questions_share_one_call_and_a_yes_is_kept() {
        let (client, asked) = catalog().await;
        let products = Products::new(client, CONFIRMED_FOR);
        let known = sku("KNOWN-1");
        let answers = join_all((0..20).map(|_| products.ensure_exists(&known))).await;
        assert!(answers.iter().all(Result::is_ok));
        products.ensure_exists(&known).await.unwrap();
        assert_eq!(asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_no_is_not_kept() {
        let (client, asked) = catalog().await;
        let products = Products::new(client, CONFIRMED_FOR);
        for _ in 0..2 {
            let error = products.ensure_exists(&sku("UNKNOWN-1")).await.unwrap_err();
            assert_eq!(error.status(), StatusCode::NOT_FOUND);
        }
        assert_eq!(asked.load(Ordering::SeqCst), 2);
        assert_eq!(products.remembered(), 0);
    }

    #[tokio::test]
    async fn a_yes_is_asked_again_once_it_is_stale() {
        let (client, asked) = catalog().await;
        let products = Products::new(client, Duration::ZERO);
        for _ in 0..3 {
            products.ensure_exists(&sku("KNOWN-1")).await.unwrap();
        }
        assert_eq!(asked.load(Ordering::SeqCst), 3);
        assert_eq!(products.remembered(), 1);
    }
}
