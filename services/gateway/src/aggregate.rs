//! What the API and the pages both gather from several services: each
//! part asked for in parallel, the required ones failing the answer, the
//! optional ones (ratings) left out and named under `degraded`.
//!
//! Also the translation of a service's answer into the gateway's: a 4xx is
//! the caller's to fix and passes through with its code and field; a
//! service that is down or failing is 503.

use eshop_platform::{client::CallError, error::ApiError, sku::Sku};

use crate::{
    AppState,
    downstream::ProductQuery,
    model::{ProductDetail, ProductList},
    session::Visitor,
};

/// A service's refusal as the gateway's own, in the shared error shape.
pub(crate) fn passthrough(error: CallError) -> ApiError {
    match error {
        CallError::Status {
            status,
            error,
            retry_after,
            ..
        } if status.is_client_error() => {
            let mut passed = ApiError::new(status, error.code, error.message);
            if let Some(field) = error.field {
                passed = passed.with_field(field);
            }
            if let Some(retry_after) = retry_after {
                passed = passed.with_retry_after(retry_after);
            }
            passed
        }
        other => ApiError::from(other),
    }
}

/// A product with its rating, latest reviews and the visitor's own rating.
pub(crate) async fn product_detail(
    state: &AppState,
    visitor: &Visitor,
    sku: &str,
) -> Result<ProductDetail, ApiError> {
    if !Sku::is_valid(sku) {
        return Err(ApiError::not_found(format!("product {sku}")));
    }
    let downstream = &state.downstream;
    let my_rating = async {
        match &visitor.user {
            Some(user) => downstream.my_rating(sku, &user.token).await,
            None => Ok(None),
        }
    };
    let (product, summary, reviews, mine) = tokio::join!(
        downstream.product(sku),
        downstream.rating_summary(sku),
        downstream.reviews(sku),
        my_rating,
    );
    let product = product.map_err(passthrough)?;
    let mut degraded = Vec::new();
    let (ratings, reviews, my_rating) = match (summary, reviews, mine) {
        (Ok(summary), Ok(reviews), Ok(mine)) => (Some(summary), Some(reviews), mine),
        (summary, reviews, mine) => {
            for error in [summary.err(), reviews.err(), mine.err()]
                .into_iter()
                .flatten()
            {
                tracing::warn!(%error, "a product page without ratings");
            }
            state.metrics.degraded("ratings");
            degraded.push("ratings".to_owned());
            (None, None, None)
        }
    };
    Ok(ProductDetail {
        product,
        ratings,
        reviews,
        my_rating,
        degraded,
    })
}

/// A page of products with how each is rated.
pub(crate) async fn product_list(
    state: &AppState,
    query: &ProductQuery,
) -> Result<ProductList, ApiError> {
    let products = state
        .downstream
        .products(query)
        .await
        .map_err(passthrough)?;
    let skus: Vec<&str> = products
        .items
        .iter()
        .map(|product| product.sku.as_str())
        .collect();
    let (ratings, degraded) = match state.downstream.ratings_of(&skus).await {
        Ok(ratings) => (Some(ratings), Vec::new()),
        Err(error) => {
            tracing::warn!(%error, "a product list without ratings");
            state.metrics.degraded("ratings");
            (None, vec!["ratings".to_owned()])
        }
    };
    Ok(ProductList {
        products,
        ratings,
        degraded,
    })
}
