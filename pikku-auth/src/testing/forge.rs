//! Token forging: sign any claims with a known HMAC secret, and break tokens in the ways attacks do.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngCore as _;
use serde::Serialize;
use serde_json::Value;

/// Seconds in a day, for claim arithmetic (`iat`, `exp` and the ages below are seconds).
pub const DAY: i64 = 24 * 60 * 60;

/// The key id [`JwtService::hs256`](crate::jwt::JwtService::hs256) signs with.
const PRIMARY_KID: &str = "primary";
/// Random bytes in a session id and in a nonce: the `jti` layout `JwtService` mints (22 and 12
/// base64url characters).
const SESSION_ID_BYTES: usize = 16;
const NONCE_BYTES: usize = 9;
/// Lifetime of the tokens [`TokenForger::expired_token`] forges, and how long ago they expired: a
/// minute, far beyond any clock-skew leeway (5 s by default).
const EXPIRED_LIFETIME: i64 = 60 * 60;
const EXPIRED_AGO: i64 = 60;

/// Signs tokens with a known HMAC secret, whatever their claims: the tokens a test needs and a
/// [`JwtService`](crate::jwt::JwtService) would never mint (aged, expired, foreign, without `jti`, with
/// another algorithm or key id).
///
/// By default it signs like `JwtService::hs256(secret)`: HS256, key id `primary`.
///
/// ```
/// use pikku_auth::jwt::{Algorithm, JwtService};
/// use pikku_auth::testing::{now, TokenForger};
/// use serde_json::json;
///
/// const SECRET: &[u8] = b"a-test-secret-of-at-least-32-bytes!!";
/// let jwt = JwtService::hs256(SECRET).unwrap();
/// let forger = TokenForger::hs256(SECRET);
///
/// // As Pikku's TypeScript service mints them: no `kid`, no `jti`. Accepted.
/// let foreign = forger.clone().kid(None).forge(&json!({"userId": "u1", "iat": now(), "exp": now() + 600}));
/// assert!(jwt.decode::<serde_json::Value>(&foreign).is_ok());
///
/// // The same secret with another algorithm: refused (the algorithm is pinned per key).
/// let hs512 = forger.algorithm(Algorithm::HS512).forge(&json!({"userId": "u1", "exp": now() + 600}));
/// assert!(jwt.decode::<serde_json::Value>(&hs512).is_err());
/// ```
#[derive(Clone)]
pub struct TokenForger {
    secret: Vec<u8>,
    kid: Option<String>,
    algorithm: Algorithm,
}

impl fmt::Debug for TokenForger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret.
        f.debug_struct("TokenForger").field("kid", &self.kid).field("algorithm", &self.algorithm).finish()
    }
}

impl TokenForger {
    /// Signs with HS256 and `secret` under key id `primary`, like `JwtService::hs256(secret)`. Any
    /// length is taken: a forger may play an attacker with a weak secret.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Self {
        Self { secret: secret.as_ref().to_vec(), kid: Some(PRIMARY_KID.to_owned()), algorithm: Algorithm::HS256 }
    }

    /// Puts `kid` in the header, or none with `None` as Pikku's TypeScript service mints them (by default
    /// `primary`).
    #[must_use]
    pub fn kid(mut self, kid: Option<&str>) -> Self {
        self.kid = kid.map(str::to_owned);
        self
    }

    /// Signs with another HMAC algorithm (by default HS256).
    ///
    /// # Panics
    /// When `algorithm` is not HS256, HS384 or HS512: the secret is an HMAC key.
    #[must_use]
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        assert!(
            matches!(algorithm, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512),
            "a TokenForger signs with HMAC only, not {algorithm:?}"
        );
        self.algorithm = algorithm;
        self
    }

    /// Signs `claims` as they are: nothing is added or checked.
    ///
    /// # Panics
    /// When signing fails (it does not for HMAC).
    pub fn forge(&self, claims: &Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid.clone_from(&self.kid);
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(&self.secret)).expect("HMAC signing")
    }

    /// A token of `session` in the layout `JwtService` mints (fresh `jti`), issued `age_secs` seconds
    /// ago and living `lifetime_secs` from then: for cookie-refresh tests, or expired when the age is
    /// over the lifetime.
    ///
    /// # Panics
    /// When `session` does not serialise to a JSON object.
    pub fn aged_token<S: Serialize + ?Sized>(&self, session: &S, age_secs: i64, lifetime_secs: i64) -> String {
        let issued_at = now() - age_secs;
        let mut claims = session_claims(session, issued_at, issued_at + lifetime_secs);
        claims["jti"] = new_jti().into();
        self.forge(&claims)
    }

    /// A token of `session` that expired a minute ago (beyond any clock-skew leeway) after living an
    /// hour.
    ///
    /// # Panics
    /// When `session` does not serialise to a JSON object.
    pub fn expired_token<S: Serialize + ?Sized>(&self, session: &S) -> String {
        self.aged_token(session, EXPIRED_LIFETIME + EXPIRED_AGO, EXPIRED_LIFETIME)
    }
}

/// The claims of a session token without `jti`: the session's fields at the top level, plus `iat` and
/// `exp` (seconds since the epoch), as `JwtService` and Pikku's TypeScript service lay them out.
///
/// # Panics
/// When `session` does not serialise to a JSON object.
pub fn session_claims<S: Serialize + ?Sized>(session: &S, issued_at: i64, expires_at: i64) -> Value {
    let claims = serde_json::to_value(session).expect("the session serialises");
    let Value::Object(mut object) = claims else { panic!("a session serialises to a JSON object, not {claims}") };
    object.insert("iat".to_owned(), issued_at.into());
    object.insert("exp".to_owned(), expires_at.into());
    Value::Object(object)
}

/// Now, in seconds since the epoch: what `iat` and `exp` count.
///
/// # Panics
/// When the clock is past the year 2262.
pub fn now() -> i64 {
    jsonwebtoken::get_current_timestamp().try_into().expect("the clock is before 2262")
}

/// A fresh `jti` in the layout `JwtService` mints: `<session id>.<nonce>`, 22 and 12 random base64url
/// characters.
pub fn new_jti() -> String {
    let mut rng = rand::thread_rng();
    let mut session_id = [0u8; SESSION_ID_BYTES];
    let mut nonce = [0u8; NONCE_BYTES];
    rng.fill_bytes(&mut session_id);
    rng.fill_bytes(&mut nonce);
    format!("{}.{}", URL_SAFE_NO_PAD.encode(session_id), URL_SAFE_NO_PAD.encode(nonce))
}

/// `token` with its signature changed: the first signature character is swapped (the last one may carry
/// only padding bits, which a decoder can ignore).
///
/// # Panics
/// When `token` has no signature.
pub fn tamper(token: &str) -> String {
    let start = token.rfind('.').expect("a JWT has three segments") + 1;
    assert!(start < token.len(), "a JWT with a signature");
    let mut bytes = token.as_bytes().to_vec();
    bytes[start] = if bytes[start] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("base64url is ASCII")
}

/// `token` with its payload replaced by `claims` and its header and signature kept: a payload edited
/// after signing (a user made admin), which must fail verification.
///
/// # Panics
/// When `token` does not have three segments.
pub fn replace_claims(token: &str, claims: &Value) -> String {
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3, "a JWT has three segments: {token}");
    format!("{}.{}.{}", segments[0], encode_json(claims), segments[2])
}

/// A token with any `header` (such as `{"alg": "none"}`) and `claims`, and an empty signature.
pub fn unsigned_token(header: &Value, claims: &Value) -> String {
    format!("{}.{}.", encode_json(header), encode_json(claims))
}

/// The header and payload of `token`, decoded without verification.
///
/// # Panics
/// When `token` is not three segments of which the first two are base64url JSON.
pub fn token_parts(token: &str) -> (Value, Value) {
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3, "a JWT has three segments: {token}");
    let decode = |segment: &str| -> Value {
        let bytes = URL_SAFE_NO_PAD.decode(segment).unwrap_or_else(|e| panic!("base64url segment {segment}: {e}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JSON segment {segment}: {e}"))
    };
    (decode(segments[0]), decode(segments[1]))
}

/// The session id of `token` (unverified): the part of its `jti` before the first `.`.
///
/// # Panics
/// When `token` is not a JWT or has no string `jti`.
pub fn session_id(token: &str) -> String {
    let (_, payload) = token_parts(token);
    let jti = payload["jti"].as_str().unwrap_or_else(|| panic!("a token with a jti: {payload}"));
    jti.split_once('.').map_or(jti, |(session_id, _)| session_id).to_owned()
}

fn encode_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON serialises"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::{JwtError, JwtService};
    use serde_json::json;

    const SECRET: &[u8] = b"forge-tests-secret-of-32-bytes-or-more";

    fn session() -> Value {
        json!({"userId": "u1", "role": "admin"})
    }

    fn jwt() -> JwtService {
        JwtService::hs256(SECRET).unwrap()
    }

    #[test]
    fn an_aged_token_is_valid_with_its_iat_in_the_past_and_a_fresh_jti() {
        let token = TokenForger::hs256(SECRET).aged_token(&session(), 16 * DAY, 30 * DAY);
        let decoded = jwt().decode::<Value>(&token).expect("valid");
        assert_eq!(decoded.session, session());
        let issued_at = decoded.issued_at.unwrap();
        assert!((now() - 16 * DAY - issued_at).abs() <= 1);
        assert_eq!(decoded.expires_at - issued_at, 30 * DAY);
        let (header, _) = token_parts(&token);
        assert_eq!((header["alg"].as_str(), header["kid"].as_str()), (Some("HS256"), Some("primary")));
        let sid = session_id(&token);
        assert_eq!(decoded.session_id(), Some(sid.as_str()));
        assert_eq!(sid.len(), 22);
        assert_ne!(session_id(&TokenForger::hs256(SECRET).aged_token(&session(), 0, 60)), sid);
    }

    #[test]
    fn expired_tampered_edited_unsigned_and_foreign_tokens_are_refused() {
        let forger = TokenForger::hs256(SECRET);
        let jwt = jwt();
        assert!(matches!(jwt.decode::<Value>(&forger.expired_token(&session())), Err(JwtError::Expired)));
        let good = forger.aged_token(&session(), 0, 600);
        assert!(jwt.decode::<Value>(&good).is_ok());
        assert!(jwt.decode::<Value>(&tamper(&good)).is_err());
        let mut claims = token_parts(&good).1;
        claims["role"] = "root".into();
        assert!(jwt.decode::<Value>(&replace_claims(&good, &claims)).is_err());
        let none = unsigned_token(&json!({"alg": "none", "typ": "JWT"}), &claims);
        assert!(jwt.decode::<Value>(&none).is_err());
        let other = TokenForger::hs256(b"another-secret-of-32-bytes-or-more!!").aged_token(&session(), 0, 600);
        assert!(jwt.decode::<Value>(&other).is_err());
        assert!(jwt.decode::<Value>(&forger.clone().kid(Some("old")).aged_token(&session(), 0, 600)).is_err());
        assert!(jwt
            .decode::<Value>(&forger.clone().algorithm(Algorithm::HS384).aged_token(&session(), 0, 60))
            .is_err());
        assert!(jwt.decode::<Value>(&forger.kid(None).aged_token(&session(), 0, 600)).is_ok());
    }

    #[test]
    fn tamper_changes_only_the_first_signature_character() {
        let token = TokenForger::hs256(SECRET).aged_token(&session(), 0, 60);
        let tampered = tamper(&token);
        let differing: Vec<usize> =
            (0..token.len()).filter(|&i| token.as_bytes()[i] != tampered.as_bytes()[i]).collect();
        assert_eq!(differing, [token.rfind('.').unwrap() + 1]);
    }

    #[test]
    fn the_forger_never_shows_its_secret() {
        let debug = format!("{:?}", TokenForger::hs256(SECRET));
        assert!(!debug.contains("forge-tests-secret"), "{debug}");
    }

    #[test]
    #[should_panic(expected = "HMAC only")]
    fn an_asymmetric_algorithm_is_refused() {
        let _ = TokenForger::hs256(SECRET).algorithm(Algorithm::RS256);
    }
}
