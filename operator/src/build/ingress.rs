//! The Ingress to the gateway, when the spec enables it: the host (or any
//! host), the IngressClass, and TLS with the given Secret.

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};

use super::{HTTP_PORT, Shop, service_deployment::GATEWAY};

pub fn ingress(shop: &Shop<'_>) -> Option<Ingress> {
    let spec = &shop.spec().ingress;
    if !spec.enabled {
        return None;
    }
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: shop.child_name(GATEWAY),
            port: Some(ServiceBackendPort {
                number: Some(HTTP_PORT),
                ..ServiceBackendPort::default()
            }),
        }),
        ..IngressBackend::default()
    };
    Some(Ingress {
        metadata: shop.metadata(shop.name().to_owned(), GATEWAY),
        spec: Some(IngressSpec {
            ingress_class_name: spec.class_name.clone(),
            rules: Some(vec![IngressRule {
                host: spec.host.clone(),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".to_owned()),
                        path_type: "Prefix".to_owned(),
                        backend,
                    }],
                }),
            }]),
            tls: spec.tls_secret_name.as_ref().map(|secret| {
                vec![IngressTLS {
                    hosts: spec.host.clone().map(|host| vec![host]),
                    secret_name: Some(secret.clone()),
                }]
            }),
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    })
}
