//! The ratings service's settings: the shared server and key-value store
//! settings, the public key that verifies users' tokens, and where the
//! catalog is (every new rating is checked against it).

use eshop_platform::settings::{
    CATALOG_URL, Env, JWT_PUBLIC_KEY, KeyValueStore, Rendered, ServerSettings, ServiceSettings,
    ServiceUrl, Settings, SettingsError, Var,
};

#[derive(Debug, Clone)]
pub struct RatingsSettings {
    pub server: ServerSettings,
    pub store: KeyValueStore,
    /// PEM Ed25519 key that verifies users' JWTs.
    pub jwt_public_key: String,
    pub catalog_url: ServiceUrl,
}

impl Settings for RatingsSettings {
    fn vars() -> Vec<&'static Var> {
        let mut vars = ServerSettings::vars();
        vars.extend(KeyValueStore::vars());
        vars.extend([&JWT_PUBLIC_KEY, &CATALOG_URL]);
        vars
    }

    fn load(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            server: ServerSettings::load(env)?,
            store: KeyValueStore::load(env)?,
            jwt_public_key: env.get(&JWT_PUBLIC_KEY)?,
            catalog_url: env.get(&CATALOG_URL)?,
        })
    }

    fn render(&self) -> Rendered {
        let mut rendered = self.server.render();
        rendered.extend(self.store.render());
        rendered.extend([
            (&JWT_PUBLIC_KEY, self.jwt_public_key.clone()),
            (&CATALOG_URL, self.catalog_url.to_string()),
        ]);
        rendered
    }
}

impl ServiceSettings for RatingsSettings {
    fn server(&self) -> &ServerSettings {
        &self.server
    }
}

#[cfg(test)]
mod tests {
    use eshop_platform::settings::assert_round_trip;

    use super::*;

    const PUBLIC_KEY: &str =
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n";

    #[test]
    fn settings_round_trip_and_are_documented() {
        let env = Env::from_pairs([
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_REDIS_URL", "redis://:password@redis:6379"),
            ("ESHOP_REDIS_KEY_PREFIX", "shop-a:"),
            ("ESHOP_JWT_PUBLIC_KEY", PUBLIC_KEY),
        ]);
        let settings = RatingsSettings::load(&env).unwrap();
        assert_eq!(settings.catalog_url.as_str(), "http://catalog:8080");
        assert!(matches!(
            &settings.store,
            KeyValueStore::Redis { key_prefix, .. } if key_prefix == "shop-a:"
        ));
        assert_round_trip(&settings);
        assert_round_trip(&RatingsSettings {
            store: KeyValueStore::Sqlite {
                data_dir: "/data".into(),
            },
            catalog_url: "http://127.0.0.1:8081".parse().unwrap(),
            ..settings
        });
    }

    #[test]
    fn the_jwt_key_is_required_and_the_catalog_url_is_checked() {
        let embedded = [
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_BACKEND", "embedded"),
            ("ESHOP_DATA_DIR", "/data"),
        ];
        assert!(matches!(
            RatingsSettings::load(&Env::from_pairs(embedded)),
            Err(SettingsError::Missing {
                name: "ESHOP_JWT_PUBLIC_KEY",
                ..
            })
        ));
        for bad in [
            "catalog:8080",
            "ftp://catalog",
            "http://",
            "http://catalog/?a=1",
        ] {
            let env = Env::from_pairs(embedded.into_iter().chain([
                ("ESHOP_JWT_PUBLIC_KEY", PUBLIC_KEY),
                ("ESHOP_CATALOG_URL", bad),
            ]));
            assert!(
                matches!(
                    RatingsSettings::load(&env),
                    Err(SettingsError::Invalid {
                        name: "ESHOP_CATALOG_URL",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }
}
