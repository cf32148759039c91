//! What a token that `JwtService::decode` accepted must satisfy, checked from the token's own bytes with
//! code that shares nothing with the service (docs/jwt.md, "The checks on every token").

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use pikku::auth::DecodedToken;
use serde_json::{Map, Value};

use crate::{entries, Entries, FUZZ_SECRET, LEEWAY_SECS};

/// Claims the token owns: never part of a session (docs/jwt.md, "Payload layout").
pub const REGISTERED: [&str; 7] = ["iat", "exp", "nbf", "iss", "aud", "sub", "jti"];

/// Seconds since the epoch.
pub fn now() -> i64 {
    pikku::testing::now()
}

/// A NumericDate as `jsonwebtoken` and the service both read it: a non-negative integer, or a finite
/// non-negative float rounded to whole seconds. `None` for anything else.
fn numeric_date(value: &Value) -> Option<i64> {
    let Value::Number(n) = value else { return None };
    if let Some(u) = n.as_u64() {
        return i64::try_from(u).ok();
    }
    if n.is_i64() {
        // A negative integer: not a NumericDate `jsonwebtoken` takes.
        return None;
    }
    let f = n.as_f64()?;
    if !f.is_finite() || f < 0.0 {
        return None;
    }
    let r = f.round();
    (r < i64::MAX as f64).then_some(r as i64)
}

/// The time window a decode ran in: `now()` before and after it.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Seconds since the epoch, before the decode.
    pub before: i64,
    /// Seconds since the epoch, after it.
    pub after: i64,
}

/// A broken rule: the fuzz target panics with it.
pub struct Violation(pub String);

impl fmt::Debug for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(Violation(format!($($msg)+)));
        }
    };
}

/// The three segments of an accepted token, each canonical base64url without padding, so that exactly
/// one spelling of a token verifies (no malleable signatures or payloads).
fn segments(token: &str) -> Result<[Vec<u8>; 3], Violation> {
    let parts: Vec<&str> = token.split('.').collect();
    ensure!(parts.len() == 3, "accepted a token of {} segments", parts.len());
    let mut decoded: [Vec<u8>; 3] = Default::default();
    for (i, part) in parts.iter().enumerate() {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|e| Violation(format!("accepted a token whose segment {i} is not base64url: {e}")))?;
        ensure!(URL_SAFE_NO_PAD.encode(&bytes) == *part, "accepted a non-canonical base64url spelling of segment {i}");
        decoded[i] = bytes;
    }
    Ok(decoded)
}

/// Rules on the header and signature of an accepted token: HS256 pinned, `kid` absent or `primary`,
/// no `crit`, and an HMAC over the first two segments with the service's secret.
fn check_header_and_signature(token: &str, header: &[u8], signature: &[u8]) -> Result<(), Violation> {
    let header: Map<String, Value> = serde_json::from_slice(header)
        .map_err(|e| Violation(format!("accepted a token whose header is not a JSON object: {e}")))?;
    ensure!(header.get("alg") == Some(&Value::from("HS256")), "accepted alg {:?}", header.get("alg"));
    ensure!(
        matches!(header.get("kid"), None) || header.get("kid") == Some(&Value::from("primary")),
        "accepted kid {:?}",
        header.get("kid")
    );
    ensure!(!header.contains_key("crit"), "accepted a header with crit");
    let signed = &token[..token.rfind('.').expect("three segments")];
    let expected =
        jsonwebtoken::crypto::sign(signed.as_bytes(), &EncodingKey::from_secret(FUZZ_SECRET), Algorithm::HS256)
            .expect("HMAC signing");
    let expected = URL_SAFE_NO_PAD.decode(expected).expect("jsonwebtoken encodes base64url");
    ensure!(expected == signature, "accepted a signature that is not our HMAC of the token");
    Ok(())
}

/// The registered-claim rules on the payload of an accepted token, and the [`DecodedToken`] fields
/// the service reported for them. Returns the payload's entries that are not registered claims.
fn check_claims<S>(payload: &[u8], decoded: &DecodedToken<S>, window: Window) -> Result<Entries, Violation> {
    let all = entries(payload)
        .map_err(|e| Violation(format!("accepted a payload that is not a JSON object of UTF-8 text: {e}")))?;
    for claim in REGISTERED {
        let count = all.iter().filter(|(k, _)| k == claim).count();
        ensure!(count <= 1, "accepted a payload with `{claim}` {count} times");
    }
    let get = |name: &str| all.iter().find(|(k, _)| k == name).map(|(_, v)| v);

    let exp = get("exp").ok_or_else(|| Violation("accepted a payload without exp".into()))?;
    let exp = numeric_date(exp).ok_or_else(|| Violation(format!("accepted exp {exp}, not a NumericDate")))?;
    ensure!(exp == decoded.expires_at, "exp is {exp} but decode reported {}", decoded.expires_at);
    ensure!(
        exp >= window.before - LEEWAY_SECS,
        "accepted exp {exp}, expired before the decode began at {} (leeway {LEEWAY_SECS} s)",
        window.before
    );

    match get("iat") {
        None => ensure!(decoded.issued_at.is_none(), "no iat but decode reported {:?}", decoded.issued_at),
        Some(value) => {
            // `jsonwebtoken` does not read `iat`; the service takes any number of seconds, negative too (it
            // only refuses one in the future).
            let iat = value.as_i64().or_else(|| {
                let r = value.as_f64()?.round();
                (r.is_finite() && r >= i64::MIN as f64 && r < i64::MAX as f64).then_some(r as i64)
            });
            let iat = iat.ok_or_else(|| Violation(format!("accepted iat {value}, not a NumericDate")))?;
            ensure!(decoded.issued_at == Some(iat), "iat is {iat} but decode reported {:?}", decoded.issued_at);
            ensure!(iat <= window.after + LEEWAY_SECS, "accepted iat {iat} in the future (now {})", window.after);
        }
    }
    // `null` names no time and no audience: as if absent (as for `jti` below).
    if let Some(value) = get("nbf").filter(|v| !v.is_null()) {
        let nbf = numeric_date(value).ok_or_else(|| Violation(format!("accepted nbf {value}, not a NumericDate")))?;
        ensure!(nbf <= window.after + LEEWAY_SECS, "accepted nbf {nbf} in the future (now {})", window.after);
    }
    match get("jti") {
        Some(Value::String(jti)) => {
            ensure!(decoded.jti.as_ref() == Some(jti), "jti {jti:?} reported as {:?}", decoded.jti)
        }
        // A `jti` that is not a string (`null` included) is another issuer's business: read as no `jti`, so the
        // token is revoked by its signature, as one without.
        other => ensure!(decoded.jti.is_none(), "jti {other:?} (not a string) reported as {:?}", decoded.jti),
    }
    // No audience is configured: a token that names one is for another service (docs/jwt.md).
    let aud = get("aud").filter(|v| !v.is_null());
    ensure!(aud.is_none(), "accepted aud {} while no audience is configured", aud.expect("checked"));

    let session: Entries = all.into_iter().filter(|(k, _)| !REGISTERED.contains(&k.as_str())).collect();
    ensure!(!session.is_empty(), "accepted a payload with no field beyond the registered claims");
    Ok(session)
}

/// Every rule on a token that `decode::<serde_json::Value>` accepted: header, signature, claims, and the
/// session being exactly the payload's other entries (the last of a repeated key, as a JSON map keeps it).
///
/// # Errors
/// The first rule broken.
pub fn check_accepted_value(token: &str, decoded: &DecodedToken<Value>, window: Window) -> Result<(), Violation> {
    let [header, payload, signature] = segments(token)?;
    check_header_and_signature(token, &header, &signature)?;
    let session = check_claims(&payload, decoded, window)?;
    let expected: Map<String, Value> = session.into_iter().collect();
    ensure!(
        decoded.session == Value::Object(expected.clone()),
        "session {} but the payload holds {expected:?}",
        decoded.session
    );
    Ok(())
}

/// Every rule on a token that `decode::<UserSession>` accepted: as [`check_accepted_value`], and the
/// session's two fields each given once, as strings.
///
/// # Errors
/// The first rule broken.
pub fn check_accepted_user(
    token: &str,
    decoded: &DecodedToken<auth_demo::UserSession>,
    window: Window,
) -> Result<(), Violation> {
    let [header, payload, signature] = segments(token)?;
    check_header_and_signature(token, &header, &signature)?;
    let session = check_claims(&payload, decoded, window)?;
    for (field, value) in [("userId", &decoded.session.user_id), ("role", &decoded.session.role)] {
        let given: Vec<&Value> = session.iter().filter(|(k, _)| k == field).map(|(_, v)| v).collect();
        ensure!(given.len() == 1, "accepted `{field}` given {} times", given.len());
        ensure!(given[0] == &Value::from(value.as_str()), "`{field}` is {} but decoded as {value:?}", given[0]);
    }
    Ok(())
}
