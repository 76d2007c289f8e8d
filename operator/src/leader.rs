//! Leader election through a coordination.k8s.io Lease, so that of several
//! replicas only one reconciles at a time, and a fence that keeps a former
//! leader from writing.
//!
//! Times are judged on each replica's own monotonic clock, never by
//! comparing one replica's timestamp with another's clock:
//!
//! - a candidate takes the Lease when it is free, or when it has watched
//!   the same record (same resourceVersion) for a whole `lease_duration`
//!   without a renewal;
//! - the leader renews every `retry_period` and counts itself leader only
//!   until `renew_deadline` after the start of its last successful renewal.
//!   Since `renew_deadline` is shorter than `lease_duration`, and a
//!   candidate starts counting only after it read that renewal, the leader
//!   stops before any candidate may take over.
//!
//! The [`Fence`] is the leader's judgement applied to every write: a layer
//! on the controller's client refuses writes once the deadline has passed,
//! so a leader that was paused (stopped, swapped out, starved of CPU) and
//! resumes writes nothing, even before it notices it lost the Lease.
//! Writes carry the Lease's resourceVersion, so of two candidates racing
//! for it only one wins.

use std::{
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use futures::future::BoxFuture;
use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::Timestamp,
};
use kube::{
    Api, Client, ResourceExt,
    api::{ObjectMeta, PostParams},
};
use tokio::time::Instant;

/// Where and as whom to hold the Lease, and how long things take.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    /// This replica's name, e.g. its pod name.
    pub identity: String,
    /// How long a candidate waits, after it last saw the Lease change,
    /// before it takes the Lease over.
    pub lease_duration: Duration,
    /// How long after the start of its last successful renewal the leader
    /// still counts itself leader. Shorter than `lease_duration`.
    pub renew_deadline: Duration,
    /// How often the leader renews and candidates look.
    pub retry_period: Duration,
}

impl LeaseSettings {
    /// The settings client-go's leader election uses by default.
    pub fn new(namespace: String, name: String, identity: String) -> Self {
        Self {
            namespace,
            name,
            identity,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Until when the leader may write; closed until it leads.
#[derive(Debug, Clone, Default)]
pub struct Fence {
    valid_until: Arc<Mutex<Option<Instant>>>,
}

impl Fence {
    /// Whether writes may go out now.
    pub fn is_open(&self) -> bool {
        self.valid_until
            .lock()
            .expect("the lock is never poisoned")
            .is_some_and(|until| Instant::now() < until)
    }

    fn open_until(&self, until: Instant) {
        *self.valid_until.lock().expect("the lock is never poisoned") = Some(until);
    }

    fn close(&self) {
        *self.valid_until.lock().expect("the lock is never poisoned") = None;
    }
}

/// A tower layer for the controller's client: requests other than reads
/// fail at once while the fence is closed.
#[derive(Debug, Clone)]
pub struct FenceLayer(pub Fence);

impl<S> tower::Layer<S> for FenceLayer {
    type Service = Fenced<S>;

    fn layer(&self, inner: S) -> Fenced<S> {
        Fenced {
            inner,
            fence: self.0.clone(),
        }
    }
}

/// A service behind a [`Fence`].
#[derive(Debug, Clone)]
pub struct Fenced<S> {
    inner: S,
    fence: Fence,
}

/// The error of a write refused by the fence.
#[derive(Debug, thiserror::Error)]
#[error("not writing: this replica no longer holds the leader Lease")]
pub struct NotLeader;

impl<S, B> tower::Service<http::Request<B>> for Fenced<S>
where
    S: tower::Service<http::Request<B>>,
    S::Response: Send + 'static,
    S::Error: Into<tower::BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = tower::BoxError;
    type Future = BoxFuture<'static, Result<S::Response, tower::BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.method() != http::Method::GET && !self.fence.is_open() {
            return Box::pin(std::future::ready(Err(NotLeader.into())));
        }
        let response = self.inner.call(request);
        Box::pin(async move { response.await.map_err(Into::into) })
    }
}

/// The Lease record a candidate last saw, and when it first saw it.
#[derive(Debug)]
struct Observed {
    resource_version: Option<String>,
    since: Instant,
}

/// One candidate for the Lease.
#[derive(Debug)]
pub struct LeaderElector {
    api: Api<Lease>,
    settings: LeaseSettings,
    fence: Fence,
    observed: Mutex<Option<Observed>>,
}

impl LeaderElector {
    pub fn new(client: Client, settings: LeaseSettings) -> Self {
        Self {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            fence: Fence::default(),
            observed: Mutex::new(None),
        }
    }

    /// The fence that is open while this replica leads.
    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    /// Waits until this candidate holds the Lease.
    pub async fn acquire(&self) {
        loop {
            match self.try_acquire().await {
                Ok(true) => {
                    tracing::info!(identity = %self.settings.identity, "leading");
                    return;
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "trying to take the Lease"),
            }
            tokio::time::sleep(self.settings.retry_period).await;
        }
    }

    /// Renews the Lease until it is lost; returns when this candidate no
    /// longer leads, with the fence closed.
    pub async fn keep(&self) {
        loop {
            tokio::time::sleep(self.settings.retry_period).await;
            match self.try_acquire().await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!("another replica took the Lease");
                    break;
                }
                Err(error) => tracing::warn!(%error, "renewing the Lease"),
            }
            if !self.fence.is_open() {
                tracing::warn!("no renewal within the renew deadline");
                break;
            }
        }
        self.fence.close();
    }

    /// Gives the Lease up, so another replica need not wait for it to
    /// expire; closes the fence first.
    pub async fn release(&self) {
        self.fence.close();
        let Ok(Some(mut lease)) = self.api.get_opt(&self.settings.name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(&self.settings.identity) {
            return;
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        if let Err(error) = self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            tracing::warn!(%error, "releasing the Lease");
        }
    }

    /// Whether the Lease record `lease` has stayed the same for a whole
    /// lease duration on this replica's clock.
    fn expired(&self, lease: &Lease) -> bool {
        let mut observed = self.observed.lock().expect("the lock is never poisoned");
        let version = lease.resource_version();
        match &*observed {
            Some(seen) if seen.resource_version == version => {
                seen.since.elapsed() >= self.settings.lease_duration
            }
            _ => {
                *observed = Some(Observed {
                    resource_version: version,
                    since: Instant::now(),
                });
                false
            }
        }
    }

    /// Takes or renews the Lease if it is ours to take; `false` when
    /// another holder's lease is still running. A successful write opens
    /// the fence until `renew_deadline` after this attempt started.
    async fn try_acquire(&self) -> Result<bool, kube::Error> {
        let started = Instant::now();
        let now = Timestamp::now();
        let identity = &self.settings.identity;
        let duration_seconds =
            i32::try_from(self.settings.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.settings.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(identity.clone()),
                    lease_duration_seconds: Some(duration_seconds),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => {
                    self.fence
                        .open_until(started + self.settings.renew_deadline);
                    Ok(true)
                }
                Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(false),
                Err(error) => Err(error),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let ours = spec.holder_identity.as_deref() == Some(identity.as_str());
        let free = spec.holder_identity.is_none();
        if !ours && !free && !self.expired(&lease) {
            return Ok(false);
        }
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if !ours {
            spec.holder_identity = Some(identity.clone());
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.lease_duration_seconds = Some(duration_seconds);
        spec.renew_time = Some(MicroTime(now));
        // The resourceVersion read above makes this fail if another
        // candidate wrote in between.
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                self.fence
                    .open_until(started + self.settings.renew_deadline);
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.is_conflict() => Ok(false),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_fence_closes_at_the_deadline_and_stays_closed_until_opened() {
        let fence = Fence::default();
        assert!(!fence.is_open(), "closed until leading");
        fence.open_until(Instant::now() + Duration::from_secs(10));
        assert!(fence.is_open());
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(fence.is_open());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!fence.is_open(), "closed at the deadline");
        fence.open_until(Instant::now() + Duration::from_secs(10));
        fence.close();
        assert!(!fence.is_open());
    }
}
