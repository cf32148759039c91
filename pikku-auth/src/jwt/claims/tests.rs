//! Registered claims and the session beside them.

use std::time::Duration;

use jsonwebtoken::EncodingKey;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::jwt::fixtures::*;
use crate::jwt::{Algorithm, JwtError, JwtService};

#[test]
fn expired_beyond_leeway_is_refused_within_leeway_accepted() {
    let svc = service();
    let base = json!({"userId": "u1", "role": "admin"});
    let with_exp = |exp: i64| {
        let mut p = base.clone();
        p["exp"] = json!(exp);
        forge(Algorithm::HS256, Some("primary"), &p, SECRET)
    };
    assert!(matches!(svc.decode::<Session>(&with_exp(now() - 30)), Err(JwtError::Expired)));
    assert!(svc.decode::<Session>(&with_exp(now() - 2)).is_ok());

    let strict = JwtService::builder().hs256_key("primary", SECRET).leeway(Duration::ZERO).build().unwrap();
    assert!(matches!(strict.decode::<Session>(&with_exp(now() - 2)), Err(JwtError::Expired)));
}

#[test]
fn missing_exp_is_refused() {
    let token =
        forge(Algorithm::HS256, Some("primary"), &json!({"userId": "u1", "role": "admin", "iat": now()}), SECRET);
    assert!(matches!(service().decode::<Session>(&token), Err(JwtError::MissingExpiry)));
}

#[test]
fn exp_as_string_is_refused() {
    let token = forge(
        Algorithm::HS256,
        Some("primary"),
        &json!({"userId": "u1", "role": "admin", "exp": (now() + 60).to_string()}),
        SECRET,
    );
    assert!(matches!(service().decode::<Session>(&token), Err(JwtError::InvalidClaim("exp"))));
}

#[test]
fn future_nbf_is_refused() {
    let svc = service();
    let mk = |nbf: i64| {
        forge(
            Algorithm::HS256,
            Some("primary"),
            &json!({"userId": "u1", "role": "admin", "exp": now() + 600, "nbf": nbf}),
            SECRET,
        )
    };
    assert!(matches!(svc.decode::<Session>(&mk(now() + 60)), Err(JwtError::NotYetValid)));
    assert!(svc.decode::<Session>(&mk(now() + 2)).is_ok());
}

#[test]
fn future_iat_is_refused() {
    let svc = service();
    let mk = |iat: Value| {
        forge(
            Algorithm::HS256,
            Some("primary"),
            &json!({"userId": "u1", "role": "admin", "exp": now() + 600, "iat": iat}),
            SECRET,
        )
    };
    assert!(matches!(svc.decode::<Session>(&mk(json!(now() + 60))), Err(JwtError::NotYetValid)));
    assert!(svc.decode::<Session>(&mk(json!(now() + 2))).is_ok());
    assert!(matches!(svc.decode::<Session>(&mk(json!("soon"))), Err(JwtError::InvalidClaim("iat"))));
}

#[test]
fn registered_claims_only_payload_is_not_a_session() {
    let svc = service();
    let token = forge(
        Algorithm::HS256,
        Some("primary"),
        &json!({"iat": now(), "exp": now() + 60, "jti": "a.b", "sub": "x", "nbf": now() - 1}),
        SECRET,
    );
    assert!(matches!(svc.decode::<AllOptional>(&token), Err(JwtError::NotASession)));
    assert!(matches!(svc.decode::<Value>(&token), Err(JwtError::NotASession)));
    // One real field is enough.
    let token = forge(Algorithm::HS256, Some("primary"), &json!({"userId": "u1", "exp": now() + 60}), SECRET);
    let decoded = svc.decode::<AllOptional>(&token).unwrap();
    assert_eq!(decoded.session.user_id.as_deref(), Some("u1"));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    display_name: String,
    age: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RichSession {
    user_id: String,
    org_id: Option<String>,
    nickname: Option<String>,
    profile: Profile,
    scopes: Vec<String>,
}

#[test]
fn session_with_option_and_nested_struct_round_trips() {
    let svc = service();
    let rich = RichSession {
        user_id: "u1".into(),
        org_id: Some("o1".into()),
        nickname: None,
        profile: Profile { display_name: "Ada".into(), age: 36 },
        scopes: vec!["read".into(), "write".into()],
    };
    let decoded = svc.decode::<RichSession>(&svc.sign(&rich).unwrap()).unwrap();
    assert_eq!(decoded.session, rich);
    assert!(decoded.jti.is_some());

    // An absent `Option` field is `None`; a nested object's own `exp` is the session's.
    let exp = now() + 60;
    let token = forge_raw(&format!(
        r#"{{"userId":"u2","profile":{{"displayName":"Bo","age":7,"exp":1}},"scopes":[],"exp":{exp}}}"#
    ));
    let decoded = svc.decode::<RichSession>(&token).unwrap();
    assert_eq!(decoded.session.org_id, None);
    assert_eq!(decoded.session.profile, Profile { display_name: "Bo".into(), age: 7 });
    assert_eq!(decoded.expires_at, exp);
}

#[test]
fn escaped_keys_reach_the_session_and_escaped_claims_are_read() {
    let exp = now() + 60;
    let token = forge_raw(&format!(
        r#"{{"user\u0049d":"u1","r\u006fle":"admin","e\u0078p":{exp},"j\u0074i":"sid.nonce","\u0069at":{}}}"#,
        now()
    ));
    let decoded = service().decode::<Session>(&token).unwrap();
    assert_eq!(decoded.session, session());
    assert_eq!(decoded.expires_at, exp);
    assert_eq!(decoded.jti.as_deref(), Some("sid.nonce"));
    assert!(decoded.issued_at.is_some());
    // An escaped `kid` in the header still selects its key.
    let header = b64(br#"{"alg":"HS256","kid":"pr\u0069mary"}"#);
    let message = format!("{header}.{}", token.split('.').nth(1).unwrap());
    let sig =
        jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(SECRET), Algorithm::HS256).unwrap();
    assert_eq!(service().decode::<Session>(&format!("{message}.{sig}")).unwrap().session, session());
    // An escaped registered claim is still not a session field.
    let token = forge_raw(&format!(r#"{{"e\u0078p":{exp},"\u0073ub":"x"}}"#));
    assert!(matches!(service().decode::<AllOptional>(&token), Err(JwtError::NotASession)));
}

#[test]
fn registered_claims_after_session_fields_are_read() {
    let svc = service();
    let iat = now();
    let token =
        forge_raw(&format!(r#"{{"userId":"u1","role":"admin","iat":{iat},"exp":{},"jti":"sid.nonce"}}"#, iat + 60));
    let decoded = svc.decode::<Session>(&token).unwrap();
    assert_eq!(decoded.session, session());
    assert_eq!(decoded.issued_at, Some(iat));
    assert_eq!(decoded.expires_at, iat + 60);
    assert_eq!(decoded.session_id(), Some("sid"));
    // ...and still checked there.
    let token = forge_raw(&format!(r#"{{"userId":"u1","role":"admin","exp":{},"iat":"soon"}}"#, iat + 60));
    assert!(matches!(svc.decode::<Session>(&token), Err(JwtError::InvalidClaim("iat"))));
    let token = forge_raw(r#"{"userId":"u1","role":"admin","iat":1}"#);
    assert!(matches!(svc.decode::<Session>(&token), Err(JwtError::MissingExpiry)));
    // A session whose visitor stops reading early still has the claims after it seen.
    let token = forge_raw(&format!(r#"{{"userId":"u1","exp":{},"jti":"s.n"}}"#, iat + 60));
    let decoded = svc.decode::<()>(&token).unwrap();
    assert_eq!((decoded.expires_at, decoded.jti.as_deref()), (iat + 60, Some("s.n")));
}

#[test]
fn deny_unknown_fields_sessions_never_see_registered_claims() {
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Strict {
        user_id: String,
        role: String,
    }
    let svc = JwtService::builder().hs256_key("primary", SECRET).issuer("pikku").audience("app").build().unwrap();
    let decoded = svc.decode::<Strict>(&svc.sign(&session()).unwrap()).unwrap();
    assert_eq!(decoded.session, Strict { user_id: "u1".into(), role: "admin".into() });

    let payload = |extra: &str| {
        format!(
            r#"{{"nbf":{n},"userId":"u1","sub":"x","iss":"pikku","role":"admin","aud":"app","exp":{e}{extra}}}"#,
            n = now() - 1,
            e = now() + 60
        )
    };
    assert!(svc.decode::<Strict>(&forge_raw(&payload(""))).is_ok());
    assert!(matches!(svc.decode::<Strict>(&forge_raw(&payload(r#","extra":1"#))), Err(JwtError::InvalidPayload)));
}

#[test]
fn session_that_does_not_fit_or_duplicate_claims_are_invalid_payloads() {
    let svc = service();
    let exp = now() + 60;
    for payload in [
        format!(r#"{{"userId":"u1","exp":{exp}}}"#),
        format!(r#"{{"userId":1,"role":"admin","exp":{exp}}}"#),
        format!(r#"{{"userId":"u1","role":"admin","userId":"u2","exp":{exp}}}"#),
        format!(r#"{{"userId":"u1","role":"admin","iat":1,"exp":{exp},"iat":2}}"#),
        format!(r#"{{"jti":"a.b","userId":"u1","role":"admin","exp":{exp},"jti":"c.d"}}"#),
    ] {
        let result = svc.decode::<Session>(&forge_raw(&payload));
        assert!(matches!(result, Err(JwtError::InvalidPayload)), "{payload}: {result:?}");
    }
}

#[test]
fn option_newtype_and_enum_sessions_decode_as_with_flatten() {
    #[derive(Debug, PartialEq, Deserialize)]
    struct Wrapped(Session);
    #[derive(Debug, PartialEq, Deserialize)]
    enum Tagged {
        User { id: String },
    }
    let svc = service();
    let token = svc.sign(&session()).unwrap();
    assert_eq!(svc.decode::<Option<Session>>(&token).unwrap().session, Some(session()));
    assert_eq!(svc.decode::<Wrapped>(&token).unwrap().session, Wrapped(session()));
    let exp = now() + 60;
    let token = forge_raw(&format!(r#"{{"exp":{exp},"User":{{"id":"u1"}},"jti":"s.n"}}"#));
    let decoded = svc.decode::<Tagged>(&token).unwrap();
    assert_eq!(decoded.session, Tagged::User { id: "u1".into() });
    assert_eq!(decoded.jti.as_deref(), Some("s.n"));
}

#[test]
fn jti_of_any_shape_never_panics_and_a_non_string_counts_as_absent() {
    let svc = service();
    let exp = now() + 60;
    let long = "x".repeat(129);
    for (jti, session_id) in [
        (json!(""), Some("")),
        (json!("urn:x"), Some("urn:x")),
        (json!(long), Some(long.as_str())),
        (json!("."), Some("")),
        (json!("a.b.c"), Some("a")),
        (json!("é.ü"), Some("é")),
        (json!(null), None),
    ] {
        let payload = json!({"userId": "u1", "role": "admin", "exp": exp, "jti": jti});
        let decoded = svc.decode::<Session>(&forge(Algorithm::HS256, Some("primary"), &payload, SECRET)).unwrap();
        assert_eq!(decoded.jti.as_deref(), jti.as_str(), "{jti}");
        assert_eq!(decoded.session_id(), session_id, "{jti}");
    }
    // A `jti` that is not a string is another issuer's business: the token is treated as having none.
    for jti in [json!(7), json!(1.5), json!(true), json!(["a"]), json!({"a": "b"})] {
        let payload = json!({"userId": "u1", "role": "admin", "exp": exp, "jti": jti});
        let decoded = svc.decode::<Session>(&forge(Algorithm::HS256, Some("primary"), &payload, SECRET)).unwrap();
        assert_eq!(decoded.jti, None, "{jti}");
        assert_eq!(decoded.session, session());
    }
}

#[test]
fn registered_claim_names_never_reach_the_session() {
    /// A session that (wrongly) names fields after registered claims: they stay empty.
    #[derive(Debug, Default, PartialEq, Deserialize)]
    #[serde(default, rename_all = "camelCase")]
    struct Greedy {
        user_id: String,
        iat: Option<Value>,
        exp: Option<Value>,
        nbf: Option<Value>,
        iss: Option<Value>,
        aud: Option<Value>,
        sub: Option<Value>,
        jti: Option<Value>,
    }
    let svc = JwtService::builder().hs256_key("primary", SECRET).issuer("pikku").audience("app").build().unwrap();
    let payload = json!({
        "userId": "u1", "iat": now(), "exp": now() + 60, "nbf": now() - 1, "iss": "pikku", "aud": "app",
        "sub": "s", "jti": "sid.nonce"
    });
    let decoded = svc.decode::<Greedy>(&forge(Algorithm::HS256, Some("primary"), &payload, SECRET)).unwrap();
    assert_eq!(decoded.session, Greedy { user_id: "u1".into(), ..Greedy::default() });
    // A map session sees only the session's own entries, too.
    let decoded = svc.decode::<serde_json::Map<String, Value>>(&svc.sign(&session()).unwrap()).unwrap();
    assert_eq!(decoded.session.keys().collect::<Vec<_>>(), ["role", "userId"]);
}

#[test]
fn null_exp_or_iat_is_an_invalid_claim_not_a_missing_one() {
    let svc = service();
    let token = forge_raw(r#"{"userId":"u1","role":"admin","exp":null}"#);
    assert!(matches!(svc.decode::<Session>(&token), Err(JwtError::InvalidClaim("exp"))));
    let token = forge_raw(&format!(r#"{{"userId":"u1","role":"admin","exp":{},"iat":null}}"#, now() + 60));
    assert!(matches!(svc.decode::<Session>(&token), Err(JwtError::InvalidClaim("iat"))));
}

#[test]
fn numeric_dates_may_be_fractions_but_not_beyond_i64() {
    let svc = service();
    let iat = now();
    let token = forge_raw(&format!(r#"{{"userId":"u1","role":"admin","iat":{iat}.4,"exp":{}.6}}"#, iat + 60));
    let decoded = svc.decode::<Session>(&token).unwrap();
    assert_eq!((decoded.issued_at, decoded.expires_at), (Some(iat), iat + 61));
    let token = forge_raw(r#"{"userId":"u1","role":"admin","exp":18446744073709551615}"#);
    assert!(matches!(svc.decode::<Session>(&token), Err(JwtError::InvalidClaim("exp"))));
    let token = forge_raw(&format!(r#"{{"userId":"u1","role":"admin","exp":{},"iat":1e300}}"#, iat + 60));
    assert!(matches!(svc.decode::<Session>(&token), Err(JwtError::InvalidClaim("iat"))));
}

#[test]
fn payload_that_is_not_a_json_object_is_invalid() {
    for payload in ["[1,2]", r#""session""#, "null", "7", "{", r#"{"userId":"u1","exp":1}garbage"#] {
        let result = service().decode::<Session>(&forge_raw(payload));
        assert!(matches!(result, Err(JwtError::InvalidPayload)), "{payload}: {result:?}");
    }
}

/// Found by the `signed_claims` fuzz target: `jsonwebtoken` skips an `aud` it cannot parse, so with no
/// audience configured a token naming one with a malformed claim was accepted.
#[test]
fn malformed_aud_is_an_invalid_claim_whether_or_not_an_audience_is_configured() {
    let exp = now() + 60;
    let configured = JwtService::builder().hs256_key("primary", SECRET).audience("app").build().unwrap();
    for aud in ["5", r#"["other",5]"#, r#"["app",5]"#, r#"{"aud":"app"}"#, "true", "[[]]"] {
        let token = forge_raw(&format!(r#"{{"userId":"u1","role":"admin","exp":{exp},"aud":{aud}}}"#));
        let result = service().decode::<Session>(&token);
        assert!(matches!(result, Err(JwtError::InvalidClaim("aud"))), "{aud}: {result:?}");
        assert!(configured.decode::<Session>(&token).is_err(), "{aud} with an audience configured");
    }
    // Well-formed: refused as not ours when none is configured, checked against the configured one.
    let token = |aud: &str| forge_raw(&format!(r#"{{"userId":"u1","role":"admin","exp":{exp},"aud":{aud}}}"#));
    assert!(matches!(service().decode::<Session>(&token(r#""app""#)), Err(JwtError::WrongAudience)));
    assert!(matches!(service().decode::<Session>(&token("[]")), Err(JwtError::WrongAudience)));
    assert!(configured.decode::<Session>(&token(r#"["app","other"]"#)).is_ok());
    // `null` names no audience.
    assert!(service().decode::<Session>(&token("null")).is_ok());
}
