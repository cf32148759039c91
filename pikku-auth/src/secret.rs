//! Secrets compared in constant time, through fixed-length digests.

use sha2::{Digest, Sha256};

/// SHA-256 of a secret. Secrets are compared through their digests so the comparison is constant-time
/// *and* of a fixed length: comparing the raw bytes would leak the secret's length through timing.
pub(crate) fn digest(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

/// Compares two secrets in constant time, whatever their lengths: both are hashed with SHA-256 and the
/// digests compared with `subtle`, so the time taken tells nothing about where they differ or how long the
/// expected one is.
///
/// Stored passwords should still be hashed with a password hash (argon2, scrypt), not compared as text.
///
/// ```
/// assert!(pikku_auth::constant_time_eq(b"test-key-1", b"test-key-1"));
/// assert!(!pikku_auth::constant_time_eq(b"test-key-1", b"test-key-2"));
/// assert!(!pikku_auth::constant_time_eq(b"short", b"a much longer secret"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(digest(a).ct_eq(&digest(b)))
}
