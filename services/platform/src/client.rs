//! Calls to other services.
//!
//! A [`ServiceClient`] talks to one service. Every call carries the internal
//! credential and the current request id, and a user's JWT when made for a
//! user. Each attempt has a timeout. Idempotent calls (GET, PUT, DELETE) are
//! retried a bounded number of times with jittered exponential backoff when
//! the service is unreachable, times out, or answers 502/503/504. A circuit
//! breaker per client stops calling a service that keeps failing, and lets a
//! trial call through after a pause.

use std::{sync::Arc, time::Duration};

use axum::http::{Method, StatusCode};
use backon::{ExponentialBuilder, Retryable};
use failsafe::{StateMachine, backoff, failure_policy, futures::CircuitBreaker};
use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    auth::INTERNAL_TOKEN_HEADER,
    error::{ApiError, ErrorBody, ErrorDetail},
    telemetry::{REQUEST_ID_HEADER, current_request_id},
};

/// How a client behaves; the defaults suit calls inside one cluster.
#[derive(Debug, Clone)]
pub struct ClientPolicy {
    /// The longest one attempt may take.
    pub timeout: Duration,
    /// Attempts after the first, for idempotent calls.
    pub retries: usize,
    /// The first backoff; it doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Consecutive failures that open the circuit.
    pub failures_to_open: u32,
    /// How long the circuit stays open before a trial call.
    pub open_for: Duration,
}

impl Default for ClientPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            retries: 2,
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
            failures_to_open: 5,
            open_for: Duration::from_secs(10),
        }
    }
}

type Breaker = StateMachine<failure_policy::ConsecutiveFailures<backoff::Constant>, ()>;

/// Why a call to another service failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{service} answered {status}: {}", error.message)]
    Status {
        service: &'static str,
        status: StatusCode,
        error: ErrorDetail,
        /// The answer's `Retry-After`, in whole seconds.
        retry_after: Option<Duration>,
    },
    #[error("{service} is unreachable: {source}")]
    Unreachable {
        service: &'static str,
        source: reqwest::Error,
    },
    #[error("{service} keeps failing; calls are paused (circuit open)")]
    CircuitOpen { service: &'static str },
    #[error("{service} gave an answer that cannot be read: {reason}")]
    BadAnswer {
        service: &'static str,
        reason: String,
    },
}

impl CallError {
    /// The status the service answered, if it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Failures worth another attempt, and that count against the breaker.
    fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => matches!(
                *status,
                StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            ),
            Self::Unreachable { .. } => true,
            Self::CircuitOpen { .. } | Self::BadAnswer { .. } => false,
        }
    }
}

/// A service we depend on failing is 503 for our caller; a 4xx that the
/// caller did not handle means we sent something wrong: 500.
impl From<CallError> for ApiError {
    fn from(error: CallError) -> Self {
        match &error {
            CallError::Status { status, .. } if status.is_client_error() => Self::internal(&error),
            _ => Self::unavailable(&error),
        }
    }
}

/// A client for one service.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    service: &'static str,
    base_url: String,
    internal_token: SecretString,
    http: reqwest::Client,
    breaker: Breaker,
    policy: ClientPolicy,
}

impl ServiceClient {
    /// A client for `service` at `base_url` (e.g. `http://catalog:8080`).
    pub fn new(
        service: &'static str,
        base_url: &str,
        internal_token: SecretString,
        policy: ClientPolicy,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            .build()
            .expect("a client without TLS or proxies always builds");
        let breaker = failsafe::Config::new()
            .failure_policy(failure_policy::consecutive_failures(
                policy.failures_to_open,
                backoff::constant(policy.open_for),
            ))
            .build();
        Self {
            inner: Arc::new(Inner {
                service,
                base_url: base_url.trim_end_matches('/').to_owned(),
                internal_token,
                http,
                breaker,
                policy,
            }),
        }
    }

    /// A call of `method` to `path` (e.g. `/v1/products/ROBOT-1`).
    pub fn request<'a>(&'a self, method: Method, path: &'a str) -> Call<'a> {
        Call {
            client: self,
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            user_token: None,
            body: None,
            timeout: None,
        }
    }

    pub fn get<'a>(&'a self, path: &'a str) -> Call<'a> {
        self.request(Method::GET, path)
    }

    async fn attempt(&self, call: &Call<'_>) -> Result<Option<bytes::Bytes>, CallError> {
        let inner = &self.inner;
        let mut request = inner
            .http
            .request(
                call.method.clone(),
                format!("{}{}", inner.base_url, call.path),
            )
            .header(INTERNAL_TOKEN_HEADER, inner.internal_token.expose_secret());
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(id) = current_request_id() {
            request = request.header(REQUEST_ID_HEADER, id);
        }
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        if let Some(token) = call.user_token {
            request = request.bearer_auth(token);
        }
        if let Some(timeout) = call.timeout {
            request = request.timeout(timeout);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let service = inner.service;
        let response = request
            .send()
            .await
            .map_err(|source| CallError::Unreachable { service, source })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse().ok())
            .map(Duration::from_secs);
        let body = response
            .bytes()
            .await
            .map_err(|source| CallError::Unreachable { service, source })?;
        if status.is_success() {
            return Ok((status != StatusCode::NO_CONTENT).then_some(body));
        }
        let error = serde_json::from_slice::<ErrorBody>(&body).map_or_else(
            |_| ErrorDetail {
                code: "unknown".to_owned(),
                message: String::from_utf8_lossy(&body).chars().take(200).collect(),
                field: None,
            },
            |body| body.error,
        );
        Err(CallError::Status {
            service,
            status,
            error,
            retry_after,
        })
    }

    /// One attempt through the circuit breaker.
    async fn guarded(&self, call: &Call<'_>) -> Result<Option<bytes::Bytes>, CallError> {
        let service = self.inner.service;
        self.inner
            .breaker
            .call_with(CallError::is_transient, self.attempt(call))
            .await
            .map_err(|error| match error {
                failsafe::Error::Inner(error) => error,
                failsafe::Error::Rejected => CallError::CircuitOpen { service },
            })
    }
}

/// A call being prepared; `send` makes it.
#[derive(Debug)]
pub struct Call<'a> {
    client: &'a ServiceClient,
    method: Method,
    path: &'a str,
    query: Vec<(&'a str, String)>,
    headers: Vec<(&'a str, String)>,
    user_token: Option<&'a str>,
    body: Option<serde_json::Value>,
    timeout: Option<Duration>,
}

impl<'a> Call<'a> {
    /// Gives each attempt `timeout` instead of the client's.
    pub fn within(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Makes the call for a user, carrying their JWT.
    pub fn for_user(mut self, token: &'a str) -> Self {
        self.user_token = Some(token);
        self
    }

    pub fn query(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    /// Adds a header, e.g. `idempotency-key` or `x-session-id`.
    pub fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn json<B: Serialize>(mut self, body: &B) -> Self {
        self.body = Some(serde_json::to_value(body).expect("request bodies serialize"));
        self
    }

    /// Makes the call and reads the JSON answer.
    pub async fn send<T: DeserializeOwned>(self) -> Result<T, CallError> {
        let service = self.client.inner.service;
        let body = self.send_raw().await?.ok_or_else(|| CallError::BadAnswer {
            service,
            reason: "no body".to_owned(),
        })?;
        serde_json::from_slice(&body).map_err(|error| CallError::BadAnswer {
            service,
            reason: error.to_string(),
        })
    }

    /// Makes the call once, outside the circuit breaker and without
    /// retries: a health probe, which must neither open the breaker for
    /// traffic nor be refused by it.
    pub async fn probe(self) -> Result<(), CallError> {
        self.client.attempt(&self).await.map(drop)
    }

    /// Makes the call and ignores any answer body.
    pub async fn send_without_answer(self) -> Result<(), CallError> {
        self.send_raw().await.map(drop)
    }

    /// Makes the call and gives the answer body as it came: an image or an
    /// HTML page rather than JSON.
    pub async fn send_bytes(self) -> Result<bytes::Bytes, CallError> {
        self.send_raw().await.map(Option::unwrap_or_default)
    }

    async fn send_raw(&self) -> Result<Option<bytes::Bytes>, CallError> {
        let idempotent = matches!(
            self.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE
        );
        if !idempotent {
            return self.client.guarded(self).await;
        }
        let policy = &self.client.inner.policy;
        (|| self.client.guarded(self))
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(policy.min_backoff)
                    .with_max_delay(policy.max_backoff)
                    .with_max_times(policy.retries)
                    .with_jitter(),
            )
            .when(CallError::is_transient)
            .await
    }
}
