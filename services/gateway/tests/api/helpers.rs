//! A shop with a gateway of the test's own in front, and requests against it.

use std::{net::SocketAddr, num::NonZeroU32, time::Duration};

use eshop::shop::{JwtKeys, Shop, ShopConfig, Stores};
use eshop_gateway::GatewaySettings;
use eshop_test_support::{INTERNAL_TOKEN, RunningService, TestKeys};
use reqwest::{Response, StatusCode, header};
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

/// A shop and its gateway; dropping it stops both.
pub(crate) struct TestGateway {
    pub(crate) gateway: RunningService,
    pub(crate) http: reqwest::Client,
    _payments: RunningService,
    _shop: Shop,
    _dir: tempfile::TempDir,
}

/// What a test changes about its gateway.
pub(crate) type Tweak = fn(&mut GatewaySettings);

/// A shop with demo data and a gateway with `tweak` applied to its settings.
pub(crate) async fn spawn_with(tweak: Tweak) -> TestGateway {
    spawn_with_slow_payments(Duration::ZERO, tweak).await
}

/// As [`spawn_with`], with payments answering every request `latency`
/// after handling it (its `ESHOP_FAULT_LATENCY` knob).
pub(crate) async fn spawn_with_slow_payments(latency: Duration, tweak: Tweak) -> TestGateway {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let keys = TestKeys::generate();
    let config = ShopConfig {
        stores: Stores::Embedded {
            data_dir: dir.path().to_owned(),
        },
        internal_token: SecretString::from(INTERNAL_TOKEN),
        keys: JwtKeys {
            private_pem: SecretString::from(keys.private_pem.clone()),
            public_pem: keys.public_pem,
        },
        demo_data: true,
        host: [127, 0, 0, 1].into(),
        gateway: ([127, 0, 0, 1], 0).into(),
        log: "warn".to_owned(),
        dispatch_delay: Duration::from_millis(300),
        delivery_delay: Duration::from_millis(300),
        checkout_lease: Duration::from_secs(1),
        checkout_deadline: Duration::from_secs(60),
        retention: Duration::from_secs(7 * 24 * 60 * 60),
    };
    let mut shop = Shop::start(&config, &["gateway", "payments"])
        .await
        .expect("the shop starts");
    let mut payments = config.payments(&shop);
    payments.server.fault_latency = latency;
    let payments = eshop_test_support::start(
        eshop_payments::build(payments)
            .await
            .expect("payments builds"),
    );
    shop.add_elsewhere(
        "payments",
        payments
            .address
            .trim_start_matches("http://")
            .parse()
            .expect("a socket address"),
    );
    for address in shop.admin_addresses().values() {
        eshop_test_support::wait_until_ready(&format!("http://{address}")).await;
    }
    eshop_test_support::wait_until_ready(&payments.admin).await;
    let mut settings = config.gateway(&shop);
    tweak(&mut settings);
    let application = eshop_gateway::build(settings)
        .await
        .expect("the gateway builds");
    TestGateway {
        gateway: eshop_test_support::start(application),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client"),
        _payments: payments,
        _shop: shop,
        _dir: dir,
    }
}

pub(crate) async fn spawn() -> TestGateway {
    spawn_with(|_| {}).await
}

/// A URL nothing listens on: a service that is down.
pub(crate) fn closed_url() -> eshop_platform::settings::ServiceUrl {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address: SocketAddr = listener.local_addr().expect("an address");
    drop(listener);
    format!("http://{address}").parse().expect("a URL")
}

/// Limits for tests that are not about them.
pub(crate) fn tight_limits(settings: &mut GatewaySettings) {
    settings.rate_limit.per_second = NonZeroU32::new(1).expect("not zero");
    settings.rate_limit.burst = NonZeroU32::new(3).expect("not zero");
}

impl TestGateway {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.address)
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("the gateway answers")
    }

    /// `GET` of the gateway's probes and metrics, on its admin address.
    pub(crate) async fn admin_get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.gateway.admin))
            .send()
            .await
            .expect("the gateway answers")
    }

    /// A page, as its status and HTML.
    pub(crate) async fn page(&self, path: &str, cookies: &str) -> (StatusCode, String) {
        let response = self
            .http
            .get(self.url(path))
            .header(header::COOKIE, cookies)
            .send()
            .await
            .expect("the gateway answers");
        let status = response.status();
        (status, response.text().await.expect("a body"))
    }

    /// A form posted from the shop's own pages.
    pub(crate) async fn post_form(
        &self,
        path: &str,
        cookies: &str,
        form: &[(&str, &str)],
    ) -> Response {
        self.http
            .post(self.url(path))
            .header(header::ORIGIN, &self.gateway.address)
            .header(header::COOKIE, cookies)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).expect("a form encodes"))
            .send()
            .await
            .expect("the gateway answers")
    }

    /// Registers a customer through the API and logs them in: their token.
    pub(crate) async fn customer(&self) -> String {
        let email = format!("{}@example.com", Uuid::new_v4().simple());
        let registered = self
            .http
            .post(self.url("/api/users"))
            .json(
                &json!({"email": email, "password": "correct horse battery", "name": "Ada Tester"}),
            )
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(registered.status(), StatusCode::CREATED);
        let session: Value = self
            .http
            .post(self.url("/api/sessions"))
            .json(&json!({"email": email, "password": "correct horse battery"}))
            .send()
            .await
            .expect("the gateway answers")
            .json()
            .await
            .expect("a session");
        session["token"].as_str().expect("a token").to_owned()
    }
}

/// The `name=value` parts of a response's cookies, for the next request.
pub(crate) fn cookies(response: &Response) -> String {
    set_cookies(response)
        .iter()
        .filter_map(|cookie| cookie.split(';').next())
        .filter(|pair| !pair.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every `Set-Cookie` of a response.
pub(crate) fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(str::to_owned)
        .collect()
}

/// Checks the shared error shape and gives its code.
pub(crate) async fn error_code(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.expect("errors are JSON");
    assert!(body["error"]["message"].is_string(), "{body}");
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}
