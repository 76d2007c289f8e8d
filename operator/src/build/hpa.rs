//! A HorizontalPodAutoscaler (autoscaling/v2) for each service that asks
//! for one, scaling its Deployment on CPU use relative to requests.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};

use super::Shop;
use crate::crd::ServiceSpec;

pub fn autoscaler(
    shop: &Shop<'_>,
    service: &str,
    spec: &ServiceSpec,
) -> Option<HorizontalPodAutoscaler> {
    let autoscaling = spec.autoscaling.as_ref()?;
    Some(HorizontalPodAutoscaler {
        metadata: shop.metadata(shop.child_name(service), service),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "Deployment".to_owned(),
                name: shop.child_name(service),
            },
            min_replicas: Some(autoscaling.min_replicas),
            max_replicas: autoscaling.max_replicas,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".to_owned(),
                    target: MetricTarget {
                        type_: "Utilization".to_owned(),
                        average_utilization: Some(autoscaling.target_cpu_utilization_percentage),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            ..HorizontalPodAutoscalerSpec::default()
        }),
        ..HorizontalPodAutoscaler::default()
    })
}
