//! What the benchmarks share: the demo server and the hand-written baseline built with one secret, a token
//! for alice, and the three scenarios' requests. Included by the benches and `examples/request_loop.rs`.

use std::time::Duration;

use auth_demo::{Services, UserSession};
use bytes::Bytes;
use pikku::auth::JwtService;
use pikku::{RequestBody, Server};
use pikku_baseline::Baseline;

const SECRET: &str = "benchmark-secret-benchmark-secret-0123456789";

/// The two servers under comparison and a valid token.
pub(crate) struct Fixture {
    pub server: Server<Services, UserSession>,
    pub baseline: Baseline,
    pub token: String,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let jwt = auth_demo::demo_jwt("primary", Some(SECRET.as_bytes())).expect("valid secret");
        let token = Self::token(&jwt);
        let server = auth_demo::app().build(Services::with_jwt(jwt)).expect("the demo builds");
        Self { server, baseline: Baseline::new(SECRET.as_bytes()), token }
    }

    /// The demo with its session store and login throttle in the Redis at `url`.
    #[allow(dead_code)] // only `request_loop` measures the Redis store
    pub(crate) async fn with_redis(url: &str) -> Self {
        let jwt = auth_demo::demo_jwt("primary", Some(SECRET.as_bytes())).expect("valid secret");
        let token = Self::token(&jwt);
        let services = Services::with_redis(jwt, url).await.expect("connect to Redis");
        let server = auth_demo::app().build(services).expect("the demo builds");
        Self { server, baseline: Baseline::new(SECRET.as_bytes()), token }
    }

    fn token(jwt: &JwtService) -> String {
        let session = UserSession { user_id: "u1".into(), role: "admin".into() };
        jwt.encode(Duration::from_secs(3600), &session).expect("token")
    }
}

/// One request shape of the comparison.
#[derive(Clone, Copy)]
pub(crate) enum Scenario {
    /// `GET /health`, no credential.
    Health,
    /// `GET /me` with `Authorization: Bearer <jwt>`.
    MeBearer,
    /// `GET /me` with `Cookie: session=<jwt>` beside two other cookies.
    MeCookie,
}

impl Scenario {
    pub(crate) const ALL: [(&'static str, Scenario); 3] =
        [("health", Scenario::Health), ("me_bearer", Scenario::MeBearer), ("me_cookie", Scenario::MeCookie)];

    #[allow(dead_code)] // not every program that includes this module looks scenarios up by name
    pub(crate) fn named(name: &str) -> Option<Scenario> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// A fresh request of this scenario (both servers take the same one).
    pub(crate) fn request(self, token: &str) -> http::Request<RequestBody> {
        let builder = http::Request::builder().header("host", "127.0.0.1").header("user-agent", "bench");
        let builder = match self {
            Scenario::Health => builder.uri("/health"),
            Scenario::MeBearer => builder.uri("/me").header("authorization", format!("Bearer {token}")),
            Scenario::MeCookie => {
                builder.uri("/me").header("cookie", format!("theme=dark; session={token}; lang=en-GB"))
            }
        };
        builder.body(RequestBody::Buffered(Bytes::new())).expect("valid request")
    }
}
