//! CORS from `PIKKU_CORS_ORIGINS`, over real HTTP (docs/auth-demo.md: Running, "PIKKU_CORS_ORIGINS"):
//! preflights on every route without a session and before authentication, the headers on actual responses
//! errors included, allowed origins passing the CSRF check, nothing without the variable, and an invalid
//! value refused at start.

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pikku::Method;
use serde_json::json;
use support::*;

const APP: &str = "https://app.example";
const DEV: &str = "http://localhost:5173";
const ORIGINS: &str = " https://app.example, ,http://localhost:5173 ,";
const EVIL: &str = "https://evil.example";

fn start_with_cors() -> Server {
    Server::start_with(&[("PIKKU_CORS_ORIGINS", ORIGINS)])
}

/// Every route of the contract, and a path that is none.
const ROUTES: [(&str, &str); 9] = [
    ("GET", "/health"),
    ("POST", "/login"),
    ("GET", "/me"),
    ("POST", "/logout"),
    ("POST", "/logout/all"),
    ("GET", "/admin"),
    ("POST", "/users/u1/notes"),
    ("GET", "/users/u1/notes?limit=5"),
    ("DELETE", "/not/a/route"),
];

fn assert_no_cors_header(response: &TestResponse, what: &str) {
    for (name, _) in response.headers() {
        assert!(!name.as_str().starts_with("access-control-"), "{what}: {name}");
    }
}

fn assert_actual_cors(response: &TestResponse, origin: &str, what: &str) {
    assert_eq!(response.header("access-control-allow-origin"), Some(origin), "{what}");
    assert_eq!(response.header("access-control-allow-credentials"), Some("true"), "{what}");
    assert!(response.header_all("vary").iter().any(|v| v.eq_ignore_ascii_case("origin")), "{what}");
    assert_eq!(response.header("access-control-expose-headers"), Some("x-request-id"), "{what}");
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered_on_every_route_before_authentication() {
    let s = start_with_cors();
    for (method, path) in ROUTES {
        for origin in [APP, DEV] {
            let what = format!("{origin}: preflight for {method} {path}");
            let response = s
                .request(Method::OPTIONS, path)
                .header("origin", origin)
                .header("access-control-request-method", method)
                .header("access-control-request-headers", "content-type,authorization,x-api-key")
                // A bad cookie would be removed by the cookie strategy: it must not run.
                .cookie("session", "not-a-jwt")
                .send()
                .await;
            response.assert_status(204);
            assert_eq!(response.header("access-control-allow-origin"), Some(origin), "{what}");
            assert_eq!(response.header("access-control-allow-credentials"), Some("true"), "{what}");
            let methods = response.header("access-control-allow-methods").unwrap_or_default();
            assert!(methods.split(", ").any(|m| m == method), "{what}: {methods}");
            let headers = response.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
            for requested in ["content-type", "authorization", "x-api-key"] {
                assert!(headers.split(", ").any(|h| h == requested), "{what}: {requested} not in {headers}");
            }
            assert_eq!(response.header_all("vary"), ["Origin"], "{what}");
            assert!(response.header("set-cookie").is_none(), "{what}: authentication ran");
            assert!(response.header("www-authenticate").is_none(), "{what}");
            assert!(response.header("x-request-id").is_some(), "{what}");
        }
    }
}

#[tokio::test]
async fn a_preflight_from_another_origin_gets_no_allow_header() {
    let s = start_with_cors();
    for origin in [EVIL, "http://app.example", "https://localhost:5173", "null"] {
        let response = s
            .request(Method::OPTIONS, "/me")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
            .await;
        response.assert_status(204);
        assert_no_cors_header(&response, origin);
        assert_eq!(response.header_all("vary"), ["Origin"], "{origin}");
    }
}

#[tokio::test]
async fn actual_responses_to_an_allowed_origin_carry_the_cors_headers_errors_included() {
    let s = start_with_cors();
    let response =
        s.post("/login").header("origin", APP).json(&json!({"email": ALICE.0, "password": ALICE.1})).send().await;
    response.assert_status(200);
    assert_actual_cors(&response, APP, "login");
    let token = response.json_value()["token"].as_str().expect("a token").to_owned();
    let (bob, _) = s.login(BOB).await;

    let checks = [
        ("health", s.get("/health").header("origin", DEV).send().await, 200),
        ("me", s.get("/me").header("origin", APP).bearer(&token).send().await, 200),
        ("me without a session", s.get("/me").header("origin", APP).send().await, 401),
        ("bad bearer", s.get("/me").header("origin", APP).bearer("not-a-jwt").send().await, 401),
        ("admin as bob", s.get("/admin").header("origin", APP).bearer(&bob).send().await, 403),
        ("unknown path", s.get("/not/a/route").header("origin", APP).send().await, 404),
        ("wrong method", s.delete("/me").header("origin", APP).send().await, 405),
        ("bad note", s.post("/users/u1/notes").header("origin", APP).bearer(&token).json(&json!({})).send().await, 422),
    ];
    for (what, response, status) in checks {
        let origin = if what == "health" { DEV } else { APP };
        response.assert_status(status);
        assert_actual_cors(&response, origin, what);
    }

    let other = s.get("/health").header("origin", EVIL).send().await;
    other.assert_status(200);
    assert_no_cors_header(&other, "another origin");
    let none = s.get("/health").send().await;
    assert_no_cors_header(&none, "no Origin");
    assert!(none.header("vary").is_none());
}

#[tokio::test]
async fn an_allowed_origin_passes_the_csrf_check_and_another_does_not() {
    let s = start_with_cors();
    let (_, cookie) = s.login(ALICE).await;
    let post = |origin: &'static str| {
        s.post("/users/u1/notes")
            .cookie("session", &cookie)
            .header("origin", origin)
            .header("sec-fetch-site", "cross-site")
            .json(&json!({"text": "from the front-end"}))
    };
    for origin in [APP, DEV] {
        let response = post(origin).send().await;
        assert_eq!(response.status(), 200, "{origin}: {}", response.text());
        assert_eq!(response.json_value()["userId"], "u1");
        assert_actual_cors(&response, origin, origin);
    }
    let refused = post(EVIL).send().await;
    refused.assert_error(403, "ForbiddenError");
    assert_no_cors_header(&refused, "another origin");
}

#[tokio::test]
async fn without_the_variable_no_cors_header_is_sent() {
    let s = Server::start();
    let preflight = s
        .request(Method::OPTIONS, "/me")
        .header("origin", APP)
        .header("access-control-request-method", "GET")
        .send()
        .await;
    // Routed as any OPTIONS: `/me` answers GET only.
    preflight.assert_error(405, "MethodNotAllowedError");
    assert_no_cors_header(&preflight, "preflight");
    for (path, status) in [("/health", 200), ("/me", 401), ("/not/a/route", 404)] {
        let response = s.get(path).header("origin", APP).send().await;
        response.assert_status(status);
        assert_no_cors_header(&response, path);
        assert!(response.header("vary").is_none(), "{path}");
    }
    // And the CSRF check knows no other origin.
    let (_, cookie) = s.login(ALICE).await;
    let response = s
        .post("/users/u1/notes")
        .cookie("session", &cookie)
        .header("origin", APP)
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"text": "forged"}))
        .send()
        .await;
    response.assert_error(403, "ForbiddenError");
}

/// Runs the binary with `args` and `PIKKU_CORS_ORIGINS=origins` until it exits (bounded), returning whether
/// it succeeded, its stdout and its stderr.
fn run(args: &[&str], origins: &str) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("PIKKU_JWT_SECRET", SECRET)
        .env("PIKKU_CORS_ORIGINS", origins)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start auth-demo");
    let drain = |mut stream: Box<dyn Read + Send>| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stream.read_to_string(&mut text);
            let _ = tx.send(text);
        });
        rx
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for auth-demo") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("auth-demo {args:?} with PIKKU_CORS_ORIGINS={origins:?} did not exit within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (status.success(), stdout.recv_timeout(WAIT).unwrap_or_default(), stderr.recv_timeout(WAIT).unwrap_or_default())
}

#[test]
fn an_invalid_origin_refuses_to_start_naming_the_variable() {
    for (origins, culprit) in [
        ("https://app.example, app.example", "app.example"),
        ("https://app.example/path", "https://app.example/path"),
        ("*", "*"),
    ] {
        for args in [&[][..], &["info", "middleware"][..]] {
            let (success, stdout, stderr) = run(args, origins);
            assert!(!success, "{origins:?} {args:?}: started\n{stdout}");
            assert!(!stdout.contains("listening"), "{stdout}");
            assert!(stderr.contains("PIKKU_CORS_ORIGINS"), "{origins:?}: {stderr}");
            assert!(stderr.contains(&format!("`{culprit}`")), "{origins:?}: names the origin: {stderr}");
            assert!(stderr.contains("scheme://host[:port]"), "{origins:?}: says what to write: {stderr}");
        }
    }
}

#[test]
fn info_middleware_shows_the_cors_configuration() {
    // `--wide`: the configuration on the row's one line (by default it wraps at 120 columns).
    let (success, stdout, stderr) = run(&["info", "middleware", "--verbose", "--wide"], ORIGINS);
    assert!(success, "{stderr}");
    let row = stdout.lines().find(|line| line.starts_with("cors ")).unwrap_or_else(|| panic!("no cors row:\n{stdout}"));
    for part in ["before routing", "origins=https://app.example http://localhost:5173", "credentials=true"] {
        assert!(row.contains(part), "{part} in {row}");
    }
}
