//! Leader election: of two candidates for the Lease only one leads; while
//! it renews, the other waits; when it stops, the other takes over.

use std::time::Duration;

use eshop_operator::leader::{LeaderElector, LeaseSettings};
use eshop_testbed::wait;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use kube::{
    Api,
    runtime::{WatchStreamExt, watcher},
};

use crate::support::{namespace, testbed};

fn settings(namespace: &str, identity: &str) -> LeaseSettings {
    LeaseSettings {
        namespace: namespace.to_owned(),
        name: "eshop-operator".to_owned(),
        identity: identity.to_owned(),
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1200),
        retry_period: Duration::from_millis(300),
    }
}

fn holder(lease: &Lease) -> Option<&str> {
    lease.spec.as_ref()?.holder_identity.as_deref()
}

#[tokio::test]
async fn only_one_replica_leads_and_another_takes_over_when_it_stops() {
    let testbed = testbed().await;
    let namespace = namespace(testbed, "leader").await;
    let client = testbed.client();
    let first = LeaderElector::new(client.clone(), settings(&namespace, "first"));
    first.acquire().await;
    let leading = tokio::spawn(async move { first.keep().await });

    let second = tokio::spawn({
        let client = client.clone();
        let namespace = namespace.clone();
        async move {
            LeaderElector::new(client, settings(&namespace, "second"))
                .acquire()
                .await;
        }
    });
    // While the first renews (five renewals: well past the lease duration),
    // the second never holds the Lease.
    let leases = Api::<Lease>::namespaced(client.clone(), &namespace);
    let renewals = watcher(
        leases.clone(),
        watcher::Config::default().fields("metadata.name=eshop-operator"),
    )
    .applied_objects()
    .take(5)
    .try_collect::<Vec<Lease>>();
    let renewals = tokio::time::timeout(wait::TIMEOUT, renewals)
        .await
        .expect("renewals in time")
        .unwrap();
    assert!(
        renewals.iter().all(|lease| holder(lease) == Some("first")),
        "{renewals:#?}"
    );
    assert!(!second.is_finished());

    leading.abort();
    tokio::time::timeout(wait::TIMEOUT, second)
        .await
        .expect("the second takes over in time")
        .unwrap();
    let lease = leases.get("eshop-operator").await.unwrap();
    assert_eq!(holder(&lease), Some("second"));
    assert_eq!(lease.spec.unwrap().lease_transitions, Some(1));
}

#[tokio::test]
async fn a_leader_cut_off_stops_writing_before_another_may_take_over() {
    use std::time::Instant;

    use crate::support::{Faults, admin_config, counting_client};

    let testbed = testbed().await;
    let namespace = namespace(testbed, "partition").await;
    let faults = Faults::default();
    let (cut_off, _) = counting_client(admin_config(testbed).await, faults.clone());
    let first = LeaderElector::new(cut_off, settings(&namespace, "first"));
    first.acquire().await;
    let fence = first.fence();
    assert!(fence.is_open());
    let leading = tokio::spawn(async move { first.keep().await });
    let client = testbed.client();
    let second = tokio::spawn({
        let namespace = namespace.clone();
        async move {
            LeaderElector::new(client, settings(&namespace, "second"))
                .acquire()
                .await;
            Instant::now()
        }
    });

    let partitioned = Instant::now();
    faults.partition();
    let fence_closed = loop {
        if !fence.is_open() {
            break Instant::now();
        }
        assert!(
            partitioned.elapsed() < wait::TIMEOUT,
            "the fence never closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let taken_over = tokio::time::timeout(wait::TIMEOUT, second)
        .await
        .expect("the second takes over in time")
        .unwrap();
    tokio::time::timeout(wait::TIMEOUT, leading)
        .await
        .expect("the first stops leading")
        .unwrap();
    eprintln!(
        "partitioned leader: its writes stopped {} ms after it was cut off; the other took over after {} ms",
        fence_closed.duration_since(partitioned).as_millis(),
        taken_over.duration_since(partitioned).as_millis()
    );
    assert!(
        fence_closed < taken_over,
        "the old leader stops writing before the new one may start"
    );
}

/// The write requests the API server audited from `user` at or after
/// `since`: verb, URI and response code, with the time they were received.
fn audited_writes(
    testbed: &eshop_testbed::Testbed,
    user: &str,
    since: k8s_openapi::jiff::Timestamp,
) -> Vec<String> {
    crate::support::audit_events(testbed)
        .iter()
        .filter(|event| event["user"]["username"] == user)
        .filter(|event| crate::support::audit_time(event, "requestReceivedTimestamp") >= since)
        .map(|event| {
            format!(
                "{} {} {} at {}",
                event["verb"],
                event["requestURI"],
                event["responseStatus"]["code"],
                event["requestReceivedTimestamp"]
            )
        })
        .collect()
}

#[tokio::test]
async fn a_leader_paused_past_its_lease_writes_nothing_once_another_took_over() {
    use std::time::Duration;

    use eshop_operator::crd::EShop;
    use nix::sys::signal::Signal;
    use serde_json::json;

    use crate::support::{
        OperatorProcess, apply_minimal, patch_spec, service_account_kubeconfig, until_ready,
    };

    let testbed = testbed().await;
    let namespace = namespace(testbed, "stalled-leader").await;
    let client = testbed.client();
    let dir = tempfile::tempdir().unwrap();
    let mut kubeconfigs = Vec::new();
    for replica in ["replica-a", "replica-b"] {
        let path = dir.path().join(format!("{replica}.kubeconfig"));
        service_account_kubeconfig(testbed, &namespace, replica, "cluster-admin", &path).await;
        kubeconfigs.push(path);
    }
    let args = [
        "--namespace",
        &namespace,
        "--lease-duration",
        "4s",
        "--renew-deadline",
        "2500ms",
        "--retry-period",
        "500ms",
    ];
    let mut first = OperatorProcess::start(&kubeconfigs[0], "replica-a", &namespace, &args);
    let leases = Api::<Lease>::namespaced(client.clone(), &namespace);
    wait::until(
        &leases,
        "eshop-operator",
        "replica-a leading",
        |lease: Option<&Lease>| lease.and_then(holder) == Some("replica-a"),
    )
    .await;
    apply_minimal(&client, &namespace, "shop").await;
    let shops = Api::<EShop>::namespaced(client.clone(), &namespace);
    until_ready(&shops, "shop").await;
    let second = OperatorProcess::start(&kubeconfigs[1], "replica-b", &namespace, &args);

    // A change that takes the leader many writes, and the leader stopped
    // in the middle of them.
    patch_spec(&shops, "shop", json!({"image": {"tag": "0.9.0"}})).await;
    first.signal(Signal::SIGSTOP);
    let lease = wait::until(
        &leases,
        "eshop-operator",
        "replica-b taking over",
        |lease: Option<&Lease>| lease.and_then(holder) == Some("replica-b"),
    )
    .await;
    let taken_over = lease.spec.unwrap().acquire_time.unwrap().0;
    // The new leader stops too, and the shop drifts while neither runs:
    // the old one, resumed, has every reason to write.
    second.signal(Signal::SIGSTOP);
    patch_spec(
        &shops,
        "shop",
        json!({"services": {"cart": {"replicas": 2}}}),
    )
    .await;
    first.signal(Signal::SIGCONT);
    let status = first
        .exited_within(Duration::from_secs(20))
        .await
        .unwrap_or_else(|| panic!("the old leader did not exit; log:\n{}", first.log()));
    second.signal(Signal::SIGCONT);
    until_ready(&shops, "shop").await;

    let user = |replica: &str| format!("system:serviceaccount:{namespace}:{replica}");
    let stale = audited_writes(testbed, &user("replica-a"), taken_over);
    let refused = first
        .log()
        .matches("no longer holds the leader Lease")
        .count();
    let by_new_leader = audited_writes(testbed, &user("replica-b"), taken_over);
    eprintln!(
        "stalled leader: exited with {status} after resuming; {refused} of its writes refused by its fence; \
         {} writes reached the API server after the takeover ({stale:?}); the new leader made {}",
        stale.len(),
        by_new_leader.len()
    );
    assert!(!status.success(), "it exits for having lost the Lease");
    assert_eq!(stale, Vec::<String>::new(), "no write after the takeover");
    assert!(!by_new_leader.is_empty(), "the new leader did the work");
}
