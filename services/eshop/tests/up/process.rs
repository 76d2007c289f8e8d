//! `eshop up` as a person runs it: the built binary as a child process on a
//! data directory and a port of the test's choosing, stopped with Ctrl-C
//! (SIGINT). Its output is kept so a failure shows what it said.

use std::{
    net::TcpListener,
    path::Path,
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
};

/// How long `eshop up` may take to print its URL: the first start loads
/// the demo catalog.
const START_PATIENCE: Duration = Duration::from_secs(60);
/// How long it may take to stop after Ctrl-C.
const STOP_PATIENCE: Duration = Duration::from_secs(20);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(20);
/// The line `eshop up` prints once the shop is ready.
const UP_LINE: &str = "eShop is up at ";

/// A running `eshop up`. Dropping it kills the process.
pub(crate) struct EshopUp {
    child: Child,
    url: String,
    output: Arc<Mutex<Vec<String>>>,
    /// When the process was started.
    pub(crate) started: Instant,
}

/// A loopback port that is free now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Runs `eshop up` with `args`, without waiting for anything.
pub(crate) fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_eshop"))
        .arg("up")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("eshop up starts")
}

/// Collects every line of `stream` into `output`.
fn keep_lines(stream: impl AsyncRead + Unpin + Send + 'static, output: Arc<Mutex<Vec<String>>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            output.lock().expect("the output lock").push(line);
        }
    });
}

impl EshopUp {
    /// Starts `eshop up` on `data_dir` (plus `extra` arguments) on a free
    /// port, and waits until it prints its URL.
    pub(crate) async fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let port = free_port().to_string();
        let data_dir = data_dir.to_str().expect("a UTF-8 path");
        let mut args = vec!["--data-dir", data_dir, "--port", &port];
        args.extend_from_slice(extra);
        let started = Instant::now();
        let mut child = spawn(&args);
        let output = Arc::new(Mutex::new(Vec::new()));
        keep_lines(child.stdout.take().expect("piped stdout"), output.clone());
        keep_lines(child.stderr.take().expect("piped stderr"), output.clone());
        let deadline = started + START_PATIENCE;
        loop {
            let printed = output
                .lock()
                .expect("the output lock")
                .iter()
                .find_map(|line| line.strip_prefix(UP_LINE).map(str::to_owned));
            if let Some(rest) = printed {
                let url = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                return Self {
                    child,
                    url,
                    output,
                    started,
                };
            }
            let exited = child.try_wait().expect("the process can be waited on");
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "eshop up printed no URL ({exited:?}); it said:\n{}",
                output.lock().expect("the output lock").join("\n")
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The storefront's URL, as printed.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Everything it printed so far.
    pub(crate) fn output(&self) -> String {
        self.output.lock().expect("the output lock").join("\n")
    }

    /// Presses Ctrl-C and waits for the process to end: how it ended.
    pub(crate) async fn interrupt(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().expect("a running process");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).expect("a pid")),
            nix::sys::signal::Signal::SIGINT,
        )
        .expect("SIGINT is delivered");
        let status = tokio::time::timeout(STOP_PATIENCE, self.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "eshop up did not stop within {STOP_PATIENCE:?} of Ctrl-C; it said:\n{}",
                    self.output()
                )
            })
            .expect("the process can be waited on");
        // Its last lines reach the readers as the pipes close.
        let deadline = Instant::now() + STOP_PATIENCE;
        while !self.output().contains("eShop stopped.") && Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
        (status, self.output())
    }
}
