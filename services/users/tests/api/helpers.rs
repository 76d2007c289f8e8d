//! Running the users service for a test, typed requests against it, and
//! reads straight from its database for what the API never shows.

use std::time::{Duration, Instant};

use eshop_test_support::{INTERNAL_TOKEN, RunningService, TestBackend, TestKeys, TestSqlStore};
use eshop_users::UsersSettings;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::sqlite::SqliteConnectOptions;
use uuid::Uuid;

pub(crate) use eshop_test_support::assert_error;

/// The password every test user registers with.
pub(crate) const PASSWORD: &str = "correct horse battery";

/// A users service of a test's own.
pub(crate) struct TestApp {
    pub(crate) service: RunningService,
    pub(crate) http: reqwest::Client,
    /// The key pair the service signs with.
    pub(crate) keys: TestKeys,
    // Dropped after the service, which stops first.
    store: TestSqlStore,
}

/// A registered user and a token of theirs.
pub(crate) struct TestUser {
    pub(crate) id: Uuid,
    pub(crate) token: String,
}

pub(crate) async fn spawn(backend: TestBackend) -> TestApp {
    spawn_with(backend, Duration::from_secs(900)).await
}

/// A users service whose failed logins count for `login_window`.
pub(crate) async fn spawn_with(backend: TestBackend, login_window: Duration) -> TestApp {
    let store = TestSqlStore::create(backend).await;
    let keys = TestKeys::generate();
    let settings = UsersSettings {
        server: eshop_test_support::server_settings(),
        store: store.settings(),
        jwt_private_key: SecretString::from(keys.private_pem.clone()),
        jwt_ttl: Duration::from_secs(3600),
        login_window,
    };
    let application = eshop_users::build(settings)
        .await
        .expect("the users service builds");
    TestApp {
        service: eshop_test_support::run(application).await,
        http: reqwest::Client::new(),
        keys,
        store,
    }
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.service.address)
    }

    /// `GET` of the service's probes and metrics, on its admin address.
    pub(crate) async fn admin_get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.service.admin))
            .send()
            .await
            .expect("users answers")
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("users answers")
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Response {
        self.http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("users answers")
    }

    /// A call with a bearer token.
    pub(crate) async fn authed(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("users answers")
    }

    /// A call with the internal credential.
    pub(crate) async fn internal(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .header("x-internal-token", INTERNAL_TOKEN)
            .send()
            .await
            .expect("users answers")
    }

    pub(crate) async fn register(&self, email: &str, password: &str, name: &str) -> Response {
        self.post(
            "/v1/users",
            json!({"email": email, "password": password, "name": name}),
        )
        .await
    }

    pub(crate) async fn login(&self, email: &str, password: &str) -> Response {
        self.post(
            "/v1/sessions",
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// Registers `email` with [`PASSWORD`] and logs in.
    pub(crate) async fn user(&self, email: &str) -> TestUser {
        let registered = self.register(email, PASSWORD, "Test User").await;
        assert_eq!(
            registered.status(),
            StatusCode::CREATED,
            "registering {email}"
        );
        let registered: Value = registered.json().await.expect("JSON");
        let session = self.login(email, PASSWORD).await;
        assert_eq!(session.status(), StatusCode::OK, "logging in {email}");
        let session: Value = session.json().await.expect("JSON");
        TestUser {
            id: registered["id"]
                .as_str()
                .and_then(|id| id.parse().ok())
                .expect("a uuid"),
            token: session["token"].as_str().expect("a token").to_owned(),
        }
    }

    /// The password hash stored for `email`, read from the database.
    pub(crate) async fn stored_password_hash(&self, email: &str) -> Option<String> {
        match &self.store {
            TestSqlStore::Postgres(database) => {
                sqlx::query_scalar("SELECT password_hash FROM users.users WHERE email = $1")
                    .bind(email)
                    .fetch_optional(database.pool())
                    .await
            }
            TestSqlStore::Sqlite(dir) => {
                let pool = sqlx::SqlitePool::connect_with(
                    SqliteConnectOptions::new().filename(dir.path().join("users.sqlite3")),
                )
                .await
                .expect("opening the users database");
                sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&pool)
                    .await
            }
        }
        .expect("reading the password hash")
    }

    /// How many records of failed logins the database holds.
    pub(crate) async fn failure_records(&self) -> i64 {
        match &self.store {
            TestSqlStore::Postgres(database) => {
                sqlx::query_scalar("SELECT count(*) FROM users.login_failures")
                    .fetch_one(database.pool())
                    .await
            }
            TestSqlStore::Sqlite(dir) => {
                let pool = sqlx::SqlitePool::connect_with(
                    SqliteConnectOptions::new().filename(dir.path().join("users.sqlite3")),
                )
                .await
                .expect("opening the users database");
                sqlx::query_scalar("SELECT count(*) FROM login_failures")
                    .fetch_one(&pool)
                    .await
            }
        }
        .expect("counting failed logins")
    }
}

/// Sends `request`, again while the answer is 503 `unavailable`, for up to
/// ten seconds: as a client would retry. The tests that fire many requests
/// at once use it, because on a busy machine the service may not get a
/// database connection in time for all of them, and says so with that 503
/// before it has done anything.
pub(crate) async fn send_retrying(request: RequestBuilder) -> Response {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = request
            .try_clone()
            .expect("a request that can be sent again")
            .send()
            .await
            .expect("users answers");
        if response.status() != StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A valid address body.
pub(crate) fn address(label: &str) -> Value {
    json!({
        "label": label,
        "name": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
    })
}
