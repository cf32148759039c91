//! Whole requests through the demo's pipeline: a method, a path from the demo's routes or arbitrary
//! segments, a query, a few headers among `Cookie`, `Authorization`, `x-api-key`, `Origin`,
//! `Sec-Fetch-Site`, `Content-Type`, `Content-Length`, `Host` and `x-request-id`, and a body. Every
//! response satisfies `pikku_fuzz::demo::check`: no 5xx, JSON errors carrying the request id, no 2xx on a
//! session route without a valid credential, and none for a cross-site cookie-only unsafe request (CSRF).
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use pikku::RequestBody;
use pikku_fuzz::demo::{append, check, demo, ArbJson, AuthorizationValue, CookieValue, Credentials, Sent, Text, HOST};
use serde_json::json;

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const ROUTES: [&str; 9] =
    ["/health", "/login", "/me", "/logout", "/logout/all", "/admin", "/users/u1/notes", "/users/u2/notes", "/"];

/// What a URI may not hold unescaped; `%`, `/`, `?`, `&` and `=` stay as given, so malformed escapes and
/// odd splits reach the router and the query parser.
const ESCAPE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'<').add(b'>').add(b'`').add(b'{').add(b'}');

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    path: Path,
    query: Vec<(Text, Option<Text>)>,
    headers: Vec<Header>,
    body: Body,
}

#[derive(Arbitrary, Debug)]
enum Path {
    Route(u8),
    /// `/users/<segment>/notes`.
    Notes(Text),
    /// A route with more segments after it.
    Longer(u8, Vec<Text>),
    /// Raw bytes (kept only when they form a valid URI path).
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Header {
    Cookie(CookieValue),
    Authorization(AuthorizationValue),
    ApiKey(Text),
    /// `http://127.0.0.1:3000` (the request's own), `https://evil.example`, `null`, or other bytes.
    Origin(u8, Vec<u8>),
    /// `same-origin`, `same-site`, `cross-site`, `none`, or other bytes.
    SecFetchSite(u8, Vec<u8>),
    /// `application/json`, `application/problem+json`, `text/plain`, or other bytes.
    ContentType(u8, Vec<u8>),
    /// The body's length, 0, over the 2 MiB limit, or other bytes.
    ContentLength(u8, Vec<u8>),
    /// Another `Host` (the default is `127.0.0.1:3000`), or none.
    Host(Option<Vec<u8>>),
    RequestId(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Body {
    Empty,
    Raw(Vec<u8>),
    /// `{"email","password"}`: alice's, bob's, or others.
    Login(u8, Text),
    /// `{"text"}` and maybe a `userId` (which must agree with the path's).
    Note(Text, Option<Text>),
    Json(ArbJson),
}

fn text(t: &Text, c: &Credentials) -> String {
    String::from_utf8_lossy(&t.bytes(c)).into_owned()
}

fn choose<'a>(options: &[&'a [u8]], i: u8, other: &'a [u8]) -> &'a [u8] {
    options.get(usize::from(i)).copied().unwrap_or(other)
}

fn uri(input: &Input, c: &Credentials) -> Option<String> {
    let segment = |t: &Text| utf8_percent_encode(&text(t, c), ESCAPE).to_string();
    let mut uri = match &input.path {
        Path::Route(i) => ROUTES[usize::from(*i) % ROUTES.len()].to_owned(),
        Path::Notes(user) => format!("/users/{}/notes", segment(user)),
        Path::Longer(i, more) => {
            let mut path = ROUTES[usize::from(*i) % ROUTES.len()].to_owned();
            for s in more.iter().take(4) {
                path.push('/');
                path.push_str(&segment(s));
            }
            path
        }
        Path::Raw(bytes) => {
            let path = String::from_utf8(bytes.clone()).ok()?;
            if !path.starts_with('/') || path.contains('?') {
                return None;
            }
            path
        }
    };
    for (i, (key, value)) in input.query.iter().take(6).enumerate() {
        uri.push(if i == 0 { '?' } else { '&' });
        uri.push_str(&segment(key));
        if let Some(value) = value {
            uri.push('=');
            uri.push_str(&segment(value));
        }
    }
    Some(uri)
}

fn body(body: &Body, c: &Credentials) -> Vec<u8> {
    match body {
        Body::Empty => Vec::new(),
        Body::Raw(bytes) => bytes.clone(),
        Body::Login(who, password) => {
            let (email, right) = match who % 3 {
                0 => ("alice@example.com", "correct horse"),
                1 => ("bob@example.com", "battery staple"),
                _ => ("mallory@example.com", "guess"),
            };
            let password = if who & 0x80 == 0 { right.to_owned() } else { text(password, c) };
            serde_json::to_vec(&json!({"email": email, "password": password})).unwrap()
        }
        Body::Note(note, user) => {
            let mut value = json!({"text": text(note, c)});
            if let Some(user) = user {
                value["userId"] = text(user, c).into();
            }
            serde_json::to_vec(&value).unwrap()
        }
        Body::Json(json) => json.0.to_string().into_bytes(),
    }
}

fuzz_target!(|input: Input| {
    let demo = demo();
    let c = demo.credentials();
    let Some(uri) = uri(&input, &c) else { return };
    let method = METHODS[usize::from(input.method) % METHODS.len()];
    let Ok(mut request) = http::Request::builder().method(method).uri(uri).body(()) else { return };
    let body = body(&input.body, &c);
    let headers = request.headers_mut();

    let mut host = Some(HOST.as_bytes().to_vec());
    let mut content_length = (!body.is_empty()).then(|| body.len().to_string().into_bytes());
    let mut content_type = (!body.is_empty()).then(|| b"application/json".to_vec());
    for header in input.headers.iter().take(8) {
        match header {
            Header::Cookie(value) => append(headers, "cookie", &value.bytes(&c)),
            Header::Authorization(value) => append(headers, "authorization", &value.bytes(&c)),
            Header::ApiKey(value) => append(headers, "x-api-key", &value.bytes(&c)),
            Header::Origin(i, other) => {
                let options: [&[u8]; 4] =
                    [b"http://127.0.0.1:3000", b"https://evil.example", b"null", b"http://127.0.0.1:3001"];
                append(headers, "origin", choose(&options, *i, other));
            }
            Header::SecFetchSite(i, other) => {
                let options: [&[u8]; 4] = [b"same-origin", b"same-site", b"cross-site", b"none"];
                append(headers, "sec-fetch-site", choose(&options, *i, other));
            }
            Header::ContentType(i, other) => {
                let options: [&[u8]; 4] = [b"application/json", b"application/problem+json", b"text/plain", b""];
                content_type = Some(choose(&options, *i, other).to_vec());
            }
            Header::ContentLength(i, other) => {
                let options = [body.len().to_string().into_bytes(), b"0".to_vec(), b"2097153".to_vec()];
                content_length = Some(options.get(usize::from(*i)).cloned().unwrap_or_else(|| other.clone()));
            }
            Header::Host(value) => host.clone_from(value),
            Header::RequestId(value) => append(headers, "x-request-id", value),
        }
    }
    for (name, value) in [("host", host), ("content-length", content_length), ("content-type", content_type)] {
        if let Some(value) = value {
            append(headers, name, &value);
        }
    }
    let request = request.map(|()| RequestBody::Buffered(Bytes::from(body)));
    let sent = Sent::of(&request);
    let request_id: Vec<&[u8]> = sent.headers().get_all("x-request-id").iter().map(|v| v.as_bytes()).collect();
    let answer = demo.send(request);
    check(&sent, &answer, &c);

    // A sane client request id (1 to 48 visible ASCII characters) is echoed (docs/request-pipeline.md).
    if let [id] = request_id[..] {
        if (1..=48).contains(&id.len()) && id.iter().all(|b| b.is_ascii_graphic()) {
            assert_eq!(answer.headers.get("x-request-id").map(|v| v.as_bytes()), Some(id), "{answer:?}");
        }
    }
});
