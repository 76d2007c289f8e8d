//! Login rate limiting: how many failed password checks may be made in a
//! sliding window, and which address a request comes from.
//!
//! Failures are counted three ways: against the account from one client
//! address (tight: a guesser is stopped after a few), against the account
//! from anywhere (looser: many guessers together are stopped too), and
//! against the client address (one guesser spraying many accounts). So a
//! stranger's wrong guesses never lock the owner out from another address.
//!
//! Failures are kept in the service's own database, so the limits hold
//! across replicas. An attempt is recorded as a failure *before* the
//! password is checked and the record is taken back when the password is
//! right; a burst of concurrent guesses is therefore limited like a series
//! of them. Refused (rate-limited) attempts are not recorded, so hammering
//! does not extend the wait of the account's owner.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use axum::http::HeaderMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// Failed password checks allowed per account from one client address
/// within the window.
pub const FAILURES_PER_ACCOUNT_AND_ADDRESS: u32 = 5;
/// Failed password checks allowed per account from all addresses within
/// the window.
pub const FAILURES_PER_ACCOUNT: u32 = 50;
/// Failed password checks allowed per client address within the window.
pub const FAILURES_PER_ADDRESS: u32 = 20;

/// At most this many attempts are checked against the database at once.
/// Checks of one account or address wait for each other in the database,
/// holding a connection as they wait; queueing here instead means a flood
/// of logins cannot take every connection from the rest of the service.
pub const CONCURRENT_CHECKS: usize = 4;

/// How many failures are allowed within how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub window: Duration,
    pub per_account_and_address: u32,
    pub per_account: u32,
    pub per_address: u32,
}

impl LoginLimits {
    pub fn with_window(window: Duration) -> Self {
        Self {
            window,
            per_account_and_address: FAILURES_PER_ACCOUNT_AND_ADDRESS,
            per_account: FAILURES_PER_ACCOUNT,
            per_address: FAILURES_PER_ADDRESS,
        }
    }
}

/// Who an attempt is counted against: the account (its normalised email,
/// whether or not an account has it), the client address, and the two
/// together.
#[derive(Debug, Clone)]
pub struct AttemptKeys {
    pub account: String,
    pub address: String,
}

impl AttemptKeys {
    /// The key of the account from this address.
    pub fn account_and_address(&self) -> String {
        format!("{} from {}", self.account, self.address)
    }

    /// Each count an attempt is made against: its scope, its key and how
    /// many failures it allows. Checked, and locked, in this order.
    pub fn counts(&self, limits: &LoginLimits) -> [(&'static str, String, u32); 3] {
        [
            (ACCOUNT_SCOPE, self.account.clone(), limits.per_account),
            (
                ACCOUNT_AND_ADDRESS_SCOPE,
                self.account_and_address(),
                limits.per_account_and_address,
            ),
            (ADDRESS_SCOPE, self.address.clone(), limits.per_address),
        ]
    }
}

/// The scopes failures are counted in.
pub const ACCOUNT_SCOPE: &str = "account";
pub const ACCOUNT_AND_ADDRESS_SCOPE: &str = "account_address";
pub const ADDRESS_SCOPE: &str = "address";

/// Whether a password may be checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Go ahead; the attempt is recorded as a failure under this id until
    /// it is cleared as a success.
    Allowed(Uuid),
    /// Too many failures; the oldest that counts leaves the window at
    /// `retry_at`.
    Limited { retry_at: OffsetDateTime },
}

/// The address a request comes from. Behind the gateway, which proves it is
/// the gateway with the internal credential, that is the first hop of
/// `x-forwarded-for`; otherwise it is the socket's peer, whatever
/// `x-forwarded-for` claims.
pub fn client_address(headers: &HeaderMap, peer: SocketAddr, from_gateway: bool) -> IpAddr {
    let forwarded = headers
        .get("x-forwarded-for")
        .filter(|_| from_gateway)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .map(str::trim)
        .and_then(|hop| {
            hop.parse::<IpAddr>()
                .ok()
                .or_else(|| hop.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        });
    forwarded.unwrap_or_else(|| peer.ip()).to_canonical()
}

/// The key an address's failures are counted under. An IPv6 client
/// usually holds a whole /64, so its failures count for the /64.
pub fn address_key(address: IpAddr) -> String {
    match address.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !u128::from(u64::MAX);
            format!("{}/64", std::net::Ipv6Addr::from(prefix))
        }
    }
}

/// How long until `retry_at`, in whole seconds rounded up, at least one.
pub fn retry_after(retry_at: OffsetDateTime, now: OffsetDateTime) -> Duration {
    let wait = (retry_at - now).max(time::Duration::ZERO);
    let seconds = wait.whole_seconds() + i64::from(wait.subsec_nanoseconds() > 0);
    Duration::from_secs(u64::try_from(seconds.max(1)).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(forwarded).unwrap());
        headers
    }

    #[test]
    fn forwarded_for_counts_only_from_the_gateway() {
        let peer: SocketAddr = "10.0.0.5:40000".parse().unwrap();
        let forwarded = headers("203.0.113.7, 10.0.0.1");
        assert_eq!(
            client_address(&forwarded, peer, true),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_address(&forwarded, peer, false),
            "10.0.0.5".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_address(&headers("198.51.100.2:5555"), peer, true),
            "198.51.100.2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_address(&headers("garbage"), peer, true),
            peer.ip(),
            "an unreadable hop falls back to the peer"
        );
        assert_eq!(client_address(&HeaderMap::new(), peer, true), peer.ip());
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            address_key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1"
        );
        assert_eq!(address_key("192.0.2.1".parse().unwrap()), "192.0.2.1");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let wait = |millis| retry_after(now + time::Duration::milliseconds(millis), now);
        assert_eq!(wait(1500), Duration::from_secs(2));
        assert_eq!(wait(2000), Duration::from_secs(2));
        assert_eq!(wait(0), Duration::from_secs(1));
        assert_eq!(wait(-500), Duration::from_secs(1));
    }
}
