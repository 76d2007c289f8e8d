//! A PodDisruptionBudget for each service that runs more than one pod (or
//! may, with autoscaling from more than one): voluntary evictions take one
//! pod at a time.

use k8s_openapi::{
    api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec},
    apimachinery::pkg::{apis::meta::v1::LabelSelector, util::intstr::IntOrString},
};

use super::Shop;
use crate::crd::ServiceSpec;

pub fn pod_disruption_budget(
    shop: &Shop<'_>,
    service: &str,
    spec: &ServiceSpec,
) -> Option<PodDisruptionBudget> {
    let fewest = spec
        .autoscaling
        .as_ref()
        .map_or(spec.replicas, |autoscaling| autoscaling.min_replicas);
    (fewest > 1).then(|| PodDisruptionBudget {
        metadata: shop.metadata(shop.child_name(service), service),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(shop.selector(service)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    })
}
