//! `Cookie` headers on `GET /me` and `POST /logout` through the demo's pipeline: raw bytes, or pairs
//! mixing garbage with a valid session cookie from a real login (`session=garbage; session=<valid>`,
//! quoted, repeated, over several header lines). Every response satisfies `pikku_fuzz::demo::check`: no
//! 5xx, JSON errors, and a 2xx only when the request carries a valid credential.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pikku::RequestBody;
use pikku_fuzz::demo::{append, check, demo, CookieValue, Sent, HOST};

#[derive(Arbitrary, Debug)]
struct Input {
    logout: bool,
    /// One `Cookie` header line each.
    cookies: Vec<CookieValue>,
}

fuzz_target!(|input: Input| {
    let demo = demo();
    let credentials = demo.credentials();
    let (method, path) = if input.logout { ("POST", "/logout") } else { ("GET", "/me") };
    let mut request = http::Request::builder().method(method).uri(path).header("host", HOST);
    for cookie in input.cookies.iter().take(4) {
        append(request.headers_mut().expect("a valid builder"), "cookie", &cookie.bytes(&credentials));
    }
    let request = request.body(RequestBody::Buffered(Default::default())).expect("a valid request");
    let sent = Sent::of(&request);
    let answer = demo.send(request);
    check(&sent, &answer, &credentials);
});
