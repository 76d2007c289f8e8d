//! Shipping's settings: the shared server and store settings, where the
//! warehouse is (every distance is measured from it), and how long a quote
//! can be confirmed.

use std::{fmt, str::FromStr, time::Duration};

use eshop_platform::settings::{
    Env, HumanDuration, RETENTION, Rendered, ServerSettings, ServiceSettings, Settings,
    SettingsError, SqlStore, Var,
};

use crate::domain::Coordinates;

pub static WAREHOUSE: Var = Var {
    name: "ESHOP_WAREHOUSE",
    help: "where parcels leave from, as `latitude,longitude` in degrees; quotes are priced by the distance from here",
    default: Some("51.92,4.48"),
    secret: false,
};
pub static QUOTE_TTL: Var = Var {
    name: "ESHOP_QUOTE_TTL",
    help: "how long a quote can be confirmed, from 1s to 7days",
    default: Some("30m"),
    secret: false,
};

/// The longest a quote may stay open.
const MAX_QUOTE_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

#[derive(Debug, Clone)]
pub struct ShippingSettings {
    pub server: ServerSettings,
    pub store: SqlStore,
    pub warehouse: Coordinates,
    pub quote_ttl: Duration,
    /// How long a quote is kept once it has expired.
    pub retention: Duration,
}

/// A quote lifetime as `ESHOP_QUOTE_TTL` takes it: a human duration within
/// bounds.
struct QuoteTtl(Duration);

impl FromStr for QuoteTtl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let HumanDuration(ttl) = text.parse().map_err(|error| format!("{error}"))?;
        if ttl.is_zero() || ttl > MAX_QUOTE_TTL {
            return Err("must be more than 0 and at most 7days".to_owned());
        }
        Ok(Self(ttl))
    }
}

impl fmt::Display for QuoteTtl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        HumanDuration(self.0).fmt(f)
    }
}

impl Settings for ShippingSettings {
    fn vars() -> Vec<&'static Var> {
        let mut vars = ServerSettings::vars();
        vars.extend(SqlStore::vars());
        vars.extend([&WAREHOUSE, &QUOTE_TTL, &RETENTION]);
        vars
    }

    fn load(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            server: ServerSettings::load(env)?,
            store: SqlStore::load(env)?,
            warehouse: env.get(&WAREHOUSE)?,
            quote_ttl: env.get::<QuoteTtl>(&QUOTE_TTL)?.0,
            retention: env.get::<HumanDuration>(&RETENTION)?.0,
        })
    }

    fn render(&self) -> Rendered {
        let mut rendered = self.server.render();
        rendered.extend(self.store.render());
        rendered.extend([
            (&WAREHOUSE, self.warehouse.to_string()),
            (&QUOTE_TTL, QuoteTtl(self.quote_ttl).to_string()),
            (&RETENTION, HumanDuration(self.retention).to_string()),
        ]);
        rendered
    }
}

impl ServiceSettings for ShippingSettings {
    fn server(&self) -> &ServerSettings {
        &self.server
    }
}

#[cfg(test)]
mod tests {
    use eshop_platform::settings::assert_round_trip;

    use super::*;

    fn env(pairs: &[(&'static str, &'static str)]) -> Env {
        let mut all = vec![
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_DATABASE_URL", "postgres://eshop@db/eshop"),
        ];
        all.extend_from_slice(pairs);
        Env::from_pairs(all)
    }

    #[test]
    fn settings_round_trip_and_are_documented() {
        let settings = ShippingSettings::load(&env(&[])).unwrap();
        assert_eq!(settings.warehouse, Coordinates::new(51.92, 4.48).unwrap());
        assert_eq!(settings.quote_ttl, Duration::from_secs(30 * 60));
        assert_round_trip(&settings);
        let settings = ShippingSettings::load(&env(&[
            ("ESHOP_WAREHOUSE", "-33.8688,151.2093"),
            ("ESHOP_QUOTE_TTL", "1h 30m"),
        ]))
        .unwrap();
        assert_eq!(settings.quote_ttl, Duration::from_secs(90 * 60));
        assert_round_trip(&settings);
        assert_round_trip(&ShippingSettings {
            store: SqlStore::Sqlite {
                data_dir: "/data".into(),
            },
            quote_ttl: Duration::from_millis(1500),
            retention: Duration::from_secs(60),
            ..settings
        });
    }

    #[test]
    fn a_bad_warehouse_or_quote_lifetime_is_named() {
        for (name, value) in [
            ("ESHOP_WAREHOUSE", "51.92"),
            ("ESHOP_WAREHOUSE", "rotterdam"),
            ("ESHOP_WAREHOUSE", "91,4.48"),
            ("ESHOP_WAREHOUSE", "51.92,200"),
            ("ESHOP_QUOTE_TTL", "soon"),
            ("ESHOP_QUOTE_TTL", "0s"),
            ("ESHOP_QUOTE_TTL", "8days"),
        ] {
            let error = ShippingSettings::load(&env(&[(name, value)])).unwrap_err();
            assert!(
                matches!(&error, SettingsError::Invalid { name: named, value: shown, .. }
                    if *named == name && shown == value),
                "{name}={value}: {error}"
            );
            assert!(error.to_string().starts_with(name), "{error}");
        }
    }
}
