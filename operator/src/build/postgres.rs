//! The in-cluster PostgreSQL: a StatefulSet of one pod running the official
//! image, with its data on a claim from `volumeClaimTemplates`, and a
//! headless Service. The database `eshop`, owned by the user `eshop` whose
//! password is in the `<shop>-postgres` Secret, is created by the image on
//! first start; each service keeps its tables in a schema of its own.

use k8s_openapi::{
    api::{
        apps::v1::StatefulSet,
        core::v1::{
            Container, ContainerPort, EnvVar, EnvVarSource, ExecAction, Probe, SecretKeySelector,
            Service,
        },
    },
    apimachinery::pkg::api::resource::Quantity,
};

use super::{
    DATA_VOLUME, POSTGRES_PORT, Shop, StorePod, headless_service, secrets, security,
    store_stateful_set,
};

pub const COMPONENT: &str = "postgres";
/// The database and the user the services connect as.
pub const DATABASE: &str = "eshop";
pub const USER: &str = "eshop";
/// The `postgres` user of the official Alpine image.
const POSTGRES_UID: i64 = 70;
const DATA_DIR: &str = "/var/lib/postgresql/data";

/// The URL the services reach this database at, with the password left to
/// Kubernetes' dependent env expansion from `password_var`.
pub fn url(shop: &Shop<'_>, password_var: &str) -> String {
    format!(
        "postgres://{USER}:$({password_var})@{}:{POSTGRES_PORT}/{DATABASE}",
        shop.child_name(COMPONENT)
    )
}

pub fn service(shop: &Shop<'_>) -> Service {
    headless_service(shop, COMPONENT, POSTGRES_PORT)
}

pub fn stateful_set(
    shop: &Shop<'_>,
    existing_size: Option<&Quantity>,
    digest: &str,
) -> StatefulSet {
    let spec = &shop.spec().database;
    let pg_isready = Probe {
        exec: Some(ExecAction {
            command: Some(
                ["pg_isready", "-h", "127.0.0.1", "-U", USER, "-d", DATABASE]
                    .map(str::to_owned)
                    .to_vec(),
            ),
        }),
        period_seconds: Some(10),
        timeout_seconds: Some(5),
        ..Probe::default()
    };
    let env = |name: &str, value: &str| EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    };
    let container = Container {
        name: COMPONENT.to_owned(),
        image: Some(spec.image.clone()),
        image_pull_policy: Some(shop.spec().image.pull_policy.as_str().to_owned()),
        ports: Some(vec![ContainerPort {
            name: Some(COMPONENT.to_owned()),
            container_port: POSTGRES_PORT,
            ..ContainerPort::default()
        }]),
        env: Some(vec![
            env("POSTGRES_USER", USER),
            env("POSTGRES_DB", DATABASE),
            // A directory below the mount point, which may hold lost+found.
            env("PGDATA", &format!("{DATA_DIR}/pgdata")),
            EnvVar {
                name: "POSTGRES_PASSWORD".to_owned(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: shop.child_name(secrets::POSTGRES),
                        key: secrets::PASSWORD_KEY.to_owned(),
                        ..SecretKeySelector::default()
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            },
        ]),
        resources: Some(spec.resources.requirements()),
        readiness_probe: Some(pg_isready.clone()),
        liveness_probe: Some(Probe {
            initial_delay_seconds: Some(30),
            failure_threshold: Some(6),
            ..pg_isready
        }),
        security_context: Some(security::container()),
        volume_mounts: Some(vec![
            security::mount(DATA_VOLUME, DATA_DIR),
            security::mount("run", "/var/run/postgresql"),
            security::mount("tmp", "/tmp"),
        ]),
        ..Container::default()
    };
    store_stateful_set(
        shop,
        StorePod {
            component: COMPONENT,
            security_context: security::pod(POSTGRES_UID, POSTGRES_UID),
            container,
            volumes: vec![
                security::scratch_volume("run"),
                security::scratch_volume("tmp"),
            ],
            storage: &spec.storage,
        },
        existing_size,
        digest,
    )
}
