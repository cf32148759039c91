//! The axum application with the pikku-rs application nested in it, driven in-process with
//! `tower::ServiceExt::oneshot`: every request goes through axum's router, body type and layers.

use std::io::Read as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use axum_nest::{app, router, Services, BODY_LIMIT, REPORT_TIMEOUT};
use bytes::Bytes;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;

/// Reports build quickly unless a test says otherwise.
fn application(report_work: Duration) -> Router {
    router(app().build(Services::new(report_work)).expect("the application starts"))
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Bytes,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().expect("header text"))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {:?}", self.status, String::from_utf8_lossy(&self.body)))
    }

    /// pikku-rs's JSON error, through axum: the status, the name, and `errorId` equal to `x-request-id`.
    #[track_caller]
    fn assert_error(&self, status: u16, name: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{:?}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.header("content-type"), Some("application/json"));
        let body = self.json();
        assert_eq!(body["name"], name, "{body}");
        assert!(body["errorId"].as_str().is_some_and(|id| Some(id) == self.header("x-request-id")), "{body}");
        body
    }
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = tokio::time::timeout(Duration::from_secs(10), app.clone().oneshot(request))
        .await
        .expect("an answer within 10 s")
        .expect("axum's router is infallible");
    let (head, body) = response.into_parts();
    let body = body.collect().await.expect("the body").to_bytes();
    Answer { status: head.status, headers: head.headers, body }
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("a request")
}

fn post_json(uri: &str) -> axum::http::request::Builder {
    Request::post(uri).header(header::CONTENT_TYPE, "application/json")
}

fn gunzip(bytes: &[u8]) -> Value {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut text).expect("gzip");
    serde_json::from_str(&text).expect("JSON inside")
}

#[tokio::test]
async fn axum_routes_and_pikku_routes_side_by_side() {
    let app = application(Duration::ZERO);
    let home = send(&app, get("/")).await;
    assert_eq!(home.status, 200);
    assert!(String::from_utf8_lossy(&home.body).starts_with("axum's own route"));
    assert_eq!(home.header("x-request-id"), None, "axum's route is axum's");

    let health = send(&app, get("/api/health")).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json(), json!({"ok": true}));
    assert!(health.header("x-request-id").is_some());
}

#[tokio::test]
async fn pikku_errors_come_through_axum_as_json() {
    let app = application(Duration::ZERO);
    send(&app, get("/api/me")).await.assert_error(401, "MissingSessionError");
    send(&app, get("/api/nowhere")).await.assert_error(404, "NotFoundError");
    let wrong = send(&app, post_json("/api/notes").body(Body::from(r#"{"text": 5}"#)).unwrap()).await;
    let body = wrong.assert_error(422, "UnprocessableContentError");
    assert_eq!(body["payload"]["field"], "text");
    // Outside /api, axum's own 404.
    let axum_404 = send(&app, get("/nowhere")).await;
    assert_eq!((axum_404.status.as_u16(), axum_404.body.len()), (404, 0));
}

#[tokio::test]
async fn gzip_is_negotiated_around_the_whole_application() {
    let app = application(Duration::ZERO);
    let plain = send(&app, get("/api/reports/daily")).await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    let request =
        Request::get("/api/reports/daily").header(header::ACCEPT_ENCODING, "gzip").body(Body::empty()).unwrap();
    let gzipped = send(&app, request).await;
    assert_eq!(gzipped.status, 200);
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert!(gzipped.body.len() < plain.body.len() / 5, "{} of {} bytes", gzipped.body.len(), plain.body.len());
    assert_eq!(gunzip(&gzipped.body), plain.json());
    assert_eq!(plain.json()["lines"].as_array().map(Vec::len), Some(200));
}

#[tokio::test]
async fn a_slow_report_times_out_with_504_json() {
    let app = application(Duration::from_secs(30));
    let started = Instant::now();
    let request = Request::get("/api/reports/daily").header("x-request-id", "report-1").body(Body::empty()).unwrap();
    let timed_out = send(&app, request).await;
    let body = timed_out.assert_error(504, "GatewayTimeoutError");
    assert_eq!(body["errorId"], "report-1");
    let waited = started.elapsed();
    assert!(waited >= REPORT_TIMEOUT - Duration::from_millis(50), "{waited:?}");
    assert!(waited < REPORT_TIMEOUT + Duration::from_secs(3), "{waited:?}");
    // Other routes have no such timeout layer.
    assert_eq!(send(&app, get("/api/health")).await.status, 200);
}

#[tokio::test]
async fn a_body_in_axums_type_reaches_the_function_with_the_client_address() {
    let app = application(Duration::ZERO);
    let mut request = post_json("/api/notes").body(Body::from(r#"{"text":"hello"}"#)).unwrap();
    // What `into_make_service_with_connect_info` puts there when axum serves a socket.
    request.extensions_mut().insert(ConnectInfo("203.0.113.9:41000".parse::<SocketAddr>().unwrap()));
    let received = send(&app, request).await;
    assert_eq!(received.status, 200, "{:?}", received.body);
    assert_eq!(received.json(), json!({"length": 5, "clientAddr": "203.0.113.9"}));

    // A streamed body, without a declared length.
    let pieces = ["{\"te", "xt\":\"stre", "amed\"}"].map(|piece| Ok::<_, std::io::Error>(Bytes::from(piece)));
    let body = Body::from_stream(futures_util::stream::iter(pieces));
    let streamed = send(&app, post_json("/api/notes").body(body).unwrap()).await;
    assert_eq!(streamed.json(), json!({"length": 8, "clientAddr": null}));
}

#[tokio::test]
async fn the_body_limit_applies_to_axums_body() {
    let app = application(Duration::ZERO);
    let oversize = format!(r#"{{"text":"{}"}}"#, "a".repeat(BODY_LIMIT));
    let declared =
        post_json("/api/notes").header(header::CONTENT_LENGTH, oversize.len()).body(Body::from(oversize.clone()));
    send(&app, declared.unwrap()).await.assert_error(413, "PayloadTooLargeError");
    // Streamed past the limit without a declared length.
    let pieces = oversize
        .into_bytes()
        .chunks(1024)
        .map(|piece| Ok::<_, std::io::Error>(Bytes::copy_from_slice(piece)))
        .collect::<Vec<_>>();
    let body = Body::from_stream(futures_util::stream::iter(pieces));
    send(&app, post_json("/api/notes").body(body).unwrap()).await.assert_error(413, "PayloadTooLargeError");
}

#[tokio::test]
async fn the_session_cookie_a_function_sets_comes_back_through_axum() {
    let app = application(Duration::ZERO);
    let login = send(&app, post_json("/api/login").body(Body::from(r#"{"name":"ada"}"#)).unwrap()).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    let set_cookie = login.header("set-cookie").expect("the session cookie");
    assert!(set_cookie.starts_with("session="), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    let pair = set_cookie.split(';').next().expect("name=value");

    let request = Request::get("/api/me").header(header::COOKIE, pair).body(Body::empty()).unwrap();
    let me = send(&app, request).await;
    assert_eq!((me.status.as_u16(), me.json()), (200, json!({"name": "ada"})));
}
