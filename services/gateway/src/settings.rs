//! The gateway's settings: the shared server settings, the key that
//! verifies users' tokens, where every service it calls is, the rate limit
//! per client, and how its cookies are flagged.

use std::num::NonZeroU32;

use eshop_platform::settings::{
    CART_URL, CATALOG_URL, Env, HumanDuration, JWT_PUBLIC_KEY, ORDERS_URL, PAYMENTS_URL,
    RATINGS_URL, Rendered, SHIPPING_URL, ServerSettings, ServiceSettings, ServiceUrl, Settings,
    SettingsError, USERS_URL, Var, WALLET_URL, merge_rendered, merge_vars,
};

pub static RATE_LIMIT_PER_SECOND: Var = Var {
    name: "ESHOP_RATE_LIMIT_PER_SECOND",
    help: "requests per second one client address may make, on average (beyond: 429 with Retry-After)",
    default: Some("20"),
    secret: false,
};
pub static RATE_LIMIT_BURST: Var = Var {
    name: "ESHOP_RATE_LIMIT_BURST",
    help: "requests one client address may make at once before the per-second rate applies",
    default: Some("100"),
    secret: false,
};
pub static COOKIE_SECURE: Var = Var {
    name: "ESHOP_COOKIE_SECURE",
    help: "`true` marks the session cookies Secure (sent over HTTPS only): set it when the shop is served over HTTPS",
    default: Some("false"),
    secret: false,
};
pub static CHECKOUT_TIMEOUT: Var = Var {
    name: "ESHOP_CHECKOUT_TIMEOUT",
    help: "how long the gateway waits for a checkout; beyond, the customer is sent to a page that follows it to its end (an API client gets 202 with its location)",
    default: Some("8s"),
    secret: false,
};
pub static TRUST_FORWARDED_FOR: Var = Var {
    name: "ESHOP_TRUST_FORWARDED_FOR",
    help: "`true` when a proxy in front of the gateway appends the client's address to x-forwarded-for: rate limits then count the address it saw",
    default: Some("false"),
    secret: false,
};

/// Where the services the gateway calls are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downstream {
    pub users: ServiceUrl,
    pub catalog: ServiceUrl,
    pub cart: ServiceUrl,
    pub ratings: ServiceUrl,
    pub wallet: ServiceUrl,
    pub shipping: ServiceUrl,
    pub orders: ServiceUrl,
    pub payments: ServiceUrl,
}

/// How many requests one client address may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

#[derive(Debug, Clone)]
pub struct GatewaySettings {
    pub server: ServerSettings,
    pub jwt_public_key: String,
    pub downstream: Downstream,
    pub rate_limit: RateLimit,
    /// Marks the cookies `Secure`.
    pub cookie_secure: bool,
    /// Counts the client address a proxy in front reports.
    pub trust_forwarded_for: bool,
    /// How long a checkout may take before the customer is sent to follow it.
    pub checkout_timeout: std::time::Duration,
}

impl Settings for GatewaySettings {
    fn vars() -> Vec<&'static Var> {
        merge_vars([
            ServerSettings::vars(),
            vec![
                &JWT_PUBLIC_KEY,
                &USERS_URL,
                &CATALOG_URL,
                &CART_URL,
                &RATINGS_URL,
                &WALLET_URL,
                &SHIPPING_URL,
                &ORDERS_URL,
                &PAYMENTS_URL,
                &RATE_LIMIT_PER_SECOND,
                &RATE_LIMIT_BURST,
                &COOKIE_SECURE,
                &TRUST_FORWARDED_FOR,
                &CHECKOUT_TIMEOUT,
            ],
        ])
    }

    fn load(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            server: ServerSettings::load(env)?,
            jwt_public_key: env.get(&JWT_PUBLIC_KEY)?,
            downstream: Downstream {
                users: env.get(&USERS_URL)?,
                catalog: env.get(&CATALOG_URL)?,
                cart: env.get(&CART_URL)?,
                ratings: env.get(&RATINGS_URL)?,
                wallet: env.get(&WALLET_URL)?,
                shipping: env.get(&SHIPPING_URL)?,
                orders: env.get(&ORDERS_URL)?,
                payments: env.get(&PAYMENTS_URL)?,
            },
            rate_limit: RateLimit {
                per_second: env.get(&RATE_LIMIT_PER_SECOND)?,
                burst: env.get(&RATE_LIMIT_BURST)?,
            },
            cookie_secure: env.get(&COOKIE_SECURE)?,
            trust_forwarded_for: env.get(&TRUST_FORWARDED_FOR)?,
            checkout_timeout: env.get::<HumanDuration>(&CHECKOUT_TIMEOUT)?.0,
        })
    }

    fn render(&self) -> Rendered {
        let downstream = &self.downstream;
        merge_rendered([
            self.server.render(),
            vec![
                (&JWT_PUBLIC_KEY, self.jwt_public_key.clone()),
                (&USERS_URL, downstream.users.to_string()),
                (&CATALOG_URL, downstream.catalog.to_string()),
                (&CART_URL, downstream.cart.to_string()),
                (&RATINGS_URL, downstream.ratings.to_string()),
                (&WALLET_URL, downstream.wallet.to_string()),
                (&SHIPPING_URL, downstream.shipping.to_string()),
                (&ORDERS_URL, downstream.orders.to_string()),
                (&PAYMENTS_URL, downstream.payments.to_string()),
                (
                    &RATE_LIMIT_PER_SECOND,
                    self.rate_limit.per_second.to_string(),
                ),
                (&RATE_LIMIT_BURST, self.rate_limit.burst.to_string()),
                (&COOKIE_SECURE, self.cookie_secure.to_string()),
                (&TRUST_FORWARDED_FOR, self.trust_forwarded_for.to_string()),
                (
                    &CHECKOUT_TIMEOUT,
                    HumanDuration(self.checkout_timeout).to_string(),
                ),
            ],
        ])
    }
}

impl ServiceSettings for GatewaySettings {
    fn server(&self) -> &ServerSettings {
        &self.server
    }
}

#[cfg(test)]
mod tests {
    use eshop_platform::settings::{assert_round_trip, env_help};

    use super::*;

    fn env(extra: &[(&str, &str)]) -> Env {
        let mut pairs = vec![
            ("ESHOP_INTERNAL_TOKEN", "t"),
            ("ESHOP_JWT_PUBLIC_KEY", "key"),
        ];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn settings_round_trip_with_defaults_and_overrides() {
        let settings = GatewaySettings::load(&env(&[])).unwrap();
        assert_eq!(settings.downstream.ratings.as_str(), "http://ratings:8080");
        assert_eq!(settings.rate_limit.per_second.get(), 20);
        assert!(!settings.cookie_secure);
        assert_round_trip(&settings);
        let custom = GatewaySettings::load(&env(&[
            ("ESHOP_CATALOG_URL", "http://127.0.0.1:9000/"),
            ("ESHOP_RATE_LIMIT_PER_SECOND", "5"),
            ("ESHOP_RATE_LIMIT_BURST", "7"),
            ("ESHOP_COOKIE_SECURE", "true"),
            ("ESHOP_TRUST_FORWARDED_FOR", "true"),
        ]))
        .unwrap();
        assert_eq!(custom.downstream.catalog.as_str(), "http://127.0.0.1:9000");
        assert_eq!(custom.rate_limit.burst.get(), 7);
        assert!(custom.cookie_secure && custom.trust_forwarded_for);
        assert_round_trip(&custom);
    }

    #[test]
    fn bad_values_are_named() {
        for (name, value) in [
            ("ESHOP_RATE_LIMIT_PER_SECOND", "0"),
            ("ESHOP_RATE_LIMIT_BURST", "many"),
            ("ESHOP_COOKIE_SECURE", "yes please"),
            ("ESHOP_PAYMENTS_URL", "payments:8080"),
        ] {
            let error = GatewaySettings::load(&env(&[(name, value)])).unwrap_err();
            assert!(error.to_string().starts_with(name), "{error}");
        }
        let missing =
            GatewaySettings::load(&Env::from_pairs([("ESHOP_INTERNAL_TOKEN", "t")])).unwrap_err();
        assert!(missing.to_string().starts_with("ESHOP_JWT_PUBLIC_KEY"));
    }

    #[test]
    fn every_variable_is_documented() {
        let help = env_help::<GatewaySettings>();
        for var in GatewaySettings::vars() {
            assert!(help.contains(var.name), "{} is not in the help", var.name);
        }
    }
}
