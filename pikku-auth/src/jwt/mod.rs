//! The JWT service: mints and verifies session tokens.
//!
//! * Default HS256 with a key set: the first key signs (its id goes in the `kid` header), every key
//!   verifies, so keys rotate without logging anyone out. RS*/PS*, ES256/ES384 and EdDSA keys can be loaded
//!   from PEM ([`JwtServiceBuilder`]).
//! * The accepted algorithm is pinned per key: the key is chosen by `kid` and the token's `alg` header must
//!   equal that key's algorithm. A token without `kid` (as older Pikku TypeScript services mint) is checked
//!   against the signing key only.
//! * `exp` is required and must be a number; `nbf` and `iat` in the future (beyond the leeway) are refused;
//!   `iss` / `aud` are required and enforced once configured.
//! * Payload layout (same as Pikku's TypeScript jose service): the session's fields at the top level plus
//!   `iat`, `exp` and `jti` (integer seconds since the epoch). `jti` is `<session_id>.<token_nonce>`, both
//!   random base64url without padding.
//!
//! Session types must not use the field names `iat`, `exp`, `jti`, `nbf`, `iss`, `aud`, `sub` or `auth_time`: those are
//! owned by the token and never reach the session. A payload with nothing but those is not a session
//! ([`JwtError::NotASession`]).
//!
//! The rules follow RFC 8725 (JWT Best Current Practices); each is cited where the code enforces it:
//! the key set in `builder.rs`, the header in `header.rs`, the registered claims in `claims.rs`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::Header;
use rand::RngCore as _;
use serde::de::DeserializeOwned;
use serde::Serialize;

mod builder;
mod claims;
mod error;
mod header;

pub use builder::JwtServiceBuilder;
pub use error::{JwtConfigError, JwtError};
pub use jsonwebtoken::Algorithm;

use builder::KeyEntry;
use claims::{Claims, MintClaims};
use error::map_decode_error;

/// Default clock-skew leeway applied to `exp`, `nbf` and `iat`.
///
/// Small on purpose: it only needs to absorb clock drift between the machines that mint and verify tokens
/// (NTP keeps that well under a second), and every second of leeway is a second an expired token keeps
/// working.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);

/// Default lifetime of a minted token (1 hour).
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(60 * 60);

/// Minimum length of an HMAC secret, in bytes (the HS256 output size, per RFC 7518 §3.2).
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// Key id used by [`JwtService::hs256`].
const PRIMARY_KID: &str = "primary";
/// Random bytes in a session id (22 base64url characters).
const SESSION_ID_BYTES: usize = 16;
/// Random bytes in a per-token nonce (12 base64url characters).
const NONCE_BYTES: usize = 9;
/// Longest session id accepted by [`JwtService::encode_for_session`].
const MAX_SESSION_ID_LEN: usize = 128;

/// Whether `id` has the shape of a session id this service mints and continues: 1 to 128 base64url
/// characters. A `jti` of another shape (another issuer's, such as `urn:x`) names no session of ours.
pub(crate) fn is_session_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_SESSION_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

struct Inner {
    /// `keys[0]` signs; all verify.
    keys: Vec<KeyEntry>,
    /// Header for minted tokens (`alg` and `kid` of `keys[0]`).
    signing_header: Header,
    leeway_secs: i64,
    issuer: Option<String>,
    audience: Option<String>,
    default_expires_in: Duration,
    /// The session entry naming the user, for log-out-everywhere.
    user_claim: Option<String>,
}

/// Mints and verifies JWT session tokens. Cheap to clone (an `Arc` inside).
///
/// ```
/// use std::time::Duration;
/// use pikku_auth::jwt::{JwtError, JwtService};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// #[serde(rename_all = "camelCase")]
/// struct Session { user_id: String, role: String }
///
/// let secret = [7u8; 32]; // from configuration or the environment, never from source code
/// let jwt = JwtService::hs256(secret)?;
/// let session = Session { user_id: "u1".into(), role: "admin".into() };
///
/// let token = jwt.sign(&session)?; // one hour by default
/// let decoded = jwt.decode::<Session>(&token)?;
/// assert_eq!(decoded.session, session);
/// assert_eq!(decoded.expires_at - decoded.issued_at.unwrap(), 3600);
///
/// // Another service's token, or a tampered one, does not verify.
/// let other = JwtService::hs256([8u8; 32])?.encode(Duration::from_secs(60), &session)?;
/// assert!(matches!(jwt.decode::<Session>(&other), Err(JwtError::BadSignature)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JwtService {
    inner: Arc<Inner>,
}

impl fmt::Debug for JwtService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let keys: Vec<_> = inner.keys.iter().map(KeyEntry::redacted).collect();
        f.debug_struct("JwtService")
            .field("keys", &keys)
            .field("leeway_secs", &inner.leeway_secs)
            .field("issuer", &inner.issuer)
            .field("audience", &inner.audience)
            .field("default_expires_in", &inner.default_expires_in)
            .finish()
    }
}

/// A verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedToken<S> {
    /// The session (the payload's non-registered fields).
    pub session: S,
    /// `iat`, seconds since the epoch, if present.
    pub issued_at: Option<i64>,
    /// `exp`, seconds since the epoch.
    pub expires_at: i64,
    /// `jti`, if present as a string (tokens from Pikku's TypeScript service have none).
    pub jti: Option<String>,
    /// When the session began (the login): `auth_time`, or `iat` for the first token of a session.
    /// `None` for a token without either.
    pub auth_time: Option<i64>,
    /// The user the session belongs to: the string value of the session entry named by
    /// [`JwtServiceBuilder::user_claim`], when configured and present.
    pub user: Option<String>,
}

impl<S> DecodedToken<S> {
    /// The session id: the part of `jti` before the first `.`, or the whole `jti`; `None` without `jti`.
    pub fn session_id(&self) -> Option<&str> {
        self.jti.as_deref().map(|jti| jti.split_once('.').map_or(jti, |(sid, _)| sid))
    }
}

impl JwtService {
    /// HS256 with one key, kid `"primary"`.
    ///
    /// # Errors
    /// [`JwtConfigError::SecretTooShort`] for a secret shorter than [`MIN_HMAC_SECRET_LEN`] bytes.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, JwtConfigError> {
        Self::builder().hs256_key(PRIMARY_KID, secret).build()
    }

    /// HS256 with a random 32-byte secret (for a demo with no configured secret: tokens do not survive a
    /// restart).
    #[allow(clippy::missing_panics_doc)] // the `expect` states an invariant, it cannot fail
    pub fn hs256_random() -> Self {
        let mut secret = [0u8; MIN_HMAC_SECRET_LEN];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let service = Self::hs256(secret).expect("a 32-byte HMAC secret is always valid");
        secret.fill(0);
        service
    }

    /// A builder for key sets, asymmetric keys, leeway, issuer and audience.
    pub fn builder() -> JwtServiceBuilder {
        JwtServiceBuilder::new()
    }

    /// Mints a token for a new session with the default lifetime ([`JwtServiceBuilder::default_expires_in`],
    /// 1 hour unless set).
    ///
    /// # Errors
    /// [`JwtError::Encoding`] when the session does not serialize to a JSON object, or signing fails.
    pub fn sign<S: Serialize>(&self, session: &S) -> Result<String, JwtError> {
        self.mint(self.inner.default_expires_in, session, None, None)
    }

    /// Pikku's `JWTService.encode(expiresIn, payload)`: a token for a new session id.
    ///
    /// # Errors
    /// [`JwtError::Encoding`] when the session does not serialize to a JSON object, the expiry is out of
    /// range, or signing fails.
    pub fn encode<S: Serialize>(&self, expires_in: Duration, session: &S) -> Result<String, JwtError> {
        self.mint(expires_in, session, None, None)
    }

    /// Mints a token for a session id: the id `set_session` returned (so the bearer token a login returns
    /// and the session cookie of that login are revoked together), or an existing session's. Same session
    /// id, new nonce, `iat` now.
    ///
    /// # Errors
    /// [`JwtError::InvalidSessionId`] unless `session_id` is 1 to 128 base64url characters; otherwise as
    /// [`encode`](Self::encode).
    pub fn encode_for_session<S: Serialize>(
        &self,
        expires_in: Duration,
        session: &S,
        session_id: &str,
    ) -> Result<String, JwtError> {
        if !is_session_id(session_id) {
            return Err(JwtError::InvalidSessionId);
        }
        self.mint(expires_in, session, Some(session_id), None)
    }

    /// Mints the refresh of a token: same session id, new `iat`, the login time carried as `auth_time`, and
    /// an `exp` no later than `not_after` (the end of the session's absolute lifetime).
    pub(crate) fn refresh<S: Serialize>(
        &self,
        expires_in: Duration,
        session: &S,
        session_id: &str,
        auth_time: i64,
        not_after: i64,
    ) -> Result<String, JwtError> {
        if !is_session_id(session_id) {
            return Err(JwtError::InvalidSessionId);
        }
        self.mint(expires_in, session, Some(session_id), Some(Refresh { auth_time, not_after }))
    }

    /// The clock-skew leeway: a token verifies until `exp` plus this.
    pub fn leeway(&self) -> Duration {
        Duration::from_secs(u64::try_from(self.inner.leeway_secs).unwrap_or(0))
    }

    /// The session entry that names the user ([`JwtServiceBuilder::user_claim`]), if configured.
    pub fn user_claim(&self) -> Option<&str> {
        self.inner.user_claim.as_deref()
    }

    /// The lifetime [`JwtService::sign`] uses.
    pub fn default_expires_in(&self) -> Duration {
        self.inner.default_expires_in
    }

    fn mint<S: Serialize>(
        &self,
        expires_in: Duration,
        session: &S,
        session_id: Option<&str>,
        refresh: Option<Refresh>,
    ) -> Result<String, JwtError> {
        let inner = &*self.inner;
        let key = inner.keys[0]
            .encoding
            .as_ref()
            .ok_or_else(|| JwtError::Encoding("the signing key has no private key".into()))?;

        let iat = now_secs();
        // Round sub-second lifetimes up so a token never expires early.
        let lifetime = expires_in.as_secs().saturating_add(u64::from(expires_in.subsec_nanos() > 0));
        let exp = i64::try_from(lifetime)
            .ok()
            .and_then(|l| iat.checked_add(l))
            .ok_or_else(|| JwtError::Encoding("expiry out of range".into()))?;
        let exp = refresh.map_or(exp, |r| exp.min(r.not_after));
        // The first token's `iat` is the login time; only a refresh needs to carry it apart.
        let auth_time = refresh.map(|r| r.auth_time).filter(|&t| t != iat);

        // RFC 7519 §4.1.7: a `jti` with a negligible chance of repeating (a random 128-bit session id and a
        // random 72-bit nonce), so two logins in the same second never produce the same token.
        let mut rng = rand::thread_rng();
        let mut jti = String::with_capacity(session_id.map_or(22, str::len) + 1 + NONCE_BYTES.div_ceil(3) * 4);
        match session_id {
            Some(sid) => jti.push_str(sid),
            None => {
                let mut sid = [0u8; SESSION_ID_BYTES];
                rng.fill_bytes(&mut sid);
                URL_SAFE_NO_PAD.encode_string(sid, &mut jti);
            }
        }
        jti.push('.');
        let mut nonce = [0u8; NONCE_BYTES];
        rng.fill_bytes(&mut nonce);
        URL_SAFE_NO_PAD.encode_string(nonce, &mut jti);

        // The session's fields sit beside the registered claims: one named like them would mint a token with a
        // duplicate claim, which no verifier accepts. Refused here, where the mistake is made.
        let session = match serde_json::to_value(session) {
            Ok(serde_json::Value::Object(fields)) => fields,
            Ok(_) => return Err(JwtError::Encoding("the session must serialize to a JSON object".into())),
            Err(e) => return Err(JwtError::Encoding(format!("the session must serialize to a JSON object: {e}"))),
        };
        if let Some(owned) = claims::REGISTERED.iter().find(|name| session.contains_key(**name)) {
            return Err(JwtError::Encoding(format!("the session has a field named `{owned}`, which the token owns")));
        }
        let claims = MintClaims {
            session: &session,
            iat,
            exp,
            jti: &jti,
            auth_time,
            iss: inner.issuer.as_deref(),
            aud: inner.audience.as_deref(),
        };
        jsonwebtoken::encode(&inner.signing_header, &claims, key).map_err(|e| match e.kind() {
            ErrorKind::Json(json) => JwtError::Encoding(format!("the session must serialize to a JSON object: {json}")),
            _ => JwtError::Encoding("signing failed".into()),
        })
    }

    /// Verifies a token and decodes its session.
    ///
    /// # Errors
    /// A [`JwtError`] naming the first check the token failed: its shape or header ([`JwtError::Malformed`],
    /// [`JwtError::UnknownKey`], [`JwtError::AlgorithmNotAllowed`]), its signature, a payload that does not
    /// fit the session type, its claims (expired, not yet valid, `exp` missing or not a number, wrong `iss`
    /// or `aud`), or a payload without a session.
    pub fn decode<S: DeserializeOwned>(&self, token: &str) -> Result<DecodedToken<S>, JwtError> {
        let inner = &*self.inner;
        let claims = if let [key] = &inner.keys[..] {
            // One key (the common case): no header peek before verifying. `jsonwebtoken` parses the header
            // anyway, the validation pins the algorithm, and the `kid` and `crit` checks are made on the
            // header it returns. A failure is explained the way the peek would have.
            match jsonwebtoken::decode::<Claims>(token, &key.decoding, &key.validation) {
                Ok(data) => {
                    header::check_verified(&data.header, key)?;
                    data.claims
                }
                Err(e) => {
                    header::select_key(&inner.keys, token)?;
                    return Err(map_decode_error(e));
                }
            }
        } else {
            let key = header::select_key(&inner.keys, token)?;
            jsonwebtoken::decode::<Claims>(token, &key.decoding, &key.validation).map_err(map_decode_error)?.claims
        };
        claims.check(inner.leeway_secs, inner.user_claim.as_deref())
    }
}

/// What a refresh carries over: the login time, and the end of the session's absolute lifetime.
#[derive(Clone, Copy)]
struct Refresh {
    auth_time: i64,
    not_after: i64,
}

/// Seconds since the epoch.
fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
