//! A Deployment and a Service for each of the shop's services. Every
//! Deployment runs the one image as `eshop serve <service>` with env from
//! [`super::env`] and the restricted security context. Its container
//! serves the API on the `http` port, which the Service routes, and
//! `/healthz`, `/readyz` and `/metrics` on the `admin` port, which the
//! probes use and the pod's `prometheus.io/*` annotations point scrapers
//! at; no Service routes it. With autoscaling the replica count is left
//! out, so the HorizontalPodAutoscaler owns it.

use eshop_platform::settings::{Env, Rendered, Settings, SettingsError, Var};
use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec},
        core::v1::{
            Container, ContainerPort, EnvVar, HTTPGetAction, PodSpec, PodTemplateSpec, Probe,
            Service, ServicePort, ServiceSpec as KubeServiceSpec,
        },
    },
    apimachinery::pkg::{apis::meta::v1::LabelSelector, util::intstr::IntOrString},
};
use kube::api::ObjectMeta;

use super::{ADMIN_PORT, CONFIG_DIGEST, HTTP_PORT, Shop, pull_secrets, security};
use crate::crd::{EShopSpec, ServiceSpec};

pub const GATEWAY: &str = "gateway";

/// The name of the container port serving the API.
const HTTP_PORT_NAME: &str = "http";
/// The name of the container port serving probes and metrics.
const ADMIN_PORT_NAME: &str = "admin";

/// The binary in the image that runs a service.
const BINARY: &str = "/usr/local/bin/eshop";

/// One of the shop's services: its name (as `eshop serve` takes it) and its
/// settings struct.
#[derive(Debug)]
pub struct ShopService {
    pub name: &'static str,
    /// Every variable the service reads.
    pub vars: fn() -> Vec<&'static Var>,
    /// Loads the settings and renders them back.
    pub render: fn(&Env) -> Result<Rendered, SettingsError>,
}

impl ShopService {
    /// This service's part of the spec.
    pub fn spec<'a>(&self, spec: &'a EShopSpec) -> &'a ServiceSpec {
        let services = &spec.services;
        match self.name {
            GATEWAY => &services.gateway,
            "users" => &services.users,
            "catalog" => &services.catalog,
            "cart" => &services.cart,
            "ratings" => &services.ratings,
            "wallet" => &services.wallet,
            "shipping" => &services.shipping,
            "orders" => &services.orders,
            "payments" => &services.payments,
            "dispatch" => &services.dispatch,
            other => unreachable!("{other} is not in SERVICES"),
        }
    }
}

const fn shop_service<S: Settings>(name: &'static str) -> ShopService {
    ShopService {
        name,
        vars: S::vars,
        render: render::<S>,
    }
}

fn render<S: Settings>(env: &Env) -> Result<Rendered, SettingsError> {
    Ok(S::load(env)?.render())
}

/// Every service of the shop.
pub const SERVICES: [ShopService; 10] = [
    shop_service::<eshop_gateway::GatewaySettings>(GATEWAY),
    shop_service::<eshop_users::UsersSettings>("users"),
    shop_service::<eshop_catalog::CatalogSettings>("catalog"),
    shop_service::<eshop_cart::CartSettings>("cart"),
    shop_service::<eshop_ratings::RatingsSettings>("ratings"),
    shop_service::<eshop_wallet::WalletSettings>("wallet"),
    shop_service::<eshop_shipping::ShippingSettings>("shipping"),
    shop_service::<eshop_orders::OrdersSettings>("orders"),
    shop_service::<eshop_payments::PaymentsSettings>("payments"),
    shop_service::<eshop_dispatch::DispatchSettings>("dispatch"),
];

fn http_probe(path: &str) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String(ADMIN_PORT_NAME.to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(10),
        timeout_seconds: Some(3),
        ..Probe::default()
    }
}

pub fn deployment(
    shop: &Shop<'_>,
    service: &ShopService,
    env: Vec<EnvVar>,
    digest: &str,
) -> Deployment {
    let spec = service.spec(shop.spec());
    let image = &shop.spec().image;
    let container = Container {
        name: service.name.to_owned(),
        image: Some(format!("{}:{}", image.repository, image.tag)),
        image_pull_policy: Some(image.pull_policy.as_str().to_owned()),
        command: Some(vec![BINARY.to_owned()]),
        args: Some(vec!["serve".to_owned(), service.name.to_owned()]),
        ports: Some(vec![
            ContainerPort {
                name: Some(HTTP_PORT_NAME.to_owned()),
                container_port: HTTP_PORT,
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some(ADMIN_PORT_NAME.to_owned()),
                container_port: ADMIN_PORT,
                ..ContainerPort::default()
            },
        ]),
        env: Some(env),
        resources: Some(spec.resources.requirements()),
        readiness_probe: Some(http_probe("/readyz")),
        liveness_probe: Some(Probe {
            failure_threshold: Some(6),
            ..http_probe("/healthz")
        }),
        security_context: Some(security::container()),
        volume_mounts: Some(vec![security::mount("tmp", "/tmp")]),
        ..Container::default()
    };
    Deployment {
        metadata: shop.metadata(shop.child_name(service.name), service.name),
        spec: Some(DeploymentSpec {
            replicas: spec.autoscaling.is_none().then_some(spec.replicas),
            selector: LabelSelector {
                match_labels: Some(shop.selector(service.name)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(shop.labels(service.name)),
                    annotations: Some(
                        [
                            (CONFIG_DIGEST, digest.to_owned()),
                            ("prometheus.io/scrape", "true".to_owned()),
                            ("prometheus.io/port", ADMIN_PORT.to_string()),
                            ("prometheus.io/path", "/metrics".to_owned()),
                        ]
                        .into_iter()
                        .map(|(key, value)| (key.to_owned(), value))
                        .collect(),
                    ),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(security::pod(security::SHOP_USER, security::SHOP_USER)),
                    image_pull_secrets: pull_secrets(shop),
                    containers: vec![container],
                    volumes: Some(vec![security::scratch_volume("tmp")]),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

pub fn service(shop: &Shop<'_>, service: &ShopService) -> Service {
    Service {
        metadata: shop.metadata(shop.child_name(service.name), service.name),
        spec: Some(KubeServiceSpec {
            selector: Some(shop.selector(service.name)),
            ports: Some(vec![ServicePort {
                name: Some(HTTP_PORT_NAME.to_owned()),
                port: HTTP_PORT,
                target_port: Some(IntOrString::String(HTTP_PORT_NAME.to_owned())),
                ..ServicePort::default()
            }]),
            ..KubeServiceSpec::default()
        }),
        ..Service::default()
    }
}
