//! The testbed's own promises: it starts where the usual ports are taken, and
//! it leaves no process and no directory behind, whether the test that owns it
//! ends, panics, or its process is killed outright.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use eshop_testbed::Testbed;
use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, api::ListParams};

/// Set in the child process of `a_killed_test_process_leaves_nothing_behind`.
const CHILD_ROLE: &str = "ESHOP_TESTBED_LIFECYCLE_CHILD";

/// Pids of processes whose command line mentions `dir`: every testbed
/// process does, through its data, key or kubeconfig paths.
fn processes_mentioning(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .expect("reading /proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(&needle))
        })
        .collect()
}

/// Polls until neither a process nor the directory of the testbed at `dir`
/// is left, for at most ten seconds.
fn assert_cleaned_up(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let processes = processes_mentioning(dir);
        if processes.is_empty() && !dir.exists() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "left behind: processes {processes:?}, directory exists: {}",
            dir.exists()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn it_starts_when_the_usual_ports_are_taken() {
    // etcd client and peer, kube-apiserver, controller-manager, scheduler, kubelet.
    let taken: Vec<TcpListener> = [2379, 2380, 6443, 10257, 10259, 10250]
        .into_iter()
        .filter_map(|port| TcpListener::bind(("127.0.0.1", port)).ok())
        .collect();

    let testbed = Testbed::start().await.expect("the testbed starts");

    let namespaces = Api::<Namespace>::all(testbed.client())
        .list(&ListParams::default())
        .await
        .expect("listing namespaces");
    assert!(
        namespaces
            .items
            .iter()
            .any(|namespace| namespace.metadata.name.as_deref() == Some("default"))
    );
    eprintln!(
        "testbed ready in {:.1}s with {} of the usual ports taken",
        testbed.started_in().as_secs_f64(),
        taken.len()
    );
    let dir = testbed.dir().to_owned();
    drop(testbed);
    assert_cleaned_up(&dir);
}

#[tokio::test]
async fn a_panicking_test_leaves_nothing_behind() {
    let (dir_tx, dir_rx) = tokio::sync::oneshot::channel::<PathBuf>();
    let test = tokio::spawn(async move {
        let testbed = Testbed::start().await.expect("the testbed starts");
        dir_tx
            .send(testbed.dir().to_owned())
            .expect("the test is listening");
        panic!("a test failed while it held the testbed");
    });

    let outcome = test.await;
    assert!(outcome.is_err_and(|error| error.is_panic()));
    let dir = dir_rx.await.expect("the testbed started before the panic");
    assert_cleaned_up(&dir);
}

#[tokio::test]
async fn a_killed_test_process_leaves_nothing_behind() {
    if std::env::var_os(CHILD_ROLE).is_some() {
        // The child: start a testbed, say where it lives, and die without
        // running any destructor, as a test binary does when it is killed.
        let testbed = Testbed::start().await.expect("the testbed starts");
        println!("dir={}", testbed.dir().display());
        std::process::abort();
    }

    let mut child = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([
            "--exact",
            "a_killed_test_process_leaves_nothing_behind",
            "--nocapture",
        ])
        .env(CHILD_ROLE, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting the child test process");
    let stdout = child.stdout.take().expect("the child's stdout is piped");
    let dir = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("dir=").map(PathBuf::from))
        .expect("the child reports its testbed's directory");
    let status = child.wait().expect("waiting for the child");
    assert!(!status.success(), "the child aborted");

    assert_cleaned_up(&dir);
}
