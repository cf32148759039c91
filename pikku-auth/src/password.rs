//! Password hashes: Argon2id in PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), with the
//! `argon2` crate's default parameters, which are OWASP's first recommendation (19 MiB of memory, 2
//! passes, 1 lane; OWASP Password Storage Cheat Sheet, "Argon2id"). Each hash gets a fresh 16-byte salt from
//! the operating system's generator.
//!
//! ```
//! # tokio_test_block(async {
//! use pikku_auth::password::{hash_password, verify_password};
//!
//! let stored = hash_password("correct horse").await.unwrap();
//! assert!(stored.starts_with("$argon2id$"));
//! assert!(verify_password(Some(&stored), "correct horse").await.unwrap());
//! assert!(!verify_password(Some(&stored), "battery staple").await.unwrap());
//! // An unknown account: as slow as a wrong password, and never a match.
//! assert!(!verify_password(None, "correct horse").await.unwrap());
//! # });
//! # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```
//!
//! * Hashing takes tens of milliseconds of CPU on purpose, so it runs on Tokio's blocking pool and never
//!   stalls the threads serving requests. At most one hash per core runs at a time (the others wait for a
//!   turn): each one holds 19 MiB, so a flood of logins costs bounded memory.
//! * An unknown account is checked against a fixed dummy hash with the same parameters, so the time a
//!   login takes does not tell whether the account exists. Stored hashes with other parameters (from an
//!   older configuration) still verify, at their own cost.
//! * A stored hash that is not a valid PHC string is the server's fault, not the client's: it is an
//!   [`PasswordError::MalformedHash`] (a 500, logged without the hash), never a `false` that would blame the
//!   user's password.
//! * Neither passwords nor hashes are logged or put in errors.

use std::sync::{LazyLock, Mutex};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use pikku_runtime::PikkuError;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

/// The hash an unknown account is checked against: `hash_password` of a random password nobody knows,
/// generated once. Its parameters are the defaults (a test pins that), so checking it costs what checking a
/// real hash costs.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$AaBAC6g35VhO4yN7FvYP5A$LuYSaaPzcuOpvfZicRUcGYYJxNk39u5UXw83UX32c10";

/// Argon2's working memory (19 MiB with the default parameters), kept between hashes: at most one buffer per
/// hashing turn ever exists. Allocated afresh for each hash on whichever blocking thread ran it, the buffers
/// stayed behind in the threads' malloc arenas: a login-heavy soak measured 350 MiB of RSS at once.
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// One hash at a time per core.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    Semaphore::new(cores)
});

/// A password could not be hashed or checked. Never carries the password or the hash.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The stored hash is not an Argon2 PHC string (a corrupt or foreign record).
    #[error("the stored password hash is not a valid Argon2 PHC string ({0})")]
    MalformedHash(String),
    /// Hashing failed (the parameters or the random generator).
    #[error("password hashing failed ({0})")]
    Hashing(String),
    /// The blocking task did not finish (it panicked, or the runtime is shutting down).
    #[error("the password hashing task did not finish")]
    TaskFailed,
}

impl From<PasswordError> for PikkuError {
    /// A 500: the detail is logged, the client gets the generic message.
    fn from(error: PasswordError) -> Self {
        PikkuError::internal(error.to_string())
    }
}

/// Hashes `password` with Argon2id and a fresh salt, as a PHC string to store.
///
/// # Errors
/// [`PasswordError::Hashing`] if the salt cannot be drawn or hashing fails; [`PasswordError::TaskFailed`]
/// if the blocking task does not finish.
///
/// # Panics
/// Outside a Tokio runtime.
pub async fn hash_password(password: &str) -> Result<String, PasswordError> {
    let password = password.to_owned();
    run_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let params = Params::default();
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| PasswordError::Hashing(e.to_string()))?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        hash_into(&argon2, password.as_bytes(), salt_bytes, &mut out)
            .map_err(|e| PasswordError::Hashing(e.to_string()))?;
        let output = Output::new(&out).map_err(|e| PasswordError::Hashing(e.to_string()))?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: params
                .try_into()
                .map_err(|e: argon2::password_hash::Error| PasswordError::Hashing(e.to_string()))?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(hash.to_string())
    })
    .await?
}

/// Whether `candidate` is the password of the `stored` PHC hash. `None` (no such account) checks against a
/// dummy hash, taking the same time, and is always `false`.
///
/// # Errors
/// [`PasswordError::MalformedHash`] if `stored` is not an Argon2 PHC string; [`PasswordError::TaskFailed`]
/// if the blocking task does not finish.
///
/// # Panics
/// Outside a Tokio runtime.
pub async fn verify_password(stored: Option<&str>, candidate: &str) -> Result<bool, PasswordError> {
    let known = stored.is_some();
    let stored = stored.unwrap_or(DUMMY_HASH).to_owned();
    let candidate = candidate.to_owned();
    run_blocking(move || {
        let hash = PasswordHash::new(&stored).map_err(|e| PasswordError::MalformedHash(e.to_string()))?;
        // Without these the verifier answers "wrong password", which would blame the user for our record.
        if hash.salt.is_none() || hash.hash.is_none() {
            return Err(PasswordError::MalformedHash("no salt or no hash".into()));
        }
        // The string parsed but may not be a usable Argon2 hash (another algorithm, parameters out of range).
        let unusable = |e: &dyn std::fmt::Display| PasswordError::MalformedHash(e.to_string());
        let algorithm = Algorithm::try_from(hash.algorithm).map_err(|e| unusable(&e))?;
        let version = hash.version.map_or(Ok(Version::V0x13), Version::try_from).map_err(|e| unusable(&e))?;
        let params = Params::try_from(&hash).map_err(|e| unusable(&e))?;
        let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else { unreachable!("checked above") };
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| unusable(&e))?;
        let mut out = vec![0u8; expected.len()];
        hash_into(&Argon2::new(algorithm, version, params), candidate.as_bytes(), salt_bytes, &mut out)
            .map_err(|e| unusable(&e))?;
        Ok(known && bool::from(out.as_slice().ct_eq(expected.as_bytes())))
    })
    .await?
}

/// Argon2 into `out`, in a working memory taken from [`MEMORY`] and given back afterwards.
fn hash_into(argon2: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), argon2::Error> {
    let mut memory = MEMORY.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop().unwrap_or_default();
    let blocks = argon2.params().block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let result = argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks]);
    MEMORY.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(memory);
    result
}

/// Runs `work` on the blocking pool once a hashing turn is free. The turn is held by the task itself, so a
/// caller that stops waiting does not free it before the work is done.
async fn run_blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, PasswordError> {
    let turn = HASHING.acquire().await.map_err(|_| PasswordError::TaskFailed)?;
    tokio::task::spawn_blocking(move || {
        let result = work();
        drop(turn);
        result
    })
    .await
    .map_err(|_| PasswordError::TaskFailed)
}

#[cfg(test)]
mod tests {
    use argon2::{Algorithm, Params, Version};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hash_verifies_its_password_and_no_other() {
        let stored = hash_password("correct horse").await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify_password(Some(&stored), "correct horse").await.unwrap());
        assert!(!verify_password(Some(&stored), "correct horse ").await.unwrap());
        assert!(!verify_password(Some(&stored), "").await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashes_are_standard_phc_strings_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        // Ours verify with the argon2 crate's own verifier, and its hashes verify with ours.
        let ours = hash_password("correct horse").await.unwrap();
        Argon2::default().verify_password(b"correct horse", &PasswordHash::new(&ours).unwrap()).unwrap();
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let theirs = Argon2::default().hash_password(b"battery staple", &salt).unwrap().to_string();
        assert!(verify_password(Some(&theirs), "battery staple").await.unwrap());
        assert!(!verify_password(Some(&theirs), "battery stapler").await.unwrap());
        // The working memory is reused, not allocated per hash: at most one buffer per hashing turn.
        let turns = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        assert!(MEMORY.lock().unwrap().len() <= turns);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_hashes_of_one_password_differ_by_their_salt() {
        let (a, b) = (hash_password("same").await.unwrap(), hash_password("same").await.unwrap());
        assert_ne!(a, b);
        assert!(verify_password(Some(&a), "same").await.unwrap() && verify_password(Some(&b), "same").await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unknown_account_never_matches_even_the_dummys_own_password() {
        assert!(!verify_password(None, "").await.unwrap());
        assert!(!verify_password(None, "correct horse").await.unwrap());
    }

    #[test]
    fn the_dummy_hash_has_the_parameters_of_new_hashes() {
        let hash = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(Algorithm::try_from(hash.algorithm).unwrap(), Algorithm::Argon2id);
        assert_eq!(hash.version, Some(Version::V0x13.into()));
        let params = Params::try_from(&hash).unwrap();
        let defaults = Params::default();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost(), params.output_len()),
            (defaults.m_cost(), defaults.t_cost(), defaults.p_cost(), Some(32))
        );
        assert_eq!((defaults.m_cost(), defaults.t_cost(), defaults.p_cost()), (19 * 1024, 2, 1), "OWASP's figures");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_malformed_stored_hash_is_a_server_error_that_does_not_show_the_hash() {
        for stored in
            ["plain-text-password", "$argon2id$v=19$m=19456,t=2,p=1$bm90LWEtc2FsdA", "$pbkdf2$i=1$c2FsdA$aGFzaA"]
        {
            let error = verify_password(Some(stored), "anything").await.unwrap_err();
            assert!(matches!(error, PasswordError::MalformedHash(_)), "{stored}: {error:?}");
            assert!(!error.to_string().contains(stored), "{error}");
            let pikku = PikkuError::from(error);
            assert_eq!(pikku.status(), 500);
        }
    }
}
