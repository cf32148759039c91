//! `Authorization` headers on `GET /me` and `POST /logout` through the demo's pipeline: raw bytes, or a
//! scheme, separator, token and suffix where the token may be a valid bearer token from a real login,
//! over one or more header lines, optionally beside a cookie. Every response satisfies
//! `pikku_fuzz::demo::check`: no 5xx, JSON errors, and a 2xx only when the request carries a valid
//! credential; a malformed or invalid bearer credential is a 401 `InvalidSessionError` with
//! `WWW-Authenticate: Bearer error="invalid_token"` (docs/auth-strategies.md).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pikku::RequestBody;
use pikku_fuzz::demo::{append, check, demo, AuthorizationValue, CookieValue, Sent, HOST};

#[derive(Arbitrary, Debug)]
struct Input {
    logout: bool,
    /// One `Authorization` header line each.
    authorizations: Vec<AuthorizationValue>,
    cookie: Option<CookieValue>,
}

fuzz_target!(|input: Input| {
    let demo = demo();
    let credentials = demo.credentials();
    let (method, path) = if input.logout { ("POST", "/logout") } else { ("GET", "/me") };
    let mut request = http::Request::builder().method(method).uri(path).header("host", HOST);
    let headers = request.headers_mut().expect("a valid builder");
    for authorization in input.authorizations.iter().take(4) {
        append(headers, "authorization", &authorization.bytes(&credentials));
    }
    if let Some(cookie) = &input.cookie {
        append(headers, "cookie", &cookie.bytes(&credentials));
    }
    let request = request.body(RequestBody::Buffered(Default::default())).expect("a valid request");
    let sent = Sent::of(&request);
    let answer = demo.send(request);
    check(&sent, &answer, &credentials);

    // One bearer credential that is not a valid token: refused outright, whatever the route.
    let bearer: Vec<&[u8]> = sent
        .headers()
        .get_all("authorization")
        .iter()
        .map(|v| v.as_bytes())
        // The scheme is what precedes the first space (RFC 7235 §2.1).
        .filter(|v| v.split(|&b| b == b' ').next().is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"bearer")))
        .collect();
    if let [only] = bearer[..] {
        let valid =
            [&credentials.alice_bearer, &credentials.bob_bearer, &credentials.alice_cookie, &credentials.bob_cookie]
                .iter()
                .any(|token| only.len() == 7 + token.len() && only[7..] == *token.as_bytes() && only[6] == b' ');
        if !valid {
            assert_eq!(
                answer.status,
                401,
                "an invalid bearer credential {:?}: {answer:?}",
                String::from_utf8_lossy(only)
            );
            let challenge = answer.headers.get("www-authenticate").map(|v| v.as_bytes());
            assert_eq!(challenge, Some(&br#"Bearer error="invalid_token""#[..]), "{answer:?}");
        }
    }
});
