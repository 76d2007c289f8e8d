//! Running a service under test: bound to port 0, in the test's runtime,
//! stopped when the handle drops.

use std::time::{Duration, Instant};

use eshop_platform::server::Application;
use tokio::sync::oneshot;

/// A running service; dropping it stops it.
#[derive(Debug)]
pub struct RunningService {
    /// Its base URL, e.g. `http://127.0.0.1:41234`.
    pub address: String,
    /// The base URL of its probes and metrics.
    pub admin: String,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for RunningService {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Runs `application` and waits (up to 30 s) until its `/readyz` answers 200.
///
/// # Panics
/// When it is not ready in time, with its last `/readyz` answer.
pub async fn run(application: Application) -> RunningService {
    let service = start(application);
    wait_until_ready(&service.admin).await;
    service
}

/// Runs `application` without waiting for it to be ready.
pub fn start(application: Application) -> RunningService {
    let address = format!(
        "http://{}",
        application
            .address()
            .expect("a bound application has an address")
    );
    let admin = format!(
        "http://{}",
        application
            .admin_address()
            .expect("a bound application has an admin address")
    );
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));
    RunningService {
        address,
        admin,
        stop: Some(stop),
    }
}

/// Polls `{admin}/readyz` until it answers 200, for at most 30 s.
///
/// # Panics
/// When it is not ready in time, with its last `/readyz` answer.
pub async fn wait_until_ready(address: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = client.get(format!("{address}/readyz")).send().await;
        if let Ok(response) = &answer
            && response.status().is_success()
        {
            return;
        }
        if Instant::now() > deadline {
            let body = match answer {
                Ok(response) => response.text().await.unwrap_or_default(),
                Err(error) => error.to_string(),
            };
            panic!("{address} was not ready within 30 s: {body}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Declares each listed test twice, in modules `server` and `embedded`.
/// Each test is an `async fn name(app: TestApp)` next to a
/// `async fn spawn(backend: TestBackend) -> TestApp` in the calling module.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod server {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::spawn($crate::TestBackend::Server).await).await;
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::spawn($crate::TestBackend::Embedded).await).await;
                }
            )*
        }
    };
}
