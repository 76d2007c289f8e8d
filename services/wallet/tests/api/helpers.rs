//! Running the wallet for a test, users with tokens, typed requests against
//! it, and the money check every test that moves money ends with.

use eshop_test_support::{INTERNAL_TOKEN, RunningService, TestBackend, TestKeys, TestSqlStore};
use eshop_wallet::WalletSettings;
use futures::future::join_all;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

pub(crate) use eshop_test_support::assert_error;

/// The card that always pays.
pub(crate) const GOOD_CARD: &str = "4242424242424242";
/// Always declined: `card_declined`.
pub(crate) const DECLINED_CARD: &str = "4000000000000002";
/// Declined for insufficient funds.
pub(crate) const NO_FUNDS_CARD: &str = "4000000000009995";
/// Its bank fails: `processing_error`.
pub(crate) const FAILING_CARD: &str = "4000000000000119";

/// A wallet of a test's own.
pub(crate) struct TestApp {
    pub(crate) service: RunningService,
    pub(crate) http: reqwest::Client,
    pub(crate) keys: TestKeys,
    // Dropped after the service, which stops first.
    store: TestSqlStore,
}

/// A user, as a token the wallet trusts.
#[derive(Debug, Clone)]
pub(crate) struct TestUser {
    pub(crate) id: Uuid,
    pub(crate) token: String,
}

pub(crate) async fn spawn(backend: TestBackend) -> TestApp {
    let store = TestSqlStore::create(backend).await;
    start(store, TestKeys::generate()).await
}

async fn start(store: TestSqlStore, keys: TestKeys) -> TestApp {
    let settings = WalletSettings {
        server: eshop_test_support::server_settings(),
        store: store.settings(),
        jwt_public_key: keys.public_pem.clone(),
    };
    let application = eshop_wallet::build(settings)
        .await
        .expect("the wallet builds");
    TestApp {
        service: eshop_test_support::run(application).await,
        http: reqwest::Client::new(),
        keys,
        store,
    }
}

impl TestApp {
    /// Stops the wallet and starts a new one on the same store.
    pub(crate) async fn restart(self) -> Self {
        let Self {
            service,
            store,
            keys,
            ..
        } = self;
        drop(service);
        start(store, keys).await
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.service.address)
    }

    pub(crate) fn new_user(&self) -> TestUser {
        let id = Uuid::new_v4();
        TestUser {
            id,
            token: self.keys.token_for(id),
        }
    }

    /// `GET /v1/wallet` as `user`.
    pub(crate) async fn wallet_of(&self, user: &TestUser) -> Response {
        self.http
            .get(self.url("/v1/wallet"))
            .bearer_auth(&user.token)
            .send()
            .await
            .expect("the wallet answers")
    }

    /// The user's wallet, which must answer 200.
    pub(crate) async fn wallet(&self, user: &TestUser) -> Value {
        let response = self.wallet_of(user).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("a JSON body")
    }

    pub(crate) async fn balance(&self, user: &TestUser) -> i64 {
        self.wallet(user).await["balance_cents"]
            .as_i64()
            .expect("a balance")
    }

    /// `POST /v1/wallet/top-ups` as `user` with `key`.
    pub(crate) async fn top_up(&self, user: &TestUser, key: &str, body: Value) -> Response {
        self.http
            .post(self.url("/v1/wallet/top-ups"))
            .bearer_auth(&user.token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await
            .expect("the wallet answers")
    }

    /// Tops `user` up by `cents` with the good card; returns the balance.
    pub(crate) async fn fund(&self, user: &TestUser, cents: i64) -> i64 {
        let response = self
            .top_up(
                user,
                &Uuid::new_v4().to_string(),
                json!({"amount_cents": cents, "card_number": GOOD_CARD}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("JSON");
        body["balance_cents"].as_i64().expect("a balance")
    }

    /// A call with the internal credential.
    pub(crate) async fn internal(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("x-internal-token", INTERNAL_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the wallet answers")
    }

    pub(crate) async fn charge(&self, body: Value) -> Response {
        self.internal(Method::POST, "/internal/charges", Some(body))
            .await
    }

    pub(crate) async fn refund(&self, body: Value) -> Response {
        self.internal(Method::POST, "/internal/refunds", Some(body))
            .await
    }

    /// A charge of `user`'s wallet that must succeed; returns its id.
    pub(crate) async fn charge_wallet(&self, user: &TestUser, cents: i64) -> Uuid {
        let response = self
            .charge(wallet_charge(&Uuid::new_v4().to_string(), user, cents))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("JSON");
        body["charge_id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("a charge id")
    }

    /// `GET /internal/charges/{id}`, which must answer 200.
    pub(crate) async fn charge_by_id(&self, id: Uuid) -> Value {
        let response = self
            .internal(Method::GET, &format!("/internal/charges/{id}"), None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("JSON")
    }

    /// The ledger totals, checked for conservation of money: every cent in
    /// the wallets was paid in by card, less what was charged, plus what
    /// was refunded, and every wallet agrees with its own ledger entries.
    pub(crate) async fn assert_money_conserved(&self) -> Value {
        let response = self.internal(Method::GET, "/internal/ledger", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let totals: Value = response.json().await.expect("JSON");
        let cents = |name: &str| totals[name].as_i64().unwrap_or_else(|| panic!("{name}"));
        assert_eq!(
            cents("balances_cents"),
            cents("top_ups_cents") - cents("charged_cents") + cents("refunded_cents"),
            "money appeared or vanished: {totals}"
        );
        assert!(
            (0..=cents("charged_cents")).contains(&cents("refunded_cents")),
            "{totals}"
        );
        assert!(
            (0..=cents("card_charged_cents")).contains(&cents("card_refunded_cents")),
            "{totals}"
        );
        assert_eq!(cents("unbalanced_accounts"), 0, "{totals}");
        totals
    }

    /// The text of `/metrics`.
    pub(crate) async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.service.admin))
            .send()
            .await
            .expect("the wallet answers")
            .text()
            .await
            .expect("text")
    }
}

/// The body of a charge of `user`'s wallet.
pub(crate) fn wallet_charge(key: &str, user: &TestUser, cents: i64) -> Value {
    json!({
        "idempotency_key": key,
        "user_id": user.id,
        "amount_cents": cents,
        "reference": "checkout-1",
        "payment": {"method": "wallet"},
    })
}

/// The body of a charge of `card` on behalf of `user`.
pub(crate) fn card_charge(key: &str, user: &TestUser, cents: i64, card: &str) -> Value {
    json!({
        "idempotency_key": key,
        "user_id": user.id,
        "amount_cents": cents,
        "reference": "checkout-1",
        "payment": {"method": "card", "card_number": card},
    })
}

/// The body of a refund.
pub(crate) fn refund_of(key: &str, charge_id: Uuid, cents: i64) -> Value {
    json!({"idempotency_key": key, "charge_id": charge_id, "amount_cents": cents})
}

/// Sends an idempotent request until the answer is not 503, as the saga
/// retries: a 503 (no database connection free in time, under load) means
/// nothing was decided, and the same key makes the retry safe whatever
/// happened. At most 20 attempts.
pub(crate) async fn settled<F, Fut>(mut send: F) -> Response
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Response>,
{
    for _ in 0..20 {
        let response = send().await;
        if response.status() != StatusCode::SERVICE_UNAVAILABLE {
            return response;
        }
    }
    panic!("still 503 after 20 attempts");
}

/// An answer to one of many requests sent at once.
#[derive(Debug)]
pub(crate) struct Settled {
    pub(crate) status: StatusCode,
    pub(crate) replayed: bool,
    pub(crate) body: String,
}

impl Settled {
    /// Whether the request went through: now (201), or on an attempt before
    /// a retry (200, replayed).
    pub(crate) fn succeeded(&self) -> bool {
        self.status == StatusCode::CREATED || (self.status == StatusCode::OK && self.replayed)
    }
}

/// Sends `count` requests at once, `send(index)` each, every one retried
/// through 503s, and returns their answers.
pub(crate) async fn all_at_once<F, Fut>(count: usize, send: F) -> Vec<Settled>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Response>,
{
    let send = &send;
    join_all((0..count).map(|index| async move {
        let response = settled(|| send(index)).await;
        Settled {
            status: response.status(),
            replayed: is_replay(&response),
            body: response.text().await.expect("text"),
        }
    }))
    .await
}

/// Whether the answer says it replays an earlier one.
pub(crate) fn is_replay(response: &Response) -> bool {
    response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|value| value == "true")
}
