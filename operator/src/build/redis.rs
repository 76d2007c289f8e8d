//! The in-cluster Redis: a StatefulSet of one pod running the official
//! image with the append-only file on a claim from `volumeClaimTemplates`,
//! its configuration from the shop's ConfigMap and its password from the
//! `<shop>-redis` Secret, and a headless Service.

use k8s_openapi::{
    api::{
        apps::v1::StatefulSet,
        core::v1::{
            ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource, ExecAction,
            Probe, SecretKeySelector, Service, Volume,
        },
    },
    apimachinery::pkg::api::resource::Quantity,
};

use super::{
    DATA_VOLUME, REDIS_PORT, Shop, StorePod, config_map, headless_service, secrets, security,
    store_stateful_set,
};

pub const COMPONENT: &str = "redis";
/// The `redis` user and group of the official Alpine image.
const REDIS_UID: i64 = 999;
const REDIS_GID: i64 = 1000;
const PASSWORD_VAR: &str = "REDIS_PASSWORD";

/// The URL the services reach Redis at, with the password left to
/// Kubernetes' dependent env expansion from `password_var`.
pub fn url(shop: &Shop<'_>, password_var: &str) -> String {
    format!(
        "redis://:$({password_var})@{}:{REDIS_PORT}",
        shop.child_name(COMPONENT)
    )
}

pub fn service(shop: &Shop<'_>) -> Service {
    headless_service(shop, COMPONENT, REDIS_PORT)
}

pub fn stateful_set(
    shop: &Shop<'_>,
    existing_size: Option<&Quantity>,
    digest: &str,
) -> StatefulSet {
    let spec = &shop.spec().redis;
    let ping = Probe {
        exec: Some(ExecAction {
            command: Some(
                [
                    "sh",
                    "-c",
                    "redis-cli --no-auth-warning -a \"$REDIS_PASSWORD\" ping | grep -q PONG",
                ]
                .map(str::to_owned)
                .to_vec(),
            ),
        }),
        period_seconds: Some(10),
        timeout_seconds: Some(5),
        ..Probe::default()
    };
    let container = Container {
        name: COMPONENT.to_owned(),
        image: Some(spec.image.clone()),
        image_pull_policy: Some(shop.spec().image.pull_policy.as_str().to_owned()),
        command: Some(
            [
                "redis-server",
                "/etc/redis/redis.conf",
                "--requirepass",
                "$(REDIS_PASSWORD)",
            ]
            .map(str::to_owned)
            .to_vec(),
        ),
        ports: Some(vec![ContainerPort {
            name: Some(COMPONENT.to_owned()),
            container_port: REDIS_PORT,
            ..ContainerPort::default()
        }]),
        env: Some(vec![EnvVar {
            name: PASSWORD_VAR.to_owned(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: shop.child_name(secrets::REDIS),
                    key: secrets::PASSWORD_KEY.to_owned(),
                    ..SecretKeySelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        }]),
        resources: Some(spec.resources.requirements()),
        readiness_probe: Some(ping.clone()),
        liveness_probe: Some(Probe {
            initial_delay_seconds: Some(15),
            failure_threshold: Some(6),
            ..ping
        }),
        security_context: Some(security::container()),
        volume_mounts: Some(vec![
            security::mount(DATA_VOLUME, "/data"),
            security::mount("config", "/etc/redis"),
            security::mount("tmp", "/tmp"),
        ]),
        ..Container::default()
    };
    store_stateful_set(
        shop,
        StorePod {
            component: COMPONENT,
            security_context: security::pod(REDIS_UID, REDIS_GID),
            container,
            volumes: vec![
                Volume {
                    name: "config".to_owned(),
                    config_map: Some(ConfigMapVolumeSource {
                        name: shop.child_name(config_map::SUFFIX),
                        ..ConfigMapVolumeSource::default()
                    }),
                    ..Volume::default()
                },
                security::scratch_volume("tmp"),
            ],
            storage: &spec.storage,
        },
        existing_size,
        digest,
    )
}
