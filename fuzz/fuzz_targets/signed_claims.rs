//! Payloads signed with the service's own key, so the claim checks are reached rather than the signature
//! check: raw payload bytes, or entries built from the registered claims (around the current time, to hit
//! the leeway's edges), the session's fields and arbitrary JSON, repeated keys included. Decoding never
//! panics; every accepted token satisfies every rule of docs/jwt.md (`jwt_oracle`); and a payload that
//! plainly satisfies them all is accepted.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use pikku::auth::JwtService;
use pikku_fuzz::demo::ArbJson;
use pikku_fuzz::jwt_oracle::{check_accepted_user, check_accepted_value, now, Window, REGISTERED};
use pikku_fuzz::FUZZ_SECRET;
use serde_json::Value;

#[derive(Arbitrary, Debug)]
enum Input {
    /// The payload's bytes as they are.
    Raw { header: Header, payload: Vec<u8> },
    /// A payload written entry by entry.
    Built { header: Header, entries: Vec<(Key, Claim)> },
}

#[derive(Arbitrary, Debug)]
enum Header {
    /// `{"alg":"HS256","typ":"JWT","kid":"primary"}`, as the service mints.
    Primary,
    /// Without `kid`, as Pikku's TypeScript service mints.
    NoKid,
    /// Any JSON.
    Other(ArbJson),
}

#[derive(Arbitrary, Debug)]
enum Key {
    /// One of the registered claims.
    Registered(u8),
    /// A registered claim spelled with a JSON escape (`"\u0065xp"` is `exp`).
    Escaped(u8),
    /// `userId` or `role`, the demo session's fields.
    Session(bool),
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Claim {
    /// Now plus an offset in seconds, as an integer.
    Now(i16),
    /// Now plus an offset, as a float with a fraction.
    NowFloat(i16, u8),
    /// A string.
    Text(String),
    Json(ArbJson),
}

fn key(k: &Key) -> String {
    match k {
        Key::Registered(i) => serde_json::to_string(REGISTERED[usize::from(*i) % REGISTERED.len()]).unwrap(),
        Key::Escaped(i) => {
            let name = REGISTERED[usize::from(*i) % REGISTERED.len()];
            format!("\"\\u{:04x}{}\"", u32::from(name.as_bytes()[0]), &name[1..])
        }
        Key::Session(user) => if *user { "\"userId\"" } else { "\"role\"" }.to_owned(),
        Key::Other(s) => serde_json::to_string(s).unwrap(),
    }
}

fn claim(c: &Claim, now: i64) -> Value {
    match c {
        Claim::Now(offset) => Value::from(now + i64::from(*offset)),
        Claim::NowFloat(offset, fraction) => {
            serde_json::Number::from_f64(now as f64 + f64::from(*offset) + f64::from(*fraction) / 256.0)
                .map_or(Value::Null, Value::Number)
        }
        Claim::Text(s) => Value::from(s.as_str()),
        Claim::Json(j) => j.0.clone(),
    }
}

/// The decoded key of an entry (what a JSON parser sees).
fn name(k: &Key) -> String {
    serde_json::from_str(&key(k)).unwrap()
}

/// Whether a built payload plainly satisfies every rule, with margins of 10 s around the clock so the
/// answer cannot depend on the second the decode runs in: then it must be accepted.
fn plainly_valid(header: &Header, entries: &[(String, Value)], now: i64) -> bool {
    if matches!(header, Header::Other(_)) {
        return false;
    }
    let mut names: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return false;
    }
    let get = |n: &str| entries.iter().find(|(k, _)| k == n).map(|(_, v)| v);
    let int = |v: &Value| v.as_i64();
    let exp_ok = get("exp").and_then(int).is_some_and(|exp| exp >= now + 10);
    let iat_ok = get("iat").is_none_or(|v| int(v).is_some_and(|iat| iat <= now - 10));
    let nbf_ok = get("nbf").is_none_or(|v| v.as_i64().is_some_and(|nbf| (0..=now - 10).contains(&nbf)));
    let text_ok = |n: &str| get(n).is_none_or(Value::is_string);
    let session = entries.iter().any(|(k, _)| !REGISTERED.contains(&k.as_str()));
    // `jti` of any shape is accepted: one that is not a string is read as absent.
    exp_ok && iat_ok && nbf_ok && text_ok("iss") && text_ok("sub") && get("aud").is_none() && session
}

fuzz_target!(|input: Input| {
    static JWT: OnceLock<JwtService> = OnceLock::new();
    let jwt = JWT.get_or_init(pikku_fuzz::jwt_service);
    let before = now();
    let (header, payload, should_accept) = match &input {
        Input::Raw { header, payload } => (header, payload.clone(), false),
        Input::Built { header, entries } => {
            let pairs: Vec<(String, Value)> = entries.iter().map(|(k, c)| (name(k), claim(c, before))).collect();
            let text: Vec<String> =
                entries.iter().zip(&pairs).map(|((k, _), (_, v))| format!("{}:{}", key(k), v)).collect();
            let payload = format!("{{{}}}", text.join(",")).into_bytes();
            (header, payload, plainly_valid(header, &pairs, before))
        }
    };
    let header = match header {
        Header::Primary => r#"{"alg":"HS256","typ":"JWT","kid":"primary"}"#.to_owned(),
        Header::NoKid => r#"{"alg":"HS256","typ":"JWT"}"#.to_owned(),
        Header::Other(json) => json.0.to_string(),
    };
    let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(&payload));
    let signature =
        jsonwebtoken::crypto::sign(signing_input.as_bytes(), &EncodingKey::from_secret(FUZZ_SECRET), Algorithm::HS256)
            .expect("HMAC signing");
    let token = format!("{signing_input}.{signature}");

    let as_value = jwt.decode::<Value>(&token);
    let as_user = jwt.decode::<auth_demo::UserSession>(&token);
    let window = Window { before, after: now() };
    match &as_value {
        Ok(decoded) => check_accepted_value(&token, decoded, window).unwrap(),
        Err(e) => assert!(
            !should_accept,
            "refused ({e}) a payload that satisfies every rule: {}",
            String::from_utf8_lossy(&payload)
        ),
    }
    if let Ok(decoded) = &as_user {
        check_accepted_user(&token, decoded, window).unwrap();
        assert!(as_value.is_ok(), "accepted as UserSession but not as a JSON map");
    }
});
