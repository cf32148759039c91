//! Micro-benchmarks of token verification, each beside the same work written by hand on jsonwebtoken:
//!
//! * `jwt_decode/*`: `JwtService::decode` of an HS256 token vs `jsonwebtoken::decode` of the same token
//!   into a plain struct (`Baseline::decode` of `bench/baseline`: HS256 pinned, `exp` required, 5 s leeway).
//! * `cookie_verify/*`: a `Cookie:` header with four cookies, the `session` one holding the token. The
//!   framework side runs the real cookie strategy (`auth_cookie`, with an in-memory session store for the
//!   revocation check) as a one-middleware onion in front of a stub endpoint, so it also pays for the
//!   middleware call, the boxed futures and the stub response; the hand-written side is `bench/baseline`'s
//!   own code: split the header, decode the token, check the revocation set.
//!
//! `cargo bench -p pikku-auth --bench jwt`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::header;
use pikku_auth::{auth_cookie, AuthServices, CookieOptions, InMemorySessionStore, JwtService, SessionStore};
use pikku_baseline::Baseline;
use pikku_runtime::{HeaderMap, HeaderValue, Method, Next, Request, Response, SharedMiddleware, TestEndpoint};
use serde::{Deserialize, Serialize};

const SECRET: &[u8] = b"benchmark-secret-benchmark-secret-0123456789";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    user_id: String,
    role: String,
}

struct Services {
    jwt: JwtService,
    sessions: InMemorySessionStore,
}

impl AuthServices for Services {
    fn jwt(&self) -> &JwtService {
        &self.jwt
    }

    fn session_store(&self) -> Option<&dyn SessionStore> {
        Some(&self.sessions)
    }
}

fn session() -> Session {
    Session { user_id: "u1".into(), role: "admin".into() }
}

fn jwt_decode(c: &mut Criterion) {
    let jwt = JwtService::hs256(SECRET).expect("valid secret");
    let token = jwt.encode(Duration::from_secs(3600), &session()).expect("token");
    let hand = Baseline::new(SECRET);
    assert_eq!(jwt.decode::<Session>(&token).expect("framework decodes").session.user_id, "u1");
    let claims = hand.decode(&token).expect("hand-written decodes");
    assert_eq!((claims.user_id.as_str(), claims.role.as_str()), ("u1", "admin"));

    let mut group = c.benchmark_group("jwt_decode");
    group.bench_function("pikku", |b| b.iter(|| jwt.decode::<Session>(black_box(&token)).expect("valid")));
    group.bench_function("baseline", |b| b.iter(|| hand.decode(black_box(&token)).expect("valid")));
    group.finish();
}

fn cookie_verify(c: &mut Criterion) {
    let services = Services { jwt: JwtService::hs256(SECRET).expect("valid secret"), sessions: Default::default() };
    let token = services.jwt.encode(Duration::from_secs(3600), &session()).expect("token");
    let mut headers = HeaderMap::new();
    let cookie = format!("theme=dark; lang=en-GB; session={token}; _ga=GA1.2.1234567890.1700000000");
    headers.insert(header::COOKIE, HeaderValue::try_from(cookie).expect("header value"));

    // One cookie strategy; the stub endpoint answers 200 when the strategy established a session.
    let chain: [SharedMiddleware<Services, Session>; 1] =
        [auth_cookie(CookieOptions::new("session", Duration::from_secs(3600)))];
    let endpoint = TestEndpoint::new(|request: &Request<Session>| {
        let mut response = Response::new(Default::default());
        if request.session().is_none() {
            *response.status_mut() = http::StatusCode::UNAUTHORIZED;
        }
        response
    });
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let run = |request| runtime.block_on(Next::for_test(&services, &chain, &endpoint).run(request));
    let response = run(Request::for_test(Method::GET, "/me", headers.clone()));
    assert_eq!(response.status(), 200, "the framework accepts the cookie");
    let hand = Baseline::new(SECRET);
    let verify_cookie = |headers: &HeaderMap| Baseline::session_cookie(headers).and_then(|token| hand.verify(token));
    assert!(verify_cookie(&headers).is_some(), "the hand-written code accepts the cookie");

    let mut group = c.benchmark_group("cookie_verify");
    group.bench_function("pikku", |b| {
        b.iter_batched(|| Request::for_test(Method::GET, "/me", headers.clone()), &run, BatchSize::SmallInput)
    });
    group.bench_function("baseline", |b| {
        b.iter_batched(
            || headers.clone(),
            |headers| runtime.block_on(async { verify_cookie(&headers).expect("valid") }),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, jwt_decode, cookie_verify);
criterion_main!(benches);
