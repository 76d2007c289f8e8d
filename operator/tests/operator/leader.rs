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
