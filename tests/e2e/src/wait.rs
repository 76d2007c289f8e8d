//! Bounded waits on what a user would see: an object reaching a condition, or
//! going away. They watch the object (no fixed sleeps) and, when the time is
//! up, panic with the object as it was last seen.

use std::{fmt::Debug, time::Duration};

use kube::{
    Api, Resource,
    runtime::wait::{Condition, await_condition},
};
use serde::de::DeserializeOwned;

/// The longest any single wait in a test may take.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Waits until `name` satisfies `condition` and returns it.
///
/// # Panics
/// After [`TIMEOUT`], naming `what` was awaited and showing the object.
pub async fn until<K>(api: &Api<K>, name: &str, what: &str, condition: impl Condition<K>) -> K
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
{
    match tokio::time::timeout(TIMEOUT, await_condition(api.clone(), name, condition)).await {
        Ok(Ok(Some(object))) => object,
        Ok(Ok(None)) => panic!("{name} was deleted while waiting for {what}"),
        Ok(Err(error)) => panic!("watching {name} for {what}: {error}"),
        Err(_) => panic!(
            "{name}: no {what} after {TIMEOUT:?}; last seen: {:#?}",
            api.get_opt(name).await
        ),
    }
}

/// Waits until `name` no longer exists.
///
/// # Panics
/// After [`TIMEOUT`], showing the object that is still there.
pub async fn until_deleted<K>(api: &Api<K>, name: &str)
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
{
    let gone = |object: Option<&K>| object.is_none();
    if tokio::time::timeout(TIMEOUT, await_condition(api.clone(), name, gone))
        .await
        .is_err()
    {
        panic!(
            "{name} still exists after {TIMEOUT:?}: {:#?}",
            api.get_opt(name).await
        );
    }
}
