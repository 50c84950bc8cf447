//! The one backoff rule of the server: exponential with "equal jitter" (half of the delay fixed,
//! half random), capped. The job runtime, the CRM transport, the event drains and the import's
//! page retries all wait by it, so retries of many callers spread out the same way.

use std::time::Duration;

use rand::Rng;

/// Delay before retry number `attempt` (0 for the first retry): `base · 2^attempt`, capped at
/// `max`, of which a random part up to a half is taken off.
pub fn delay(attempt: u32, base: Duration, max: Duration) -> Duration {
    let full = base
        .saturating_mul(2u32.saturating_pow(attempt.min(20)))
        .min(max);
    let half = full / 2;
    half + jitter(half)
}

/// A random duration from zero up to `max`, to spread waits that would otherwise line up.
pub fn jitter(max: Duration) -> Duration {
    let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=ms))
}

/// `delay` in whole milliseconds, for due times stored as Unix ms.
pub fn delay_ms(attempt: u32, base: Duration, max: Duration) -> i64 {
    i64::try_from(delay(attempt, base, max).as_millis()).unwrap_or(i64::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_per_attempt_and_never_passes_the_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for attempt in 0..30 {
            assert!(delay(attempt, base, cap) <= cap);
        }
        assert!(delay(0, base, cap) <= base);
        assert!(delay(0, base, cap) >= base / 2);
        assert!(delay(3, base, cap) >= base * 4);
    }

    #[test]
    fn jitter_stays_within_its_bound() {
        for _ in 0..100 {
            assert!(jitter(Duration::from_millis(10)) <= Duration::from_millis(10));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
