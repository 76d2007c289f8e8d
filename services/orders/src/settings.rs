//! The orders service's settings: the shared server and SQL store settings,
//! the public key that verifies users' tokens, and where the event bus is.
//!
//! The bus follows the backend: on `server` it is Redis Streams at
//! `ESHOP_REDIS_URL` (keys under `ESHOP_REDIS_KEY_PREFIX`); on `embedded` it
//! is the shared SQLite file in `ESHOP_DATA_DIR`, next to the orders file.

use eshop_platform::settings::{
    Env, HumanDuration, JWT_PUBLIC_KEY, KeyValueStore, RETENTION, Rendered, ServerSettings,
    ServiceSettings, Settings, SettingsError, SqlStore, Var, merge_rendered, merge_vars,
};

#[derive(Debug, Clone)]
pub struct OrdersSettings {
    pub server: ServerSettings,
    pub store: SqlStore,
    /// PEM Ed25519 key that verifies users' JWTs.
    pub jwt_public_key: String,
    /// Where the event bus is: Redis on the server backend, the SQLite bus
    /// file in the data directory on the embedded one. Loaded from the same
    /// `ESHOP_BACKEND` as the store, so the two always agree.
    pub bus: KeyValueStore,
    /// How long published outbox rows, ids of handled events and
    /// acknowledged bus messages are kept.
    pub retention: std::time::Duration,
}

impl Settings for OrdersSettings {
    fn vars() -> Vec<&'static Var> {
        merge_vars([
            ServerSettings::vars(),
            SqlStore::vars(),
            KeyValueStore::vars(),
            vec![&JWT_PUBLIC_KEY, &RETENTION],
        ])
    }

    fn load(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            server: ServerSettings::load(env)?,
            store: SqlStore::load(env)?,
            jwt_public_key: env.get(&JWT_PUBLIC_KEY)?,
            bus: KeyValueStore::load(env)?,
            retention: env.get::<HumanDuration>(&RETENTION)?.0,
        })
    }

    fn render(&self) -> Rendered {
        // The store and the bus share the backend and the data directory.
        merge_rendered([
            self.server.render(),
            self.store.render(),
            self.bus.render(),
            vec![
                (&JWT_PUBLIC_KEY, self.jwt_public_key.clone()),
                (&RETENTION, HumanDuration(self.retention).to_string()),
            ],
        ])
    }
}

impl ServiceSettings for OrdersSettings {
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

    /// The rendered variables' names, each of which must appear once.
    fn names(settings: &OrdersSettings) -> Vec<&'static str> {
        let names: Vec<_> = settings.render().iter().map(|(var, _)| var.name).collect();
        for name in &names {
            assert_eq!(
                names.iter().filter(|other| *other == name).count(),
                1,
                "{name} is rendered more than once"
            );
        }
        names
    }

    #[test]
    fn server_settings_round_trip_with_the_bus_on_redis() {
        let env = Env::from_pairs([
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_DATABASE_URL", "postgres://eshop@db/eshop"),
            ("ESHOP_REDIS_URL", "redis://:password@redis:6379"),
            ("ESHOP_REDIS_KEY_PREFIX", "shop-a:"),
            ("ESHOP_JWT_PUBLIC_KEY", PUBLIC_KEY),
        ]);
        let settings = OrdersSettings::load(&env).unwrap();
        assert!(matches!(settings.store, SqlStore::Postgres { .. }));
        assert!(matches!(
            &settings.bus,
            KeyValueStore::Redis { key_prefix, .. } if key_prefix == "shop-a:"
        ));
        assert_round_trip(&settings);
        let names = names(&settings);
        for name in [
            "ESHOP_BACKEND",
            "ESHOP_DATABASE_URL",
            "ESHOP_REDIS_URL",
            "ESHOP_REDIS_KEY_PREFIX",
            "ESHOP_JWT_PUBLIC_KEY",
        ] {
            assert!(names.contains(&name), "{name} is not rendered: {names:?}");
        }
        assert!(!names.contains(&"ESHOP_DATA_DIR"));
    }

    #[test]
    fn embedded_settings_keep_the_bus_next_to_the_orders_file() {
        let env = Env::from_pairs([
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_BACKEND", "embedded"),
            ("ESHOP_DATA_DIR", "/data"),
            ("ESHOP_JWT_PUBLIC_KEY", PUBLIC_KEY),
        ]);
        let settings = OrdersSettings::load(&env).unwrap();
        assert!(matches!(
            &settings.bus,
            KeyValueStore::Sqlite { data_dir } if data_dir == std::path::Path::new("/data")
        ));
        assert_round_trip(&settings);
        let names = names(&settings);
        assert!(names.contains(&"ESHOP_DATA_DIR"));
        assert!(!names.contains(&"ESHOP_REDIS_URL"));
    }

    #[test]
    fn the_jwt_key_and_the_redis_url_are_required() {
        let embedded = Env::from_pairs([
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_BACKEND", "embedded"),
            ("ESHOP_DATA_DIR", "/data"),
        ]);
        assert!(matches!(
            OrdersSettings::load(&embedded),
            Err(SettingsError::Missing {
                name: "ESHOP_JWT_PUBLIC_KEY",
                ..
            })
        ));
        let server_without_redis = Env::from_pairs([
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_DATABASE_URL", "postgres://eshop@db/eshop"),
            ("ESHOP_JWT_PUBLIC_KEY", PUBLIC_KEY),
        ]);
        assert!(matches!(
            OrdersSettings::load(&server_without_redis),
            Err(SettingsError::Missing {
                name: "ESHOP_REDIS_URL",
                ..
            })
        ));
    }
}
