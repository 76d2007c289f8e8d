//! The cart's settings: the shared server and key-value store settings, the
//! key that verifies users' tokens, where the catalog is, and how long an
//! idle cart is kept.

use std::time::Duration;

use eshop_platform::{
    auth::JwtVerifier,
    settings::{
        CATALOG_URL, Env, HumanDuration, JWT_PUBLIC_KEY, KeyValueStore, Rendered, ServerSettings,
        ServiceSettings, ServiceUrl, Settings, SettingsError, Var,
    },
};

pub static CART_TTL: Var = Var {
    name: "ESHOP_CART_TTL",
    help: "how long a cart nobody writes to is kept (1s to 365days); every change starts it again",
    default: Some("7days"),
    secret: false,
};

/// The shortest and longest time an idle cart may be kept.
const MIN_CART_TTL: Duration = Duration::from_secs(1);
const MAX_CART_TTL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

#[derive(Debug, Clone)]
pub struct CartSettings {
    pub server: ServerSettings,
    pub store: KeyValueStore,
    /// PEM Ed25519 key that verifies users' tokens.
    pub jwt_public_key: String,
    pub catalog_url: ServiceUrl,
    pub cart_ttl: Duration,
}

fn load_ttl(env: &Env) -> Result<Duration, SettingsError> {
    let ttl = env.get::<HumanDuration>(&CART_TTL)?.0;
    if (MIN_CART_TTL..=MAX_CART_TTL).contains(&ttl) {
        Ok(ttl)
    } else {
        Err(SettingsError::Invalid {
            name: CART_TTL.name,
            value: HumanDuration(ttl).to_string(),
            reason: "must be between 1s and 365days".to_owned(),
        })
    }
}

fn load_jwt_public_key(env: &Env) -> Result<String, SettingsError> {
    let pem: String = env.get(&JWT_PUBLIC_KEY)?;
    JwtVerifier::from_public_pem(&pem).map_err(|error| SettingsError::Invalid {
        name: JWT_PUBLIC_KEY.name,
        value: pem.clone(),
        reason: error.to_string(),
    })?;
    Ok(pem)
}

impl Settings for CartSettings {
    fn vars() -> Vec<&'static Var> {
        let mut vars = ServerSettings::vars();
        vars.extend(KeyValueStore::vars());
        vars.extend([&JWT_PUBLIC_KEY, &CATALOG_URL, &CART_TTL]);
        vars
    }

    fn load(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            server: ServerSettings::load(env)?,
            store: KeyValueStore::load(env)?,
            jwt_public_key: load_jwt_public_key(env)?,
            catalog_url: env.get(&CATALOG_URL)?,
            cart_ttl: load_ttl(env)?,
        })
    }

    fn render(&self) -> Rendered {
        let mut rendered = self.server.render();
        rendered.extend(self.store.render());
        rendered.extend([
            (&JWT_PUBLIC_KEY, self.jwt_public_key.clone()),
            (&CATALOG_URL, self.catalog_url.to_string()),
            (&CART_TTL, HumanDuration(self.cart_ttl).to_string()),
        ]);
        rendered
    }
}

impl ServiceSettings for CartSettings {
    fn server(&self) -> &ServerSettings {
        &self.server
    }
}

#[cfg(test)]
mod tests {
    use eshop_platform::settings::assert_round_trip;
    use eshop_test_support::TestKeys;

    use super::*;

    fn env(keys: &TestKeys, extra: &[(&str, &str)]) -> Env {
        let mut pairs = vec![
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_REDIS_URL", "redis://redis:6379"),
            ("ESHOP_JWT_PUBLIC_KEY", keys.public_pem.as_str()),
        ];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn settings_round_trip_and_are_documented() {
        let keys = TestKeys::generate();
        let settings = CartSettings::load(&env(&keys, &[])).unwrap();
        assert_eq!(settings.cart_ttl, Duration::from_secs(7 * 24 * 60 * 60));
        assert_eq!(settings.catalog_url.as_str(), "http://catalog:8080");
        assert!(
            matches!(&settings.store, KeyValueStore::Redis { key_prefix, .. } if key_prefix == "eshop:")
        );
        assert_round_trip(&settings);

        let embedded = CartSettings::load(&env(
            &keys,
            &[
                ("ESHOP_BACKEND", "embedded"),
                ("ESHOP_DATA_DIR", "/data"),
                ("ESHOP_CATALOG_URL", "https://catalog.shop.svc:8443/"),
                ("ESHOP_CART_TTL", "90m"),
            ],
        ))
        .unwrap();
        assert_eq!(embedded.cart_ttl, Duration::from_secs(90 * 60));
        assert_eq!(
            embedded.catalog_url.as_str(),
            "https://catalog.shop.svc:8443"
        );
        assert_round_trip(&embedded);
    }

    #[test]
    fn bad_values_are_named() {
        let keys = TestKeys::generate();
        for (name, value) in [
            ("ESHOP_CART_TTL", "0s"),
            ("ESHOP_CART_TTL", "500ms"),
            ("ESHOP_CART_TTL", "400days"),
            ("ESHOP_CART_TTL", "soon"),
            ("ESHOP_CATALOG_URL", "catalog:8080"),
            ("ESHOP_CATALOG_URL", "ftp://catalog"),
            ("ESHOP_CATALOG_URL", "http://catalog?x=1"),
            ("ESHOP_JWT_PUBLIC_KEY", "not a key"),
        ] {
            let error = CartSettings::load(&env(&keys, &[(name, value)])).unwrap_err();
            assert!(
                matches!(&error, SettingsError::Invalid { name: named, .. } if *named == name),
                "{name}={value}: {error}"
            );
        }
        let missing = Env::from_pairs([
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_REDIS_URL", "redis://redis:6379"),
        ]);
        assert!(matches!(
            CartSettings::load(&missing),
            Err(SettingsError::Missing {
                name: "ESHOP_JWT_PUBLIC_KEY",
                ..
            })
        ));
    }
}
