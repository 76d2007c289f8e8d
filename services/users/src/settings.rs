//! The users service's settings: the shared server and store settings, the
//! private key tokens are signed with, how long tokens last, and the window
//! in which failed logins are counted.

use std::time::Duration;

use eshop_platform::{
    keys::KeyPair,
    settings::{
        Env, HumanDuration, Rendered, ServerSettings, ServiceSettings, Settings, SettingsError,
        SqlStore, Var,
    },
};
use secrecy::{ExposeSecret, SecretString};

pub static JWT_PRIVATE_KEY: Var = Var {
    name: "ESHOP_JWT_PRIVATE_KEY",
    help: "PEM Ed25519 private key (PKCS#8) that signs users' tokens; the public key other services verify with is derived from it and served at /v1/keys",
    default: None,
    secret: true,
};
pub static JWT_TTL: Var = Var {
    name: "ESHOP_JWT_TTL",
    help: "how long a token from a login stays valid",
    default: Some("1h"),
    secret: false,
};
pub static LOGIN_WINDOW: Var = Var {
    name: "ESHOP_LOGIN_WINDOW",
    help: "the sliding window in which failed logins are counted: at most 5 per account and 20 per client address",
    default: Some("15m"),
    secret: false,
};

#[derive(Debug, Clone)]
pub struct UsersSettings {
    pub server: ServerSettings,
    pub store: SqlStore,
    pub jwt_private_key: SecretString,
    pub jwt_ttl: Duration,
    pub login_window: Duration,
}

/// A duration that must be at least a second.
fn positive(var: &'static Var, env: &Env) -> Result<Duration, SettingsError> {
    let duration = env.get::<HumanDuration>(var)?.0;
    if duration < Duration::from_secs(1) {
        return Err(SettingsError::Invalid {
            name: var.name,
            value: HumanDuration(duration).to_string(),
            reason: "it must be at least 1s".to_owned(),
        });
    }
    Ok(duration)
}

impl Settings for UsersSettings {
    fn vars() -> Vec<&'static Var> {
        let mut vars = ServerSettings::vars();
        vars.extend(SqlStore::vars());
        vars.extend([&JWT_PRIVATE_KEY, &JWT_TTL, &LOGIN_WINDOW]);
        vars
    }

    fn load(env: &Env) -> Result<Self, SettingsError> {
        let server = ServerSettings::load(env)?;
        let store = SqlStore::load(env)?;
        let jwt_private_key = env.secret(&JWT_PRIVATE_KEY)?;
        KeyPair::from_private_pem(jwt_private_key.expose_secret()).map_err(|error| {
            SettingsError::Invalid {
                name: JWT_PRIVATE_KEY.name,
                value: "(hidden)".to_owned(),
                reason: error.to_string(),
            }
        })?;
        Ok(Self {
            server,
            store,
            jwt_private_key,
            jwt_ttl: positive(&JWT_TTL, env)?,
            login_window: positive(&LOGIN_WINDOW, env)?,
        })
    }

    fn render(&self) -> Rendered {
        let mut rendered = self.server.render();
        rendered.extend(self.store.render());
        rendered.extend([
            (
                &JWT_PRIVATE_KEY,
                self.jwt_private_key.expose_secret().to_owned(),
            ),
            (&JWT_TTL, HumanDuration(self.jwt_ttl).to_string()),
            (&LOGIN_WINDOW, HumanDuration(self.login_window).to_string()),
        ]);
        rendered
    }
}

impl ServiceSettings for UsersSettings {
    fn server(&self) -> &ServerSettings {
        &self.server
    }
}

#[cfg(test)]
mod tests {
    use eshop_platform::settings::assert_round_trip;

    use super::*;

    fn private_pem() -> String {
        KeyPair::generate().private_pem.expose_secret().to_owned()
    }

    #[test]
    fn settings_round_trip_and_are_documented() {
        let key = private_pem();
        let env = Env::from_pairs([
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_DATABASE_URL", "postgres://eshop@db/eshop"),
            ("ESHOP_JWT_PRIVATE_KEY", key.as_str()),
            ("ESHOP_JWT_TTL", "30m"),
        ]);
        let settings = UsersSettings::load(&env).unwrap();
        assert_eq!(settings.jwt_ttl, Duration::from_secs(1800));
        assert_eq!(settings.login_window, Duration::from_secs(900));
        assert_round_trip(&settings);
        assert_round_trip(&UsersSettings {
            store: SqlStore::Sqlite {
                data_dir: "/data".into(),
            },
            login_window: Duration::from_secs(60),
            ..settings
        });
    }

    #[test]
    fn a_missing_or_bad_key_is_named_but_not_shown() {
        let missing = Env::from_pairs([
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_BACKEND", "embedded"),
            ("ESHOP_DATA_DIR", "/data"),
        ]);
        assert!(matches!(
            UsersSettings::load(&missing),
            Err(SettingsError::Missing {
                name: "ESHOP_JWT_PRIVATE_KEY",
                ..
            })
        ));
        let ecdsa = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .unwrap()
            .serialize_pem();
        for bad in ["not a key", ecdsa.as_str()] {
            let env = Env::from_pairs([
                ("ESHOP_INTERNAL_TOKEN", "secret"),
                ("ESHOP_BACKEND", "embedded"),
                ("ESHOP_DATA_DIR", "/data"),
                ("ESHOP_JWT_PRIVATE_KEY", bad),
            ]);
            let error = UsersSettings::load(&env).unwrap_err();
            assert!(
                matches!(&error, SettingsError::Invalid { name: "ESHOP_JWT_PRIVATE_KEY", value, .. } if value == "(hidden)"),
                "{error}"
            );
        }
    }

    #[test]
    fn durations_below_a_second_are_refused() {
        let key = private_pem();
        let env = Env::from_pairs([
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_DATABASE_URL", "postgres://eshop@db/eshop"),
            ("ESHOP_JWT_PRIVATE_KEY", key.as_str()),
            ("ESHOP_JWT_TTL", "0s"),
        ]);
        assert!(matches!(
            UsersSettings::load(&env),
            Err(SettingsError::Invalid {
                name: "ESHOP_JWT_TTL",
                ..
            })
        ));
    }
}
