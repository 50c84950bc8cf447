//! Password hashing with argon2id (PHC strings), the bounded [`Verifier`] every password check
//! goes through, and generation of strong one-time passwords.

use std::time::Duration;

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version,
    password_hash::{SaltString, rand_core::OsRng},
};
use rand::Rng;
use subtle::ConstantTimeEq;

/// Shortest password an admin may choose.
pub const MIN_LENGTH: usize = 12;

/// Why a password was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// Too short.
    #[error("the password must have at least {MIN_LENGTH} characters")]
    TooShort,
    /// The hash could not be computed.
    #[error("cannot hash the password")]
    Hash,
}

/// Hashes `password` with argon2id and a random salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::Hash)
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify(password: &str, hash: &str) -> bool {
    verify_in(password, hash, &mut Vec::new())
}

/// [`verify`] computing in `memory`, which is grown to the hash's memory cost and kept, so
/// repeated checks reuse one allocation instead of leaving 19 MiB behind in each thread's arena.
fn verify_in(password: &str, hash: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(expected), Some(salt)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.hash,
        parsed.salt,
    ) else {
        return false;
    };
    let version = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from);
    let mut salt_bytes = [0u8; 64];
    let (Ok(version), Ok(salt)) = (version, salt.decode_b64(&mut salt_bytes)) else {
        return false;
    };
    memory.resize(params.block_count(), Block::default());
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..])
        .is_ok()
        && bool::from(out.ct_eq(expected.as_bytes()))
}

/// How long a password check waits for a free slot before the attempt is refused as busy.
pub const QUEUE_WAIT: Duration = Duration::from_secs(2);

/// Every slot for a password check was taken for [`QUEUE_WAIT`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("too many sign-ins are being checked right now; try again in a moment")]
pub struct Busy;

/// Checks passwords on the blocking pool, at most a fixed number at a time: each argon2 check
/// takes 19 MiB, so unbounded checks let anonymous sign-in attempts exhaust memory. Unknown
/// accounts are checked against a dummy hash, so the answer takes as long as for a real one.
pub struct Verifier {
    slots: tokio::sync::Semaphore,
    /// Work memory of finished checks, at most one per slot, reused by the next ones.
    memory: std::sync::Mutex<Vec<Vec<Block>>>,
    dummy_hash: String,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("free_slots", &self.slots.available_permits())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier running at most `max_concurrent` checks (0: one per CPU core).
    pub fn new(max_concurrent: usize) -> Self {
        let slots = if max_concurrent == 0 {
            std::thread::available_parallelism().map_or(2, usize::from)
        } else {
            max_concurrent
        };
        Self {
            slots: tokio::sync::Semaphore::new(slots),
            memory: std::sync::Mutex::new(Vec::new()),
            // Same parameters as real hashes; the password is random and never matches.
            dummy_hash: hash(&generate()).unwrap_or_default(),
        }
    }

    /// Whether `password` matches `hash`; with `None` (no such account, or no password) a dummy
    /// hash is checked and the answer is `false`. [`Busy`] when no slot frees up in time.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, Busy> {
        let _slot = tokio::time::timeout(QUEUE_WAIT, self.slots.acquire())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        let real = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.to_owned();
        let mut memory = self
            .memory
            .lock()
            .map(|mut pool| pool.pop())
            .ok()
            .flatten()
            .unwrap_or_default();
        let (matches, memory) = tokio::task::spawn_blocking(move || {
            let matches = verify_in(&password, &hash, &mut memory);
            (matches, memory)
        })
        .await
        .unwrap_or_default();
        if let Ok(mut pool) = self.memory.lock() {
            pool.push(memory);
        }
        Ok(real && matches)
    }
}

/// A random password of 20 characters from an alphabet without look-alikes.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterY", &h));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert_eq!(hash("short"), Err(PasswordError::TooShort));
    }

    #[test]
    fn checks_reuse_their_work_memory() {
        let h = hash("correct horse battery").unwrap();
        let mut memory = Vec::new();
        assert!(verify_in("correct horse battery", &h, &mut memory));
        let (len, at) = (memory.len(), memory.as_ptr());
        assert_eq!(
            len,
            Params::DEFAULT_M_COST as usize,
            "one block per KiB of memory cost"
        );
        assert!(!verify_in("wrong horse battery", &h, &mut memory));
        assert_eq!(memory.as_ptr(), at, "the same allocation");
    }

    #[tokio::test]
    async fn the_verifier_checks_real_hashes_and_never_accepts_a_missing_one() {
        let verifier = Verifier::new(1);
        let h = hash("correct horse battery").unwrap();
        assert_eq!(
            verifier.verify("correct horse battery", Some(&h)).await,
            Ok(true)
        );
        assert_eq!(
            verifier.verify("wrong horse battery", Some(&h)).await,
            Ok(false)
        );
        assert_eq!(verifier.verify("", None).await, Ok(false));
    }

    #[tokio::test]
    async fn a_check_waiting_longer_than_the_queue_wait_is_busy() {
        let verifier = Verifier::new(1);
        let _taken = verifier.slots.acquire().await.unwrap();
        assert_eq!(verifier.verify("x", None).await, Err(Busy));
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(hash(&a).is_ok());
    }
}
