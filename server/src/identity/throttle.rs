//! Sign-in throttling. Every attempt is counted in the store *before* its password is checked,
//! by compare-and-set on one counter per key, so concurrent attempts — on one instance or many
//! sharing PostgreSQL — cannot all pass one free slot.
//!
//! The policy: per client IP address a hard limit (`admin.max_failed_logins` in 15 minutes);
//! per account a growing delay instead of a lock (after `max_failed_logins` failures each
//! further attempt waits 1 s, 2 s, 4 s … at most 15 minutes after the previous one), so an
//! attacker cannot lock the owner out and gets very few guesses; and a browser that signed in to
//! the account before (device cookie, see `session`) has a budget of its own that an attack on
//! the account does not touch. The client IP is the TCP peer, or — when the peer is one of
//! `server.trusted_proxies` — the rightmost untrusted address of `X-Forwarded-For`.

use std::net::IpAddr;

use axum::http::HeaderMap;

use crate::{
    service_errors::CredentialError,
    store::{Store, ThrottleCounter},
};

/// The window of the per-IP limit, and the longest per-account delay.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;
/// How long an account or device remembers failures without a new one.
pub const MEMORY_MS: i64 = 24 * 60 * 60 * 1000;
/// Compare-and-set rounds before a contended attempt is refused.
const CAS_ROUNDS: usize = 8;

/// How a counter limits attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// At most `max` attempts, then none until `WINDOW_MS` after the last one.
    Limit {
        /// Attempts allowed.
        max: i64,
    },
    /// `free` attempts, then each one waits a doubling delay after the previous one.
    Backoff {
        /// Attempts without delay.
        free: i64,
    },
}

/// A counter to claim: its key and rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Such as `ip:203.0.113.9` or `account:a@b.cz`.
    pub name: String,
    /// How it limits.
    pub rule: Rule,
}

/// The counter as it counts now: forgotten once old enough.
fn current(rule: Rule, counter: Option<ThrottleCounter>, now: i64) -> i64 {
    let memory = match rule {
        Rule::Limit { .. } => WINDOW_MS,
        Rule::Backoff { .. } => MEMORY_MS,
    };
    counter
        .filter(|c| now.saturating_sub(c.last_at) < memory)
        .map_or(0, |c| c.failures)
}

/// Milliseconds until the next attempt is allowed under `rule` (0: now).
pub fn wait_ms(rule: Rule, counter: Option<ThrottleCounter>, now: i64) -> i64 {
    let failures = current(rule, counter, now);
    let last_at = counter.map_or(now, |c| c.last_at);
    let delay = match rule {
        Rule::Limit { max } if failures >= max => WINDOW_MS,
        Rule::Backoff { free } if failures >= free => {
            let doublings = u32::try_from(failures - free).unwrap_or(u32::MAX).min(20);
            (1000_i64 << doublings).min(WINDOW_MS)
        }
        _ => 0,
    };
    (last_at + delay - now).max(0)
}

fn throttled(wait_ms: i64) -> CredentialError {
    CredentialError::Throttled {
        retry_after_secs: u64::try_from((wait_ms + 999) / 1000).unwrap_or(1),
    }
}

/// Counts one attempt under `key`, or refuses it (with the wait) without counting.
pub async fn claim(store: &dyn Store, key: &Key, now: i64) -> Result<(), CredentialError> {
    for _ in 0..CAS_ROUNDS {
        let seen = store.throttle_counter(&key.name).await?;
        let wait = wait_ms(key.rule, seen, now);
        if wait > 0 {
            return Err(throttled(wait));
        }
        let next = ThrottleCounter {
            failures: current(key.rule, seen, now) + 1,
            last_at: now,
        };
        if store.advance_throttle(&key.name, seen, next).await? {
            return Ok(());
        }
    }
    // Lost every round to concurrent attempts on the same key: an attack, not a person.
    Err(throttled(1000))
}

/// Claims every key in order; if one refuses, the keys claimed before are given back, so a
/// refused attempt counts nowhere.
pub async fn claim_all(store: &dyn Store, keys: &[Key], now: i64) -> Result<(), CredentialError> {
    for (i, key) in keys.iter().enumerate() {
        if let Err(err) = claim(store, key, now).await {
            release(store, &keys[..i]).await?;
            return Err(err);
        }
    }
    Ok(())
}

/// Gives back one counted attempt on each key (the password was never checked).
pub async fn release(store: &dyn Store, keys: &[Key]) -> Result<(), CredentialError> {
    for key in keys {
        store.release_throttle(&key.name).await?;
    }
    Ok(())
}

/// After a right password: backoff counters (account, device) start over; limit counters
/// (IP) only give back this attempt, so one valid account cannot reset an address's failures.
pub async fn succeeded(store: &dyn Store, keys: &[Key], now: i64) -> Result<(), CredentialError> {
    for key in keys {
        match key.rule {
            Rule::Backoff { .. } => store.clear_throttle(&key.name, now - MEMORY_MS).await?,
            Rule::Limit { .. } => store.release_throttle(&key.name).await?,
        }
    }
    Ok(())
}

/// The client's address: the TCP `peer`, or, when the peer is a trusted proxy, the rightmost
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[ipnet::IpNet],
) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let peer = peer?;
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // Garbage from further left cannot be trusted; the last good hop is the client.
            Err(_) => break,
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn at(failures: i64, last_at: i64) -> Option<ThrottleCounter> {
        Some(ThrottleCounter { failures, last_at })
    }

    #[test]
    fn the_ip_limit_blocks_for_the_window_after_the_last_failure() {
        let rule = Rule::Limit { max: 3 };
        assert_eq!(wait_ms(rule, None, 0), 0);
        assert_eq!(wait_ms(rule, at(2, 0), 10), 0);
        assert_eq!(wait_ms(rule, at(3, 0), 10), WINDOW_MS - 10);
        assert_eq!(
            wait_ms(rule, at(3, 0), WINDOW_MS),
            0,
            "forgotten after the window"
        );
    }

    #[test]
    fn the_account_delay_doubles_and_is_capped() {
        let rule = Rule::Backoff { free: 3 };
        assert_eq!(wait_ms(rule, at(2, 0), 0), 0);
        assert_eq!(wait_ms(rule, at(3, 0), 0), 1000);
        assert_eq!(wait_ms(rule, at(4, 0), 500), 1500);
        assert_eq!(wait_ms(rule, at(5, 0), 0), 4000);
        assert_eq!(wait_ms(rule, at(60, 0), 0), WINDOW_MS);
        assert_eq!(
            wait_ms(rule, at(60, 0), MEMORY_MS),
            0,
            "forgotten after a day"
        );
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.1, 203.0.113.7, 10.1.1.1"),
        );
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "192.0.2.5".parse().unwrap();
        assert_eq!(
            client_ip(Some(proxy), &headers, &trusted),
            Some("203.0.113.7".parse().unwrap()),
            "the rightmost untrusted hop; the client may forge what lies left of it"
        );
        assert_eq!(
            client_ip(Some(stranger), &headers, &trusted),
            Some(stranger)
        );
        assert_eq!(
            client_ip(Some(proxy), &HeaderMap::new(), &trusted),
            Some(proxy)
        );
    }
}
