//! Header checks: which key verifies a token, and the header parameters a token may not carry.
//!
//! * `kid` chooses the key among the configured ones; an unknown `kid` is refused, and a token without one
//!   (as Pikku's TypeScript service mints) is checked against the signing key only.
//! * `alg` must equal the algorithm of that key: it never chooses one (RFC 8725 §3.1).
//! * `crit` is refused: no header extension is understood here (RFC 7515 §4.1.11).
//! * `typ` is not checked (RFC 8725 §3.11 recommends explicit typing, but it cannot be required): minted
//!   tokens carry `typ: "JWT"`, and tokens from Pikku's TypeScript service must verify whatever theirs says.
//!   Telling a session token from another JWT (RFC 8725 §3.12) rests on the keys instead: a key of this
//!   service should sign nothing but session tokens; `iss` / `aud`, once configured, narrow it further.
//! * `jku`, `x5u`, `jwk` and `x5c` are never followed or used: keys come from configuration only
//!   (RFC 8725 §3.10).

use std::borrow::Cow;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::Header;
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::builder::KeyEntry;
use super::{Algorithm, JwtError};

/// Longest JOSE header (decoded) read without a heap allocation; longer ones (certificate chains in `x5c`)
/// take the allocating path.
const HEADER_PEEK_BUFFER: usize = 512;

/// The header fields that choose the key, read before verification without allocating.
#[derive(Deserialize)]
struct HeaderPeek<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    /// A newtype, not `Option<Cow<str>>`: serde borrows a `Cow` only when it is a field's whole type.
    #[serde(borrow, default)]
    kid: Option<Kid<'a>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// A `kid`, borrowed from the header when it has no escapes (copied otherwise).
#[derive(Deserialize)]
struct Kid<'a>(#[serde(borrow)] Cow<'a, str>);

/// Reads the header of an unverified token (into a stack buffer: no allocation for ordinary headers) and
/// picks the key that must verify it.
///
/// # Errors
/// [`JwtError::Malformed`] for a header that is not base64url JSON or carries `crit`,
/// [`JwtError::UnknownKey`] for a `kid` that names no configured key, [`JwtError::AlgorithmNotAllowed`] for
/// an `alg` other than that key's.
pub(super) fn select_key<'k>(keys: &'k [KeyEntry], token: &str) -> Result<&'k KeyEntry, JwtError> {
    let encoded = token.split('.').next().unwrap_or_default();
    let mut buffer = [0u8; HEADER_PEEK_BUFFER];
    let on_heap;
    let decoded: &[u8] = match URL_SAFE_NO_PAD.decode_slice(encoded, &mut buffer) {
        Ok(len) => &buffer[..len],
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            on_heap = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| JwtError::Malformed)?;
            &on_heap
        }
        Err(_) => return Err(JwtError::Malformed),
    };
    let header: HeaderPeek<'_> = serde_json::from_slice(decoded).map_err(|_| JwtError::Malformed)?;
    // RFC 7515 §4.1.11: we understand no header extension, so any `crit` must be refused.
    if header.crit.is_some() {
        return Err(JwtError::Malformed);
    }
    // RFC 8725 §3.10: the `kid` is untrusted input; it is only compared with the configured ids.
    let key = match header.kid.as_ref().map(|kid| &*kid.0) {
        Some(kid) => keys.iter().find(|k| k.kid == kid).ok_or(JwtError::UnknownKey)?,
        None => &keys[0],
    };
    // RFC 8725 §3.1: the algorithm is pinned by the key, never chosen by the token's `alg`. A token whose
    // `alg` is `none`, or HS256 over an RSA public key, or HS512 with our HS256 secret, stops here.
    if header.alg.parse::<Algorithm>().ok() != Some(key.algorithm) {
        return Err(JwtError::AlgorithmNotAllowed);
    }
    Ok(key)
}

/// The same checks as [`select_key`], on the header `jsonwebtoken` returned after verifying a token with
/// `key` (the one-key path, which skips the peek). Its `alg` was pinned by `key.validation` already.
///
/// # Errors
/// [`JwtError::Malformed`] for a `crit` header, [`JwtError::UnknownKey`] for a `kid` other than `key`'s.
pub(super) fn check_verified(header: &Header, key: &KeyEntry) -> Result<(), JwtError> {
    // RFC 7515 §4.1.11, as in `select_key`.
    if header.crit.is_some() {
        return Err(JwtError::Malformed);
    }
    // A `kid` must name a configured key, even when there is only one.
    if header.kid.as_deref().is_some_and(|kid| kid != key.kid) {
        return Err(JwtError::UnknownKey);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
