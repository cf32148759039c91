//! The whole in-process pipeline of the auth demo (`Server::dispatch`: routing, the three strategies,
//! the auth gate, input, the function, the JSON response, `x-request-id`) vs the hand-written baseline
//! (`pikku_baseline::Baseline::handle`: hyper types + jsonwebtoken + serde_json), for:
//!
//! * `health`: `GET /health`, no credential;
//! * `me_bearer`: `GET /me` with `Authorization: Bearer <jwt>`;
//! * `me_cookie`: `GET /me` with `Cookie: session=<jwt>` (beside two other cookies).
//!
//! Both sides get a fresh `http::Request<RequestBody>` per iteration (built outside the timing), run inside
//! the same current-thread tokio `block_on`, and drop their response inside the timing. No socket, no
//! HTTP parsing or writing: that is hyper's share, the same for both, and what `bench/load.sh` adds.
//!
//! `cargo bench -p auth-demo --bench pipeline`

use std::time::Duration;

use auth_demo::{Services, UserSession};
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use pikku::auth::JwtService;
use pikku::RequestBody;
use pikku_baseline::Baseline;

const SECRET: &str = "benchmark-secret-benchmark-secret-0123456789";

#[derive(Clone, Copy)]
enum Scenario {
    Health,
    MeBearer,
    MeCookie,
}

impl Scenario {
    const ALL: [(&'static str, Scenario); 3] =
        [("health", Scenario::Health), ("me_bearer", Scenario::MeBearer), ("me_cookie", Scenario::MeCookie)];

    fn request(self, token: &str) -> http::Request<RequestBody> {
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

fn pipeline(c: &mut Criterion) {
    let jwt = JwtService::hs256(SECRET).expect("valid secret");
    let session = UserSession { user_id: "u1".into(), role: "admin".into() };
    let token = jwt.encode(Duration::from_secs(3600), &session).expect("token");
    let server = auth_demo::app().build(Services::with_jwt(jwt)).expect("the demo builds");
    let baseline = Baseline::new(SECRET.as_bytes());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");

    for (name, scenario) in Scenario::ALL {
        let response = runtime.block_on(server.dispatch(scenario.request(&token)));
        assert_eq!(response.status(), 200, "pikku {name}");
        let response = runtime.block_on(async { baseline.handle(&scenario.request(&token)) });
        assert_eq!(response.status(), 200, "baseline {name}");
    }

    let mut group = c.benchmark_group("pipeline");
    for (name, scenario) in Scenario::ALL {
        group.bench_function(format!("pikku/{name}"), |b| {
            b.iter_batched(
                || scenario.request(&token),
                |request| drop(runtime.block_on(server.dispatch(request))),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("baseline/{name}"), |b| {
            b.iter_batched(
                || scenario.request(&token),
                |request| drop(runtime.block_on(async { baseline.handle(&request) })),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
