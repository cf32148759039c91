//! `PIKKU_JWT_KID`: the signing key's id, so the demo can share a secret with a Pikku TypeScript service
//! that names it differently (docs/auth-demo.md: Running, Credentials).
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

mod support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pikku::auth::JwtService;
use serde_json::json;
use support::*;

#[tokio::test]
async fn with_pikku_jwt_kid_the_demo_signs_under_that_kid_and_accepts_tokens_naming_it() {
    let s = Server::start_with(&[("PIKKU_JWT_KID", "other")]);
    let (token, cookie) = s.login(BOB).await;
    for minted in [&token, &cookie] {
        let (header, _) = token_parts(minted);
        assert_eq!(header["kid"], "other", "{header}");
    }
    s.get("/me").bearer(&token).send().await.assert_status(200);

    // A service holding the same secret under the id "other" (as a TypeScript service's JoseJWTService
    // would) mints a token the demo accepts.
    let theirs = JwtService::builder().hs256_key("other", SECRET).build().unwrap();
    let session = auth_demo::UserSession { user_id: "u1".into(), role: "admin".into() };
    let minted = theirs.encode(Duration::from_secs(600), &session).unwrap();
    assert_eq!(token_parts(&minted).0["kid"], "other");
    let me = s.get("/admin").bearer(&minted).send().await;
    me.assert_status(200);
    assert_eq!(me.json_value(), json!({"userId": "u1", "role": "admin"}));
    // So is one without jti or kid, the way Pikku mints them.
    let pikku_style =
        forger().kid(None).forge(&json!({"userId": "u2", "role": "user", "iat": now(), "exp": now() + 600}));
    s.get("/me").bearer(&pikku_style).send().await.assert_status(200);

    // The default id now names no key: refused, although the secret is the same.
    let primary =
        forger().kid(Some("primary")).forge(&json!({"userId": "u2", "role": "user", "iat": now(), "exp": now() + 600}));
    s.get("/me").bearer(&primary).send().await.assert_error(401, "InvalidSessionError");
}

#[tokio::test]
async fn without_pikku_jwt_kid_the_kid_is_primary() {
    let s = Server::start();
    let (token, _) = s.login(BOB).await;
    assert_eq!(token_parts(&token).0["kid"], "primary");
}

/// Runs the demo with `PIKKU_JWT_KID` set to `kid` and expects it to refuse to start: returns stderr.
fn refused_at_start(kid: &OsStr) -> String {
    let mut child = Command::new(BIN)
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("PIKKU_JWT_SECRET", SECRET)
        .env("PIKKU_JWT_KID", kid)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start auth-demo");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("PIKKU_JWT_KID={kid:?}: still running after {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!status.success(), "PIKKU_JWT_KID={kid:?} was accepted: {stdout}");
    assert!(!stdout.contains("listening"), "{stdout}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_empty_or_insane_kid_is_refused_at_start_saying_why() {
    let long = "k".repeat(129);
    let cases: [(&OsStr, &str); 6] = [
        (OsStr::new(""), "empty"),
        (OsStr::new("two words"), "printable ASCII"),
        (OsStr::new("line\nbreak"), "printable ASCII"),
        (OsStr::new("clé"), "printable ASCII"),
        (OsStr::from_bytes(b"\xff\xfe"), "printable ASCII"),
        (OsStr::new(&long), "128"),
    ];
    for (kid, why) in cases {
        let stderr = refused_at_start(kid);
        assert!(stderr.contains("PIKKU_JWT_KID"), "{kid:?}: {stderr}");
        assert!(stderr.contains(why), "{kid:?}: says why ({why}): {stderr}");
    }
}
