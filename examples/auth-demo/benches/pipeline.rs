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

mod scenarios;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use scenarios::{Fixture, Scenario};

fn pipeline(c: &mut Criterion) {
    let Fixture { server, baseline, token } = Fixture::new();
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
