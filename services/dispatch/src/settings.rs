//! Dispatch's settings: the shared server and key-value store settings (the
//! event bus follows the store: Redis Streams under the same URL and key
//! prefix, or the shared `bus.sqlite3` in the same data directory), how long
//! a paid order waits before it leaves and how long it travels, how soon a
//! failed event is delivered again, and the fault knob.

use std::time::Duration;

use eshop_platform::settings::{
    Env, HumanDuration, KeyValueStore, RETENTION, Rate, Rendered, ServerSettings, ServiceSettings,
    Settings, SettingsError, Var,
};

pub static DISPATCH_DELAY: Var = Var {
    name: "ESHOP_DISPATCH_DELAY",
    help: "how long after payment an order leaves the warehouse",
    default: Some("10s"),
    secret: false,
};
pub static DELIVERY_DELAY: Var = Var {
    name: "ESHOP_DELIVERY_DELAY",
    help: "how long after dispatch an order reaches its customer",
    default: Some("20s"),
    secret: false,
};
pub static REDELIVER_AFTER: Var = Var {
    name: "ESHOP_REDELIVER_AFTER",
    help: "how long an order event whose handling failed (or whose consumer died) waits before it is delivered again",
    default: Some("10s"),
    secret: false,
};
pub static FAULT_ERROR_RATE: Var = Var {
    name: "ESHOP_FAULT_ERROR_RATE",
    help: "fault knob: share of order-event handlings (0 to 1) that fail with a retryable error, so the bus redelivers them (off: 0)",
    default: Some("0"),
    secret: false,
};

#[derive(Debug, Clone)]
pub struct DispatchSettings {
    pub server: ServerSettings,
    /// Where shipments are kept; the event bus is on the same backend.
    pub store: KeyValueStore,
    pub dispatch_delay: Duration,
    pub delivery_delay: Duration,
    pub redeliver_after: Duration,
    pub fault_error_rate: Rate,
    /// How long published outbox rows and acknowledged bus messages are
    /// kept.
    pub retention: Duration,
}

impl Settings for DispatchSettings {
    fn vars() -> Vec<&'static Var> {
        let mut vars = ServerSettings::vars();
        vars.extend(KeyValueStore::vars());
        vars.extend([
            &DISPATCH_DELAY,
            &DELIVERY_DELAY,
            &REDELIVER_AFTER,
            &FAULT_ERROR_RATE,
            &RETENTION,
        ]);
        vars
    }

    fn load(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            server: ServerSettings::load(env)?,
            store: KeyValueStore::load(env)?,
            dispatch_delay: env.get::<HumanDuration>(&DISPATCH_DELAY)?.0,
            delivery_delay: env.get::<HumanDuration>(&DELIVERY_DELAY)?.0,
            redeliver_after: env.get::<HumanDuration>(&REDELIVER_AFTER)?.0,
            fault_error_rate: env.get(&FAULT_ERROR_RATE)?,
            retention: env.get::<HumanDuration>(&RETENTION)?.0,
        })
    }

    fn render(&self) -> Rendered {
        let mut rendered = self.server.render();
        rendered.extend(self.store.render());
        rendered.extend([
            (
                &DISPATCH_DELAY,
                HumanDuration(self.dispatch_delay).to_string(),
            ),
            (
                &DELIVERY_DELAY,
                HumanDuration(self.delivery_delay).to_string(),
            ),
            (
                &REDELIVER_AFTER,
                HumanDuration(self.redeliver_after).to_string(),
            ),
            (&FAULT_ERROR_RATE, self.fault_error_rate.to_string()),
            (&RETENTION, HumanDuration(self.retention).to_string()),
        ]);
        rendered
    }
}

impl ServiceSettings for DispatchSettings {
    fn server(&self) -> &ServerSettings {
        &self.server
    }
}

#[cfg(test)]
mod tests {
    use eshop_platform::settings::assert_round_trip;

    use super::*;

    fn env(extra: &[(&str, &str)]) -> Env {
        let mut pairs = vec![
            ("ESHOP_INTERNAL_TOKEN", "secret"),
            ("ESHOP_REDIS_URL", "redis://redis:6379"),
        ];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn defaults_ship_after_ten_seconds_and_deliver_twenty_later_without_faults() {
        let settings = DispatchSettings::load(&env(&[])).unwrap();
        assert_eq!(settings.dispatch_delay, Duration::from_secs(10));
        assert_eq!(settings.delivery_delay, Duration::from_secs(20));
        assert_eq!(settings.redeliver_after, Duration::from_secs(10));
        assert_eq!(settings.fault_error_rate, Rate::ZERO);
        assert!(matches!(settings.store, KeyValueStore::Redis { .. }));
    }

    #[test]
    fn settings_round_trip_and_are_documented() {
        let settings = DispatchSettings::load(&env(&[
            ("ESHOP_DISPATCH_DELAY", "200ms"),
            ("ESHOP_DELIVERY_DELAY", "1m 30s"),
            ("ESHOP_REDELIVER_AFTER", "250ms"),
            ("ESHOP_FAULT_ERROR_RATE", "0.25"),
        ]))
        .unwrap();
        assert_eq!(settings.dispatch_delay, Duration::from_millis(200));
        assert_eq!(settings.delivery_delay, Duration::from_secs(90));
        assert_eq!(settings.fault_error_rate.value(), 0.25);
        assert_round_trip(&settings);
        assert_round_trip(&DispatchSettings {
            store: KeyValueStore::Sqlite {
                data_dir: "/data".into(),
            },
            fault_error_rate: "1".parse().unwrap(),
            retention: Duration::from_secs(3600),
            ..settings
        });
    }

    #[test]
    fn a_fault_rate_outside_zero_to_one_is_refused_naming_the_variable() {
        for bad in ["1.5", "-0.1", "NaN", "inf", "often", ""] {
            let error =
                DispatchSettings::load(&env(&[("ESHOP_FAULT_ERROR_RATE", bad)])).expect_err(bad);
            assert!(
                matches!(&error, SettingsError::Invalid { name: "ESHOP_FAULT_ERROR_RATE", value, .. } if value == bad),
                "{bad}: {error}"
            );
        }
        for good in ["0", "0.0", "0.5", "1", "1.0"] {
            assert!(
                DispatchSettings::load(&env(&[("ESHOP_FAULT_ERROR_RATE", good)])).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn bad_delays_are_refused_naming_the_variable() {
        for name in [
            "ESHOP_DISPATCH_DELAY",
            "ESHOP_DELIVERY_DELAY",
            "ESHOP_REDELIVER_AFTER",
        ] {
            let error = DispatchSettings::load(&env(&[(name, "soon")])).unwrap_err();
            assert!(
                matches!(&error, SettingsError::Invalid { name: named, value, .. } if *named == name && value == "soon"),
                "{error}"
            );
        }
    }
}
