//! The key set: asymmetric keys, configuration errors, rotation, issuer and audience.

use serde_json::{json, Value};

use crate::jwt::fixtures::*;
use crate::jwt::{Algorithm, JwtConfigError, JwtError, JwtService};

#[test]
fn rs256_round_trip_and_verify_only_key() {
    let svc =
        JwtService::builder().rsa_pem("rsa", Algorithm::RS256, Some(RSA_PRIVATE_PEM), RSA_PUBLIC_PEM).build().unwrap();
    let token = svc.sign(&session()).unwrap();
    assert_eq!(parts(&token).0["alg"], "RS256");
    assert_eq!(svc.decode::<Session>(&token).unwrap().session, session());

    // A verify-only service (public key only, behind an HMAC signer).
    let verifier = JwtService::builder()
        .hs256_key("primary", SECRET)
        .rsa_pem("rsa", Algorithm::RS256, None, RSA_PUBLIC_PEM)
        .build()
        .unwrap();
    assert_eq!(verifier.decode::<Session>(&token).unwrap().session, session());
}

#[test]
fn es256_round_trip() {
    let svc =
        JwtService::builder().ec_pem("ec", Algorithm::ES256, Some(EC_PRIVATE_PEM), EC_PUBLIC_PEM).build().unwrap();
    let token = svc.sign(&session()).unwrap();
    assert_eq!(parts(&token).0["alg"], "ES256");
    assert_eq!(svc.decode::<Session>(&token).unwrap().session, session());
}

#[test]
fn eddsa_round_trip() {
    let svc = JwtService::builder().ed_pem("ed", Some(ED_PRIVATE_PEM), ED_PUBLIC_PEM).build().unwrap();
    let token = svc.sign(&session()).unwrap();
    assert_eq!(parts(&token).0["alg"], "EdDSA");
    assert_eq!(svc.decode::<Session>(&token).unwrap().session, session());
}

#[test]
fn bad_asymmetric_config_is_refused() {
    let err =
        JwtService::builder().ec_pem("ec", Algorithm::ES256, Some(b"not a pem"), EC_PUBLIC_PEM).build().unwrap_err();
    assert!(matches!(err, JwtConfigError::InvalidPem { part: "private", .. }));
    let err = JwtService::builder()
        .rsa_pem("rsa", Algorithm::ES256, Some(RSA_PRIVATE_PEM), RSA_PUBLIC_PEM)
        .build()
        .unwrap_err();
    assert!(matches!(err, JwtConfigError::AlgorithmMismatch { .. }));
    let err = JwtService::builder().ed_pem("ed", Some(ED_PRIVATE_PEM), ED_OTHER_PUBLIC_PEM).build().unwrap_err();
    assert!(matches!(err, JwtConfigError::KeyMismatch { .. }));
    let err = JwtService::builder().ed_pem("ed", None, ED_PUBLIC_PEM).build().unwrap_err();
    assert!(matches!(err, JwtConfigError::FirstKeyCannotSign { .. }));
    let err = JwtService::builder().hs256_key("a", SECRET).hs256_key("a", OTHER_SECRET).build().unwrap_err();
    assert!(matches!(err, JwtConfigError::DuplicateKeyId(_)));
    assert!(matches!(JwtService::builder().build(), Err(JwtConfigError::NoKeys)));
}

#[test]
fn short_secret_is_refused_at_construction() {
    let secret = "short-secret-value-1234";
    let err = JwtService::hs256(secret).unwrap_err();
    assert!(matches!(err, JwtConfigError::SecretTooShort { min: 32, .. }));
    let msg = err.to_string();
    assert!(msg.contains("32"), "{msg}");
    assert!(!msg.contains(secret), "{msg}");
    assert!(!format!("{err:?}").contains(secret));
}

#[test]
fn rotation_keeps_old_tokens_valid() {
    let old = JwtService::builder().hs256_key("k1", OTHER_SECRET).build().unwrap();
    let token = old.sign(&session()).unwrap();
    let rotated = JwtService::builder().hs256_key("k2", SECRET).hs256_key("k1", OTHER_SECRET).build().unwrap();
    assert_eq!(rotated.decode::<Session>(&token).unwrap().session, session());
    let fresh = rotated.sign(&session()).unwrap();
    assert_eq!(parts(&fresh).0["kid"], "k2");
    assert!(matches!(old.decode::<Session>(&fresh), Err(JwtError::UnknownKey)));
}

#[test]
fn iss_and_aud_are_enforced_once_configured() {
    let svc = JwtService::builder().hs256_key("primary", SECRET).issuer("pikku").audience("app").build().unwrap();
    let token = svc.sign(&session()).unwrap();
    let (_, payload) = parts(&token);
    assert_eq!(payload["iss"], "pikku");
    assert_eq!(payload["aud"], "app");
    assert_eq!(svc.decode::<Session>(&token).unwrap().session, session());

    let mk = |extra: Value| {
        let mut p = json!({"userId": "u1", "role": "admin", "exp": now() + 60});
        p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        forge(Algorithm::HS256, Some("primary"), &p, SECRET)
    };
    assert!(matches!(svc.decode::<Session>(&mk(json!({"aud": "app"}))), Err(JwtError::MissingClaim("iss"))));
    assert!(matches!(svc.decode::<Session>(&mk(json!({"iss": "pikku"}))), Err(JwtError::MissingClaim("aud"))));
    assert!(matches!(svc.decode::<Session>(&mk(json!({"iss": "evil", "aud": "app"}))), Err(JwtError::WrongIssuer)));
    assert!(matches!(
        svc.decode::<Session>(&mk(json!({"iss": "pikku", "aud": "other"}))),
        Err(JwtError::WrongAudience)
    ));
    // Not configured: no iss/aud needed.
    assert!(service().decode::<Session>(&mk(json!({}))).is_ok());
}
