//! Podman as the image tests drive it: the image under test, and
//! containers on the host's network that are removed (`podman rm -f`) when
//! dropped, also when a test panics. Every container carries the label
//! [`LABEL`], by which `tests/run` checks that none is left.

use std::{
    net::SocketAddr,
    process::{Command, Output},
    time::{Duration, Instant},
};

use reqwest::StatusCode;

use crate::kubelet::Launch;

/// The label on every container the image tests start.
pub(crate) const LABEL: &str = "eshop-image-test";
/// How long a container may take to answer its readiness probe.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The image under test, as `tests/e2e/image build` made it.
pub(crate) fn image() -> String {
    std::env::var("ESHOP_TEST_IMAGE").unwrap_or_else(|_| {
        panic!(
            "ESHOP_TEST_IMAGE is not set: build the image with `tests/e2e/image build` \
             and set ESHOP_TEST_IMAGE to the name it prints (tests/run does both)"
        )
    })
}

/// `podman` with the project's settings, `tests/e2e/containers.conf`.
pub(crate) fn podman() -> Command {
    let mut command = Command::new("podman");
    command.env(
        "CONTAINERS_CONF",
        concat!(env!("CARGO_MANIFEST_DIR"), "/containers.conf"),
    );
    command
}

/// Runs `podman args` to completion and expects success: its stdout.
pub(crate) fn podman_ok(args: &[&str]) -> String {
    let output = run(podman().args(args));
    assert!(
        output.status.success(),
        "podman {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("podman prints text")
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|error| panic!("running {command:?}: {error}"))
}

/// What to start: a launch plus what the test adds around it.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunSpec {
    /// Ends the container's name, after a prefix unique to the test.
    pub(crate) name: String,
    pub(crate) launch: Launch,
    /// Given to the container through podman's own environment, so secrets
    /// and multi-line keys stay off the command line.
    pub(crate) env: Vec<(String, String)>,
    /// Extra `/etc/hosts` lines: name and address.
    pub(crate) hosts: Vec<(String, String)>,
    /// Extra `podman run` options, e.g. mounts and labels.
    pub(crate) options: Vec<String>,
}

/// A container started from the image under test on the host's network.
#[derive(Debug)]
pub(crate) struct Container {
    name: String,
    started: Instant,
}

impl Container {
    pub(crate) fn start(spec: &RunSpec) -> Self {
        let name = format!(
            "eshop-test-{}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8],
            spec.name
        );
        let mut command = podman();
        command.args(["run", "--detach", "--network=host", "--name", &name]);
        command.arg(format!("--label={LABEL}=1"));
        command.args(&spec.options);
        command.args(&spec.launch.options);
        for (host, address) in &spec.hosts {
            command.arg(format!("--add-host={host}:{address}"));
        }
        for (var, value) in &spec.env {
            command.arg(format!("--env={var}"));
            command.env(var, value);
        }
        command.arg(image());
        command.args(&spec.launch.args);
        let started = Instant::now();
        let output = run(&mut command);
        // From here on the container exists, even if it did not start.
        let container = Self { name, started };
        assert!(
            output.status.success(),
            "podman run {} failed: {}",
            container.name,
            String::from_utf8_lossy(&output.stderr)
        );
        container
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// A field of `podman inspect`, by Go template.
    pub(crate) fn inspect(&self, format: &str) -> String {
        podman_ok(&["inspect", "--format", format, &self.name])
            .trim()
            .to_owned()
    }

    /// What the container printed, stdout and stderr.
    pub(crate) fn logs(&self) -> String {
        let output = run(podman().args(["logs", &self.name]));
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    /// Polls `http://{address}{path}` until it answers 200, as a readiness
    /// probe would: how long after `podman run` it did.
    ///
    /// # Panics
    /// When the container exits or the time is up, with its logs.
    pub(crate) async fn until_ready(&self, address: SocketAddr, path: &str) -> Duration {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .expect("an HTTP client");
        let url = format!("http://{address}{path}");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let last = match http.get(&url).send().await {
                Ok(response) if response.status() == StatusCode::OK => {
                    return self.started.elapsed();
                }
                Ok(response) => format!(
                    "HTTP {}: {}",
                    response.status(),
                    response.text().await.unwrap_or_default()
                ),
                Err(error) => error.to_string(),
            };
            let state = self.inspect("{{.State.Status}}");
            assert!(
                state == "running",
                "{} is {state} before {url} answered 200; its logs:\n{}",
                self.name,
                self.logs()
            );
            assert!(
                Instant::now() < deadline,
                "{url} did not answer 200 within {READY_TIMEOUT:?} (last: {last}); logs of {}:\n{}",
                self.name,
                self.logs()
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let output = run(podman().args(["rm", "--force", "--time=0", &self.name]));
        if !output.status.success() {
            eprintln!(
                "podman rm {} failed: {}",
                self.name,
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}
