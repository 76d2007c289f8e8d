//! The payments settings: the shared server, SQL store and event bus
//! settings, the JWT key, where the other services are, and the saga's
//! timing and fault knobs.

use std::{str::FromStr, time::Duration};

use eshop_platform::settings::{
    CART_URL, CATALOG_URL, Env, HumanDuration, JWT_PUBLIC_KEY, KeyValueStore, ORDERS_URL,
    RETENTION, Rate, Rendered, SHIPPING_URL, ServerSettings, ServiceSettings, ServiceUrl, Settings,
    SettingsError, SqlStore, USERS_URL, Var, WALLET_URL, merge_rendered, merge_vars,
};

use crate::domain::Step;

pub static CHECKOUT_LEASE: Var = Var {
    name: "ESHOP_CHECKOUT_LEASE",
    help: "how long a driver holds a checkout; a checkout left by a crashed process is resumed after it",
    default: Some("15s"),
    secret: false,
};
pub static CHECKOUT_DEADLINE: Var = Var {
    name: "ESHOP_CHECKOUT_DEADLINE",
    help: "how long a checkout may wait for an unavailable service before it is undone",
    default: Some("2m"),
    secret: false,
};
pub static FAULT_ERROR_RATE: Var = Var {
    name: "ESHOP_FAULT_ERROR_RATE",
    help: "fault knob: share of checkouts (0 to 1) refused with 503 before they start (off: 0)",
    default: Some("0"),
    secret: false,
};
pub static FAULT_PAUSE_AT: Var = Var {
    name: "ESHOP_FAULT_PAUSE_AT",
    help: "fault knob for crash tests: a saga step after which checkouts stop, as if the process died (off: none)",
    default: Some("none"),
    secret: false,
};

/// Where the services the saga calls are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downstream {
    pub users: ServiceUrl,
    pub cart: ServiceUrl,
    pub catalog: ServiceUrl,
    pub shipping: ServiceUrl,
    pub wallet: ServiceUrl,
    pub orders: ServiceUrl,
}

/// A step name, or `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PauseAt(pub Option<Step>);

impl FromStr for PauseAt {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "none" {
            return Ok(Self(None));
        }
        Step::parse(text)
            .filter(|step| *step != Step::Done)
            .map(|step| Self(Some(step)))
            .ok_or_else(|| {
                let steps: Vec<_> = Step::ALL.iter().map(|step| step.as_str()).collect();
                format!("expected none or one of {}", steps.join(", "))
            })
    }
}

impl std::fmt::Display for PauseAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.map_or("none", Step::as_str))
    }
}

#[derive(Debug, Clone)]
pub struct PaymentsSettings {
    pub server: ServerSettings,
    pub store: SqlStore,
    /// The event bus, on the backend's key-value store.
    pub bus: KeyValueStore,
    /// How long acknowledged bus messages are kept.
    pub retention: Duration,
    pub jwt_public_key: String,
    pub downstream: Downstream,
    pub lease: Duration,
    pub deadline: Duration,
    pub fault_error_rate: Rate,
    pub fault_pause_at: Option<Step>,
}

impl Settings for PaymentsSettings {
    fn vars() -> Vec<&'static Var> {
        merge_vars([
            ServerSettings::vars(),
            SqlStore::vars(),
            KeyValueStore::vars(),
            vec![
                &JWT_PUBLIC_KEY,
                &USERS_URL,
                &CART_URL,
                &CATALOG_URL,
                &SHIPPING_URL,
                &WALLET_URL,
                &ORDERS_URL,
                &CHECKOUT_LEASE,
                &CHECKOUT_DEADLINE,
                &FAULT_ERROR_RATE,
                &FAULT_PAUSE_AT,
                &RETENTION,
            ],
        ])
    }

    fn load(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            server: ServerSettings::load(env)?,
            store: SqlStore::load(env)?,
            bus: KeyValueStore::load(env)?,
            retention: env.get::<HumanDuration>(&RETENTION)?.0,
            jwt_public_key: env.get(&JWT_PUBLIC_KEY)?,
            downstream: Downstream {
                users: env.get(&USERS_URL)?,
                cart: env.get(&CART_URL)?,
                catalog: env.get(&CATALOG_URL)?,
                shipping: env.get(&SHIPPING_URL)?,
                wallet: env.get(&WALLET_URL)?,
                orders: env.get(&ORDERS_URL)?,
            },
            lease: env.get::<HumanDuration>(&CHECKOUT_LEASE)?.0,
            deadline: env.get::<HumanDuration>(&CHECKOUT_DEADLINE)?.0,
            fault_error_rate: env.get(&FAULT_ERROR_RATE)?,
            fault_pause_at: env.get::<PauseAt>(&FAULT_PAUSE_AT)?.0,
        })
    }

    fn render(&self) -> Rendered {
        let downstream = &self.downstream;
        merge_rendered([
            self.server.render(),
            self.store.render(),
            self.bus.render(),
            vec![
                (&JWT_PUBLIC_KEY, self.jwt_public_key.clone()),
                (&USERS_URL, downstream.users.to_string()),
                (&CART_URL, downstream.cart.to_string()),
                (&CATALOG_URL, downstream.catalog.to_string()),
                (&SHIPPING_URL, downstream.shipping.to_string()),
                (&WALLET_URL, downstream.wallet.to_string()),
                (&ORDERS_URL, downstream.orders.to_string()),
                (&CHECKOUT_LEASE, HumanDuration(self.lease).to_string()),
                (&CHECKOUT_DEADLINE, HumanDuration(self.deadline).to_string()),
                (&RETENTION, HumanDuration(self.retention).to_string()),
                (&FAULT_ERROR_RATE, self.fault_error_rate.to_string()),
                (&FAULT_PAUSE_AT, PauseAt(self.fault_pause_at).to_string()),
            ],
        ])
    }
}

impl ServiceSettings for PaymentsSettings {
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
            ("ESHOP_INTERNAL_TOKEN", "t"),
            ("ESHOP_DATABASE_URL", "postgres://eshop@db/eshop"),
            ("ESHOP_REDIS_URL", "redis://redis:6379"),
            ("ESHOP_JWT_PUBLIC_KEY", "key"),
        ];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn settings_round_trip_with_defaults_and_knobs() {
        let settings = PaymentsSettings::load(&env(&[])).unwrap();
        assert_eq!(settings.downstream.wallet.as_str(), "http://wallet:8080");
        assert_eq!(settings.fault_pause_at, None);
        assert_round_trip(&settings);
        let knobs = PaymentsSettings::load(&env(&[
            ("ESHOP_FAULT_ERROR_RATE", "0.25"),
            ("ESHOP_FAULT_PAUSE_AT", "charge"),
        ]))
        .unwrap();
        assert_eq!(knobs.fault_error_rate.value(), 0.25);
        assert_eq!(knobs.fault_pause_at, Some(Step::Charge));
        assert_round_trip(&knobs);
    }

    #[test]
    fn bad_knobs_are_named() {
        for (name, value) in [
            ("ESHOP_FAULT_ERROR_RATE", "2"),
            ("ESHOP_FAULT_PAUSE_AT", "lunch"),
        ] {
            let error = PaymentsSettings::load(&env(&[(name, value)])).unwrap_err();
            assert!(error.to_string().starts_with(name), "{error}");
        }
    }

    #[test]
    fn shared_variables_are_listed_once() {
        let vars = PaymentsSettings::vars();
        let backends = vars
            .iter()
            .filter(|var| var.name == "ESHOP_BACKEND")
            .count();
        assert_eq!(backends, 1);
    }
}
