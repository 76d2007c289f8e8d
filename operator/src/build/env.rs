//! A service's environment, rendered from the service's own settings
//! struct, so the operator and the service agree on every variable.
//!
//! The settings are loaded from what this shop fixes (the ports, the
//! credentials, where PostgreSQL, Redis and the other services are, demo
//! data, TLS),
//! with the service's own defaults for the rest, then rendered back into
//! variables. Non-secret variables go into the Deployment inline; a
//! secret never does:
//!
//! - the internal token and the JWT private key come from their Secrets
//!   (`valueFrom.secretKeyRef`);
//! - the database and Redis URLs carry a password, so they are written with
//!   Kubernetes' dependent env expansion, `$(ESHOP_DATABASE_PASSWORD)`,
//!   from a password variable declared first from the Secret;
//! - an external database's URL comes whole from the user's Secret.
//!
//! Any other secret variable is an error: the operator would not know
//! where to take it from.

use eshop_platform::settings::{
    ADMIN_LISTEN, DATABASE_URL, Env, INTERNAL_TOKEN, JWT_PUBLIC_KEY, LISTEN, REDIS_URL, Rendered,
};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, SecretKeySelector};

use super::{
    ADMIN_PORT, BuildError, Credentials, HTTP_PORT, Shop, postgres, redis, secrets,
    service_deployment,
};
use crate::crd::DatabaseMode;

/// The variable holding the database password, expanded into the URL.
pub const DATABASE_PASSWORD: &str = "ESHOP_DATABASE_PASSWORD";
/// The variable holding the Redis password, expanded into the URL.
pub const REDIS_PASSWORD: &str = "ESHOP_REDIS_PASSWORD";

/// Stands for an external database's URL while the settings load; the
/// Deployment takes the real one from the user's Secret.
const EXTERNAL_DATABASE_PLACEHOLDER: &str = "postgres://external-database/eshop";

/// The env of `service`'s container in `shop`.
pub fn service_env(
    shop: &Shop<'_>,
    service: &service_deployment::ShopService,
    credentials: &Credentials,
) -> Result<Vec<EnvVar>, BuildError> {
    let rendered = render(shop, service, credentials)?;
    env_vars(shop, service.name, &rendered)
}

/// The service's settings as this shop configures them, rendered.
pub fn render(
    shop: &Shop<'_>,
    service: &service_deployment::ShopService,
    credentials: &Credentials,
) -> Result<Rendered, BuildError> {
    let fixed = (service.vars)()
        .into_iter()
        .filter_map(|var| fixed_value(shop, var.name, credentials).map(|value| (var.name, value)));
    (service.render)(&Env::from_pairs(fixed)).map_err(|source| BuildError::Settings {
        service: service.name,
        source,
    })
}

/// What this shop fixes for the variable `name`; `None` leaves the
/// service's default.
fn fixed_value(shop: &Shop<'_>, name: &str, credentials: &Credentials) -> Option<String> {
    let spec = shop.spec();
    let value = match name {
        // The ports the Deployment, the Service and the NetworkPolicies name.
        _ if name == LISTEN.name => format!("0.0.0.0:{HTTP_PORT}"),
        _ if name == ADMIN_LISTEN.name => format!("0.0.0.0:{ADMIN_PORT}"),
        _ if name == INTERNAL_TOKEN.name => credentials.internal_token.clone(),
        _ if name == JWT_PUBLIC_KEY.name => credentials.jwt_public_pem.clone(),
        _ if name == eshop_users::settings::JWT_PRIVATE_KEY.name => {
            credentials.jwt_private_pem.clone()
        }
        _ if name == DATABASE_URL.name => match spec.database.mode {
            DatabaseMode::InCluster => postgres::url(shop, DATABASE_PASSWORD),
            DatabaseMode::External => EXTERNAL_DATABASE_PLACEHOLDER.to_owned(),
        },
        _ if name == REDIS_URL.name => redis::url(shop, REDIS_PASSWORD),
        _ if name == eshop_catalog::settings::DEMO_DATA.name => spec.demo_data.to_string(),
        // The gateway's cookies are `Secure` when the shop is served over
        // HTTPS, and it counts the client address the Ingress reports.
        _ if name == eshop_gateway::settings::COOKIE_SECURE.name => shop.tls().to_string(),
        _ if name == eshop_gateway::settings::TRUST_FORWARDED_FOR.name => {
            spec.ingress.enabled.to_string()
        }
        _ => {
            let service = name.strip_prefix("ESHOP_")?.strip_suffix("_URL")?;
            let service = service_deployment::SERVICES
                .iter()
                .find(|known| known.name.eq_ignore_ascii_case(service))?;
            shop.service_url(service.name)
        }
    };
    Some(value)
}

/// Rendered variables as container env: inline, or from a Secret.
fn env_vars(
    shop: &Shop<'_>,
    service: &'static str,
    rendered: &Rendered,
) -> Result<Vec<EnvVar>, BuildError> {
    let mut passwords = Vec::new();
    let mut env = Vec::new();
    for (var, value) in rendered {
        if !var.secret {
            env.push(inline(var.name, value));
            continue;
        }
        let from_secret = |secret: String, key: &str| EnvVar {
            name: var.name.to_owned(),
            value_from: Some(secret_key_ref(secret, key)),
            ..EnvVar::default()
        };
        let entry = match var.name {
            name if name == INTERNAL_TOKEN.name => {
                from_secret(shop.child_name(secrets::INTERNAL_TOKEN), secrets::TOKEN_KEY)
            }
            name if name == eshop_users::settings::JWT_PRIVATE_KEY.name => {
                from_secret(shop.child_name(secrets::JWT), secrets::PRIVATE_KEY)
            }
            name if name == DATABASE_URL.name => match &shop.spec().database.external_secret_ref {
                Some(external) if shop.spec().database.mode == DatabaseMode::External => {
                    from_secret(external.name.clone(), &external.key)
                }
                _ => {
                    passwords.push(password(DATABASE_PASSWORD, shop, secrets::POSTGRES));
                    inline(var.name, value)
                }
            },
            name if name == REDIS_URL.name => {
                passwords.push(password(REDIS_PASSWORD, shop, secrets::REDIS));
                inline(var.name, value)
            }
            name => return Err(BuildError::UnknownSecret { service, var: name }),
        };
        env.push(entry);
    }
    // Expansion only sees variables declared earlier.
    passwords.extend(env);
    Ok(passwords)
}

fn inline(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    }
}

fn password(name: &str, shop: &Shop<'_>, secret: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(secret_key_ref(
            shop.child_name(secret),
            secrets::PASSWORD_KEY,
        )),
        ..EnvVar::default()
    }
}

fn secret_key_ref(name: String, key: &str) -> EnvVarSource {
    EnvVarSource {
        secret_key_ref: Some(SecretKeySelector {
            name,
            key: key.to_owned(),
            ..SecretKeySelector::default()
        }),
        ..EnvVarSource::default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::build::{
        Inputs, children, secrets::FoundSecrets, service_deployment::SERVICES, test_shop,
    };

    fn credentials() -> Credentials {
        Credentials::from_secrets(&FoundSecrets::new())
    }

    /// The env as the kubelet would give it to the container: Secret keys
    /// looked up, `$(VAR)` expanded from variables declared earlier.
    fn resolve(
        env: &[EnvVar],
        secrets: &[k8s_openapi::api::core::v1::Secret],
    ) -> Vec<(String, String)> {
        let mut resolved: Vec<(String, String)> = Vec::new();
        for var in env {
            let value = if let Some(reference) = var
                .value_from
                .as_ref()
                .and_then(|from| from.secret_key_ref.as_ref())
            {
                let secret = secrets
                    .iter()
                    .find(|secret| secret.metadata.name.as_deref() == Some(&reference.name))
                    .unwrap_or_else(|| {
                        panic!(
                            "{} refers to Secret {}, which the shop lacks",
                            var.name, reference.name
                        )
                    });
                String::from_utf8(secret.data.as_ref().unwrap()[&reference.key].0.clone()).unwrap()
            } else {
                let mut value = var.value.clone().unwrap();
                for (name, earlier) in &resolved {
                    value = value.replace(&format!("$({name})"), earlier);
                }
                assert!(
                    !value.contains("$("),
                    "{} refers to a variable not declared before it: {value}",
                    var.name
                );
                value
            };
            resolved.push((var.name.clone(), value));
        }
        resolved
    }

    #[test]
    fn every_rendered_variable_is_inline_or_comes_from_a_secret() {
        let credentials = credentials();
        let shop = test_shop(&json!({}));
        let context = Shop::new(&shop).unwrap();
        for service in &SERVICES {
            let rendered = render(&context, service, &credentials).unwrap();
            let env = service_env(&context, service, &credentials).unwrap();
            for (var, value) in &rendered {
                let entry = env
                    .iter()
                    .find(|entry| entry.name == var.name)
                    .unwrap_or_else(|| panic!("{} of {} is missing", var.name, service.name));
                if !var.secret {
                    assert_eq!(
                        entry.value.as_ref(),
                        Some(value),
                        "{} of {} is inline",
                        var.name,
                        service.name
                    );
                    continue;
                }
                let from_secret = entry
                    .value_from
                    .as_ref()
                    .and_then(|from| from.secret_key_ref.as_ref())
                    .is_some();
                let expanded_from_secret = entry.value.as_ref().is_some_and(|value| {
                    env.iter()
                        .take_while(|earlier| earlier.name != entry.name)
                        .any(|earlier| {
                            value.contains(&format!("$({})", earlier.name))
                                && earlier
                                    .value_from
                                    .as_ref()
                                    .and_then(|from| from.secret_key_ref.as_ref())
                                    .is_some()
                        })
                });
                assert!(
                    from_secret || expanded_from_secret,
                    "{} of {} comes from a Secret",
                    var.name,
                    service.name
                );
            }
            for entry in &env {
                for secret in credentials.secret_values() {
                    assert!(
                        !entry.value.as_deref().unwrap_or_default().contains(secret),
                        "{} of {} shows a secret",
                        entry.name,
                        service.name
                    );
                }
            }
        }
    }

    #[test]
    fn a_deployments_env_loads_back_through_the_services_settings() {
        let shop = test_shop(&json!({"demoData": false}));
        let inputs = Inputs {
            credentials: credentials(),
            claim_template_sizes: BTreeMap::new(),
        };
        let children = children(&shop, &inputs).unwrap();
        for service in &SERVICES {
            let deployment = children
                .deployments
                .iter()
                .find(|deployment| {
                    deployment.metadata.name.as_deref() == Some(&format!("shop-{}", service.name))
                })
                .unwrap();
            let env = deployment
                .spec
                .as_ref()
                .unwrap()
                .template
                .spec
                .as_ref()
                .unwrap()
                .containers[0]
                .env
                .clone()
                .unwrap();
            let resolved = resolve(&env, &children.secrets);
            let loaded = (service.render)(&Env::from_pairs(resolved.clone()))
                .unwrap_or_else(|error| panic!("{}'s env does not load: {error}", service.name));
            for (var, value) in loaded.iter().filter(|(var, _)| !var.secret) {
                let inline = env
                    .iter()
                    .find(|entry| entry.name == var.name)
                    .and_then(|entry| entry.value.as_ref());
                assert_eq!(inline, Some(value), "{} of {}", var.name, service.name);
            }
            let database = resolved.iter().find(|(name, _)| name == DATABASE_URL.name);
            if let Some((_, url)) = database {
                assert_eq!(
                    url,
                    &format!(
                        "postgres://eshop:{}@shop-postgres:5432/eshop",
                        inputs.credentials.postgres_password
                    )
                );
            }
        }
        let catalog = children
            .deployments
            .iter()
            .find(|deployment| deployment.metadata.name.as_deref() == Some("shop-catalog"))
            .unwrap();
        let env = &catalog
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .env;
        assert!(env.iter().flatten().any(
            |entry| entry.name == "ESHOP_DEMO_DATA" && entry.value.as_deref() == Some("false")
        ));
    }

    #[test]
    fn other_services_are_found_by_their_service_names() {
        let shop = test_shop(&json!({}));
        let context = Shop::new(&shop).unwrap();
        let payments = SERVICES
            .iter()
            .find(|service| service.name == "payments")
            .unwrap();
        let env = service_env(&context, payments, &credentials()).unwrap();
        let wallet = env
            .iter()
            .find(|entry| entry.name == "ESHOP_WALLET_URL")
            .unwrap();
        assert_eq!(wallet.value.as_deref(), Some("http://shop-wallet:8080"));
    }

    #[test]
    fn an_external_databases_url_comes_from_the_users_secret() {
        let shop = test_shop(
            &json!({"database": {"mode": "External", "externalSecretRef": {"name": "db", "key": "dsn"}}}),
        );
        let context = Shop::new(&shop).unwrap();
        let orders = SERVICES
            .iter()
            .find(|service| service.name == "orders")
            .unwrap();
        let env = service_env(&context, orders, &credentials()).unwrap();
        let url = env
            .iter()
            .find(|entry| entry.name == DATABASE_URL.name)
            .unwrap();
        let reference = url
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (reference.name.as_str(), reference.key.as_str()),
            ("db", "dsn")
        );
        assert!(!env.iter().any(|entry| entry.name == DATABASE_PASSWORD));
    }
}
