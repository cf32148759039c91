//! Header checks: the pinned algorithm, `kid`, `crit`.

use serde_json::json;

use crate::jwt::fixtures::*;
use crate::jwt::{Algorithm, JwtError, JwtService};

#[test]
fn alg_none_token_is_refused() {
    let svc = service();
    let header = b64(br#"{"alg":"none","typ":"JWT","kid":"primary"}"#);
    let payload = b64(json!({"userId": "u1", "role": "admin", "exp": now() + 60}).to_string().as_bytes());
    for token in [format!("{header}.{payload}."), format!("{header}.{payload}")] {
        let err = svc.decode::<Session>(&token).unwrap_err();
        assert!(matches!(err, JwtError::Malformed | JwtError::AlgorithmNotAllowed), "{err:?}");
    }
}

#[test]
fn hs384_and_hs512_with_the_same_secret_are_refused() {
    let svc = service();
    let payload = json!({"userId": "u1", "role": "admin", "exp": now() + 60});
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        for kid in [Some("primary"), None] {
            let token = forge(alg, kid, &payload, SECRET);
            assert!(matches!(svc.decode::<Session>(&token), Err(JwtError::AlgorithmNotAllowed)));
        }
    }
}

#[test]
fn algorithm_confusion_rsa_public_key_as_hmac_secret_is_refused() {
    let svc =
        JwtService::builder().rsa_pem("rsa", Algorithm::RS256, Some(RSA_PRIVATE_PEM), RSA_PUBLIC_PEM).build().unwrap();
    let payload = json!({"userId": "u1", "role": "admin", "exp": now() + 60});
    let forged = forge(Algorithm::HS256, Some("rsa"), &payload, RSA_PUBLIC_PEM);
    assert!(matches!(svc.decode::<Session>(&forged), Err(JwtError::AlgorithmNotAllowed)));
    let forged = forge(Algorithm::HS256, None, &payload, RSA_PUBLIC_PEM);
    assert!(matches!(svc.decode::<Session>(&forged), Err(JwtError::AlgorithmNotAllowed)));
}

#[test]
fn crit_header_is_refused() {
    let header = b64(br#"{"alg":"HS256","kid":"primary","crit":["x"],"x":1}"#);
    let payload = b64(json!({"userId": "u1", "role": "admin", "exp": now() + 60}).to_string().as_bytes());
    let token = format!("{header}.{payload}.sig");
    assert!(matches!(service().decode::<Session>(&token), Err(JwtError::Malformed)));
}

#[test]
fn unknown_kid_is_refused() {
    let token =
        forge(Algorithm::HS256, Some("nope"), &json!({"userId": "u1", "role": "admin", "exp": now() + 60}), SECRET);
    assert!(matches!(service().decode::<Session>(&token), Err(JwtError::UnknownKey)));
}

#[test]
fn token_without_kid_is_checked_against_signing_key_only() {
    let svc = JwtService::builder().hs256_key("new", SECRET).hs256_key("old", OTHER_SECRET).build().unwrap();
    let payload = json!({"userId": "u1", "role": "admin", "exp": now() + 60});
    let by_signing_key = forge(Algorithm::HS256, None, &payload, SECRET);
    assert!(svc.decode::<Session>(&by_signing_key).is_ok());
    let by_secondary = forge(Algorithm::HS256, None, &payload, OTHER_SECRET);
    assert!(matches!(svc.decode::<Session>(&by_secondary), Err(JwtError::BadSignature)));
    // ...while with its kid the secondary key's token verifies.
    let with_kid = forge(Algorithm::HS256, Some("old"), &payload, OTHER_SECRET);
    assert!(svc.decode::<Session>(&with_kid).is_ok());
}

#[test]
fn crit_header_is_refused_even_when_the_signature_verifies() {
    let payload = json!({"userId": "u1", "role": "admin", "exp": now() + 60}).to_string();
    let header = r#"{"alg":"HS256","kid":"primary","crit":["x"],"x":1}"#;
    // One key: checked on the header jsonwebtoken returns. Two keys: checked by the peek, before verifying.
    let two_keys = JwtService::builder().hs256_key("primary", SECRET).hs256_key("old", OTHER_SECRET).build().unwrap();
    for svc in [service(), two_keys] {
        let token = forge_raw_hs256(header, &payload, SECRET);
        assert!(matches!(svc.decode::<Session>(&token), Err(JwtError::Malformed)));
    }
}

#[test]
fn kid_selects_its_key_when_escaped_or_in_a_header_too_long_for_the_stack_buffer() {
    let svc = JwtService::builder().hs256_key("new", SECRET).hs256_key("old", OTHER_SECRET).build().unwrap();
    let payload = json!({"userId": "u1", "role": "admin", "exp": now() + 60}).to_string();
    let escaped = r#"{"alg":"HS256","kid":"\u006fld"}"#;
    assert_eq!(svc.decode::<Session>(&forge_raw_hs256(escaped, &payload, OTHER_SECRET)).unwrap().session, session());
    // A certificate chain makes the header longer than the 512 bytes read without allocating.
    let long = format!(r#"{{"alg":"HS256","kid":"old","x5c":["{}"]}}"#, "A".repeat(600));
    assert_eq!(svc.decode::<Session>(&forge_raw_hs256(&long, &payload, OTHER_SECRET)).unwrap().session, session());
    let long_unknown = long.replace(r#""kid":"old""#, r#""kid":"nope""#);
    let token = forge_raw_hs256(&long_unknown, &payload, OTHER_SECRET);
    assert!(matches!(svc.decode::<Session>(&token), Err(JwtError::UnknownKey)));
    // Not base64url, or not JSON: malformed, whatever the number of keys.
    for token in ["!!!.e30.sig", "bm90IGpzb24.e30.sig", ""] {
        assert!(matches!(svc.decode::<Session>(token), Err(JwtError::Malformed)), "{token}");
    }
}
