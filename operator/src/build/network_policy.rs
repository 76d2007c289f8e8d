//! NetworkPolicies, when the spec enables them: every pod of the shop is
//! denied all traffic in and out, then allowed only what the shop needs:
//!
//! - `<shop>-default-deny`: nothing in, nothing out;
//! - `<shop>-dns`: out to port 53 (UDP and TCP), for name lookups;
//! - `<shop>-gateway`: into the gateway's port from anywhere (the Ingress
//!   controller, port-forwards);
//! - `<shop>-services`: into the services' API port from the shop's own
//!   pods, and into their admin port (`/metrics`, probes) from Prometheus
//!   pods only; out to the other services, PostgreSQL and Redis, or
//!   anywhere with an external database;
//! - `<shop>-postgres` and `<shop>-redis`: into the stores' ports from the
//!   services.

use k8s_openapi::{
    api::networking::v1::{
        NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
        NetworkPolicyPort, NetworkPolicySpec,
    },
    apimachinery::pkg::{
        apis::meta::v1::{LabelSelector, LabelSelectorRequirement},
        util::intstr::IntOrString,
    },
};

use super::{
    ADMIN_PORT, HTTP_PORT, LABEL_COMPONENT, POSTGRES_PORT, REDIS_PORT, Shop, postgres, redis,
    service_deployment::{GATEWAY, SERVICES},
};
use crate::crd::DatabaseMode;

fn port(port: i32, protocol: &str) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(port)),
        protocol: Some(protocol.to_owned()),
        ..NetworkPolicyPort::default()
    }
}

fn labels(labels: std::collections::BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        ..LabelSelector::default()
    }
}

/// The shop's service pods (not its stores).
fn services_selector(shop: &Shop<'_>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(shop.instance_selector()),
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: LABEL_COMPONENT.to_owned(),
            operator: "In".to_owned(),
            values: Some(
                SERVICES
                    .iter()
                    .map(|service| service.name.to_owned())
                    .collect(),
            ),
        }]),
    }
}

fn from_pods(selector: LabelSelector) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(selector),
        ..NetworkPolicyPeer::default()
    }
}

fn policy(shop: &Shop<'_>, suffix: &str, spec: NetworkPolicySpec) -> NetworkPolicy {
    NetworkPolicy {
        metadata: shop.metadata(shop.child_name(suffix), suffix),
        spec: Some(spec),
    }
}

pub fn network_policies(shop: &Shop<'_>) -> Vec<NetworkPolicy> {
    let everything = || Some(labels(shop.instance_selector()));
    let mut policies = vec![
        policy(
            shop,
            "default-deny",
            NetworkPolicySpec {
                pod_selector: everything(),
                policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
                ..NetworkPolicySpec::default()
            },
        ),
        policy(
            shop,
            "dns",
            NetworkPolicySpec {
                pod_selector: everything(),
                policy_types: Some(vec!["Egress".to_owned()]),
                egress: Some(vec![NetworkPolicyEgressRule {
                    ports: Some(vec![port(53, "UDP"), port(53, "TCP")]),
                    ..NetworkPolicyEgressRule::default()
                }]),
                ..NetworkPolicySpec::default()
            },
        ),
        policy(
            shop,
            GATEWAY,
            NetworkPolicySpec {
                pod_selector: Some(labels(shop.selector(GATEWAY))),
                policy_types: Some(vec!["Ingress".to_owned()]),
                ingress: Some(vec![NetworkPolicyIngressRule {
                    ports: Some(vec![port(HTTP_PORT, "TCP")]),
                    ..NetworkPolicyIngressRule::default()
                }]),
                ..NetworkPolicySpec::default()
            },
        ),
    ];
    let external = shop.spec().database.mode == DatabaseMode::External;
    let prometheus = NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector::default()),
        pod_selector: Some(labels(
            [("app.kubernetes.io/name".to_owned(), "prometheus".to_owned())].into(),
        )),
        ..NetworkPolicyPeer::default()
    };
    let mut store_ports = vec![port(HTTP_PORT, "TCP"), port(REDIS_PORT, "TCP")];
    if !external {
        store_ports.push(port(POSTGRES_PORT, "TCP"));
    }
    let mut egress = vec![NetworkPolicyEgressRule {
        to: Some(vec![from_pods(labels(shop.instance_selector()))]),
        ports: Some(store_ports),
    }];
    if external {
        // Wherever the external database is: its address and port are in
        // the user's Secret, which the operator does not read.
        egress.push(NetworkPolicyEgressRule::default());
    }
    policies.push(policy(
        shop,
        "services",
        NetworkPolicySpec {
            pod_selector: Some(services_selector(shop)),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            ingress: Some(vec![
                NetworkPolicyIngressRule {
                    from: Some(vec![from_pods(labels(shop.instance_selector()))]),
                    ports: Some(vec![port(HTTP_PORT, "TCP")]),
                },
                NetworkPolicyIngressRule {
                    from: Some(vec![prometheus]),
                    ports: Some(vec![port(ADMIN_PORT, "TCP")]),
                },
            ]),
            egress: Some(egress),
        },
    ));
    let mut stores = vec![(redis::COMPONENT, REDIS_PORT)];
    if !external {
        stores.push((postgres::COMPONENT, POSTGRES_PORT));
    }
    for (component, store_port) in stores {
        policies.push(policy(
            shop,
            component,
            NetworkPolicySpec {
                pod_selector: Some(labels(shop.selector(component))),
                policy_types: Some(vec!["Ingress".to_owned()]),
                ingress: Some(vec![NetworkPolicyIngressRule {
                    from: Some(vec![from_pods(services_selector(shop))]),
                    ports: Some(vec![port(store_port, "TCP")]),
                }]),
                ..NetworkPolicySpec::default()
            },
        ));
    }
    policies
}
