//! The wallet's settings: the shared server and SQL store settings and the
//! key that verifies users' tokens. Its limits (largest top-up, charge and
//! balance) are part of the API, not settings: see [`crate::domain`].

use eshop_platform::{
    auth::JwtVerifier,
    settings::{
        Env, JWT_PUBLIC_KEY, Rendered, ServerSettings, ServiceSettings, Settings, SettingsError,
        SqlStore, Var,
    },
};

#[derive(Debug, Clone)]
pub struct WalletSettings {
    pub server: ServerSettings,
    pub store: SqlStore,
    /// PEM Ed25519 key that verifies users' tokens.
    pub jwt_public_key: String,
}

/// The PEM key, checked to load now rather than when the service starts.
fn load_jwt_public_key(env: &Env) -> Result<String, SettingsError> {
    let pem: String = env.get(&JWT_PUBLIC_KEY)?;
    JwtVerifier::from_public_pem(&pem).map_err(|error| SettingsError::Invalid {
        name: JWT_PUBLIC_KEY.name,
        value: pem.clone(),
        reason: error.to_string(),
    })?;
    Ok(pem)
}

impl Settings for WalletSettings {
    fn vars() -> Vec<&'static Var> {
        let mut vars = ServerSettings::vars();
        vars.extend(SqlStore::vars());
        vars.push(&JWT_PUBLIC_KEY);
        vars
    }

    fn load(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            server: ServerSettings::load(env)?,
            store: SqlStore::load(env)?,
            jwt_public_key: load_jwt_public_key(env)?,
        })
    }

    fn render(&self) -> Rendered {
        let mut rendered = self.server.render();
        rendered.extend(self.store.render());
        rendered.push((&JWT_PUBLIC_KEY, self.jwt_public_key.clone()));
        rendered
    }
}

impl ServiceSettings for WalletSettings {
    fn server(&self) -> &ServerSettings {
        &self.server
    }
}

#[cfg(test)]
mod tests {
    use eshop_platform::settings::assert_round_trip;
    use eshop_test_support::TestKeys;

    use super::*;

    #[test]
    fn settings_round_trip_and_are_documented() {
        let keys = TestKeys::generate();
        let env = Env::from_pairs([
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_DATABASE_URL", "postgres://eshop@db/eshop"),
            ("ESHOP_JWT_PUBLIC_KEY", keys.public_pem.as_str()),
        ]);
        let settings = WalletSettings::load(&env).unwrap();
        assert!(matches!(settings.store, SqlStore::Postgres { .. }));
        assert_eq!(settings.jwt_public_key, keys.public_pem);
        assert_round_trip(&settings);
        assert_round_trip(&WalletSettings {
            store: SqlStore::Sqlite {
                data_dir: "/data".into(),
            },
            ..settings
        });
    }

    #[test]
    fn a_missing_or_bad_key_is_named() {
        let missing = Env::from_pairs([
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_BACKEND", "embedded"),
            ("ESHOP_DATA_DIR", "/data"),
        ]);
        assert!(matches!(
            WalletSettings::load(&missing),
            Err(SettingsError::Missing {
                name: "ESHOP_JWT_PUBLIC_KEY",
                ..
            })
        ));
        let bad = Env::from_pairs([
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_BACKEND", "embedded"),
            ("ESHOP_DATA_DIR", "/data"),
            ("ESHOP_JWT_PUBLIC_KEY", "not a key"),
        ]);
        assert!(matches!(
            WalletSettings::load(&bad),
            Err(SettingsError::Invalid {
                name: "ESHOP_JWT_PUBLIC_KEY",
                ..
            })
        ));
    }
}
