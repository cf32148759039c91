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
