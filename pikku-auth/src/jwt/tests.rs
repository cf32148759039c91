//! The service end to end: minting, the payload layout, refresh, and what `Debug` may print.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::json;

use crate::jwt::fixtures::*;
use crate::jwt::{Algorithm, JwtError, JwtService};

#[test]
fn round_trip_puts_session_fields_top_level_with_iat_exp_jti_and_kid() {
    let svc = service();
    let token = svc.sign(&session()).unwrap();
    let (header, payload) = parts(&token);
    assert_eq!(header["kid"], "primary");
    assert_eq!(header["alg"], "HS256");
    assert_eq!(payload["userId"], "u1");
    assert_eq!(payload["role"], "admin");
    let iat = payload["iat"].as_i64().unwrap();
    let exp = payload["exp"].as_i64().unwrap();
    assert!((iat - now()).abs() <= 1);
    assert_eq!(exp - iat, 3600);
    let jti = payload["jti"].as_str().unwrap();
    let (sid, nonce) = jti.split_once('.').unwrap();
    assert_eq!(URL_SAFE_NO_PAD.decode(sid).unwrap().len(), 16);
    assert_eq!(URL_SAFE_NO_PAD.decode(nonce).unwrap().len(), 9);
    assert_eq!(payload.as_object().unwrap().len(), 5);

    let decoded = svc.decode::<Session>(&token).unwrap();
    assert_eq!(decoded.session, session());
    assert_eq!(decoded.issued_at, Some(iat));
    assert_eq!(decoded.expires_at, exp);
    assert_eq!(decoded.jti.as_deref(), Some(jti));
    assert_eq!(decoded.session_id(), Some(sid));
}

#[test]
fn two_tokens_minted_in_the_same_second_differ() {
    let svc = service();
    let a = svc.sign(&session()).unwrap();
    let b = svc.sign(&session()).unwrap();
    assert_ne!(a, b);
    assert_ne!(parts(&a).1["jti"], parts(&b).1["jti"]);
}

#[test]
fn bad_signature_is_refused() {
    let svc = service();
    let token = svc.sign(&session()).unwrap();
    let (msg, sig) = token.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    sig[0] ^= 1;
    let tampered = format!("{msg}.{}", b64(&sig));
    assert!(matches!(svc.decode::<Session>(&tampered), Err(JwtError::BadSignature)));

    let forged = forge(
        Algorithm::HS256,
        Some("primary"),
        &json!({"userId": "u1", "role": "admin", "exp": now() + 60}),
        OTHER_SECRET,
    );
    assert!(matches!(svc.decode::<Session>(&forged), Err(JwtError::BadSignature)));
}

#[test]
fn encode_for_session_keeps_session_id_and_encode_makes_a_new_one() {
    let svc = service();
    let hour = Duration::from_secs(3600);
    let first = svc.decode::<Session>(&svc.encode(hour, &session()).unwrap()).unwrap();
    let other = svc.decode::<Session>(&svc.encode(hour, &session()).unwrap()).unwrap();
    let sid = first.session_id().unwrap();
    assert_ne!(sid, other.session_id().unwrap());

    let refreshed_token = svc.encode_for_session(Duration::from_secs(60), &session(), sid).unwrap();
    let refreshed = svc.decode::<Session>(&refreshed_token).unwrap();
    assert_eq!(refreshed.session_id(), Some(sid));
    assert_ne!(refreshed.jti, first.jti);
    assert_eq!(refreshed.expires_at - refreshed.issued_at.unwrap(), 60);

    assert!(matches!(svc.encode_for_session(hour, &session(), "a.b"), Err(JwtError::InvalidSessionId)));
    assert!(matches!(svc.encode_for_session(hour, &session(), ""), Err(JwtError::InvalidSessionId)));
}

#[test]
fn session_that_is_not_an_object_cannot_be_minted() {
    assert!(matches!(service().sign(&"just a string"), Err(JwtError::Encoding(_))));
}

#[test]
fn a_session_with_a_field_the_token_owns_cannot_be_minted() {
    let svc = service();
    for field in ["exp", "sub", "jti", "auth_time"] {
        let result = svc.sign(&json!({"userId": "u1", field: 1}));
        assert!(matches!(&result, Err(JwtError::Encoding(m)) if m.contains(field)), "{field}: {result:?}");
    }
}

#[test]
fn a_refresh_carries_the_login_time_and_stops_at_the_absolute_deadline() {
    let svc = service();
    let login = now() - 1000;
    let token = svc.refresh(Duration::from_secs(3600), &session(), "sid1", login, now() + 60).unwrap();
    let decoded = svc.decode::<Session>(&token).unwrap();
    assert_eq!(decoded.auth_time, Some(login));
    assert_eq!(decoded.session_id(), Some("sid1"));
    assert!(decoded.expires_at <= now() + 60, "capped at the deadline");
    // A first token's login time is its `iat`, and it carries no `auth_time` of its own.
    let first = svc.sign(&session()).unwrap();
    assert_eq!(svc.decode::<Session>(&first).unwrap().auth_time, svc.decode::<Session>(&first).unwrap().issued_at);
    assert!(parts(&first).1.get("auth_time").is_none());
}

#[test]
fn the_user_claim_is_reported_when_configured() {
    let svc = JwtService::builder().hs256_key("primary", SECRET).user_claim("userId").build().unwrap();
    let decoded = svc.decode::<Session>(&svc.sign(&session()).unwrap()).unwrap();
    assert_eq!(decoded.user.as_deref(), Some(session().user_id.as_str()));
    assert_eq!(service().decode::<Session>(&service().sign(&session()).unwrap()).unwrap().user, None);
}

#[test]
fn hs256_random_round_trips() {
    let svc = JwtService::hs256_random();
    let token = svc.sign(&session()).unwrap();
    assert_eq!(svc.decode::<Session>(&token).unwrap().session, session());
    assert!(matches!(JwtService::hs256_random().decode::<Session>(&token), Err(JwtError::BadSignature)));
}

#[test]
fn debug_does_not_print_the_secret() {
    let secret = "super-secret-value-that-must-not-leak!!";
    let svc = JwtService::hs256(secret).unwrap();
    let builder = JwtService::builder().hs256_key("primary", secret);
    for dbg in [format!("{svc:?}"), format!("{svc:#?}"), format!("{builder:?}")] {
        assert!(!dbg.contains(secret), "{dbg}");
        assert!(!dbg.contains("super-secret"), "{dbg}");
        assert!(dbg.contains("redacted"), "{dbg}");
    }
    let rsa =
        JwtService::builder().rsa_pem("rsa", Algorithm::RS256, Some(RSA_PRIVATE_PEM), RSA_PUBLIC_PEM).build().unwrap();
    let dbg = format!("{rsa:?}");
    assert!(!dbg.contains("MII"), "{dbg}");
}

#[test]
fn pikku_typescript_style_token_without_jti_is_accepted() {
    let iat = now();
    let token = forge(
        Algorithm::HS256,
        Some("primary"),
        &json!({"userId": "u1", "role": "admin", "iat": iat, "exp": iat + 60}),
        SECRET,
    );
    let decoded = service().decode::<Session>(&token).unwrap();
    assert_eq!(decoded.session, session());
    assert_eq!(decoded.issued_at, Some(iat));
    assert_eq!(decoded.expires_at, iat + 60);
    assert_eq!(decoded.jti, None);
    assert_eq!(decoded.session_id(), None);
}
