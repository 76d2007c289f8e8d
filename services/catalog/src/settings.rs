//! The catalog's settings: the shared server and store settings, whether to
//! load the demo catalog at start, and how long reservations are held.

use std::time::Duration;

use eshop_platform::settings::{
    Env, HumanDuration, Rendered, ServerSettings, ServiceSettings, Settings, SettingsError,
    SqlStore, Var,
};

pub static DEMO_DATA: Var = Var {
    name: "ESHOP_DEMO_DATA",
    help: "`true` loads the demo catalog at start (products already there are kept)",
    default: Some("false"),
    secret: false,
};
pub static RESERVATION_TTL: Var = Var {
    name: "ESHOP_RESERVATION_TTL",
    help: "how long a reservation holds stock before it is released unless committed",
    default: Some("15m"),
    secret: false,
};

#[derive(Debug, Clone)]
pub struct CatalogSettings {
    pub server: ServerSettings,
    pub store: SqlStore,
    pub demo_data: bool,
    pub reservation_ttl: Duration,
}

impl Settings for CatalogSettings {
    fn vars() -> Vec<&'static Var> {
        let mut vars = ServerSettings::vars();
        vars.extend(SqlStore::vars());
        vars.extend([&DEMO_DATA, &RESERVATION_TTL]);
        vars
    }

    fn load(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            server: ServerSettings::load(env)?,
            store: SqlStore::load(env)?,
            demo_data: env.get(&DEMO_DATA)?,
            reservation_ttl: env.get::<HumanDuration>(&RESERVATION_TTL)?.0,
        })
    }

    fn render(&self) -> Rendered {
        let mut rendered = self.server.render();
        rendered.extend(self.store.render());
        rendered.extend([
            (&DEMO_DATA, self.demo_data.to_string()),
            (
                &RESERVATION_TTL,
                HumanDuration(self.reservation_ttl).to_string(),
            ),
        ]);
        rendered
    }
}

impl ServiceSettings for CatalogSettings {
    fn server(&self) -> &ServerSettings {
        &self.server
    }
}

#[cfg(test)]
mod tests {
    use eshop_platform::settings::assert_round_trip;

    use super::*;

    #[test]
    fn settings_round_trip_and_are_documented() {
        let env = Env::from_pairs([
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_DATABASE_URL", "postgres://eshop@db/eshop"),
            ("ESHOP_RESERVATION_TTL", "2m"),
        ]);
        let settings = CatalogSettings::load(&env).unwrap();
        assert_eq!(settings.reservation_ttl, Duration::from_secs(120));
        assert!(!settings.demo_data);
        assert_round_trip(&settings);
        assert_round_trip(&CatalogSettings {
            store: SqlStore::Sqlite {
                data_dir: "/data".into(),
            },
            demo_data: true,
            ..settings
        });
    }
}
