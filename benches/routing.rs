//! Route matching on a table of 50 routes: `Registry::matches` (the framework's lookup: the matchit router,
//! then the method among the path's targets) vs a raw `matchit::Router` of the same templates with the
//! method beside each value (the hand-written way).
//!
//! The 50 routes are 50 `#[pikku_func]` functions wired by one `#[pikku_wiring]`: static paths, one and
//! two parameters, several prefixes sharing a stem.
//!
//! `cargo bench -p pikku --bench routing`

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use http::Method;
use pikku::prelude::*;

pub struct Services;

#[derive(Debug, Clone)]
pub struct Session;

macro_rules! functions {
    ($($name:ident)*) => {
        $(
            #[pikku_func(auth = false)]
            async fn $name(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
                Ok(())
            }
        )*
        /// The functions in declaration order, paired with `ROUTES`.
        const FUNCTION_COUNT: usize = [$(stringify!($name)),*].len();
    };
}

functions!(
    f00 f01 f02 f03 f04 f05 f06 f07 f08 f09 f10 f11 f12 f13 f14 f15 f16 f17 f18 f19
    f20 f21 f22 f23 f24 f25 f26 f27 f28 f29 f30 f31 f32 f33 f34 f35 f36 f37 f38 f39
    f40 f41 f42 f43 f44 f45 f46 f47 f48 f49
);

/// The 50 routes (method, template in the framework's `:param` syntax).
const ROUTES: [(&str, &str); 50] = [
    ("GET", "/health"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/me"),
    ("GET", "/admin"),
    ("GET", "/admin/users/:userId"),
    ("GET", "/users"),
    ("GET", "/users/:userId"),
    ("GET", "/users/:userId/notes"),
    ("POST", "/users/:userId/notes"),
    ("GET", "/users/:userId/notes/:noteId"),
    ("DELETE", "/users/:userId/notes/:noteId"),
    ("GET", "/api/v1/resource0/:id"),
    ("GET", "/api/v1/resource1/:id"),
    ("GET", "/api/v1/resource2/:id"),
    ("GET", "/api/v1/resource3/:id"),
    ("GET", "/api/v1/resource4/:id"),
    ("GET", "/api/v1/resource5/:id"),
    ("GET", "/api/v1/resource6/:id"),
    ("GET", "/api/v1/resource7/:id"),
    ("GET", "/api/v1/resource8/:id"),
    ("GET", "/api/v1/resource9/:id"),
    ("GET", "/api/v1/resource10/:id"),
    ("GET", "/api/v1/resource11/:id"),
    ("GET", "/api/v1/resource12/:id"),
    ("GET", "/api/v1/resource13/:id"),
    ("GET", "/api/v1/resource14/:id"),
    ("GET", "/api/v1/resource15/:id"),
    ("GET", "/api/v1/resource16/:id"),
    ("GET", "/api/v1/resource17/:id"),
    ("GET", "/api/v1/resource18/:id"),
    ("GET", "/api/v1/resource19/:id"),
    ("GET", "/api/v1/resource0"),
    ("GET", "/api/v1/resource1"),
    ("GET", "/api/v1/resource2"),
    ("GET", "/api/v1/resource3"),
    ("GET", "/api/v1/resource4"),
    ("POST", "/api/v1/resource0"),
    ("POST", "/api/v1/resource1"),
    ("POST", "/api/v1/resource2"),
    ("GET", "/api/v2/things0/:thingId/parts/:partId"),
    ("GET", "/api/v2/things1/:thingId/parts/:partId"),
    ("GET", "/api/v2/things2/:thingId/parts/:partId"),
    ("GET", "/api/v2/things3/:thingId/parts/:partId"),
    ("GET", "/api/v2/things4/:thingId/parts/:partId"),
    ("GET", "/api/v2/things0/:thingId"),
    ("GET", "/api/v2/things1/:thingId"),
    ("GET", "/api/v2/things2/:thingId"),
    ("GET", "/static/about"),
    ("GET", "/static/contact"),
];

macro_rules! wire {
    ($w:ident, $($name:ident)*) => {{
        let mut routes = ROUTES.iter();
        $(
            let (method, template) = routes.next().expect("one route per function");
            $w.route(method.parse().expect("method"), template, $name);
        )*
    }};
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    wire!(
        w, f00 f01 f02 f03 f04 f05 f06 f07 f08 f09 f10 f11 f12 f13 f14 f15 f16 f17 f18 f19
        f20 f21 f22 f23 f24 f25 f26 f27 f28 f29 f30 f31 f32 f33 f34 f35 f36 f37 f38 f39
        f40 f41 f42 f43 f44 f45 f46 f47 f48 f49
    );
}

/// The hand-written router: matchit with `{param}` templates, the methods of each path beside it.
fn hand_written() -> matchit::Router<Vec<(Method, usize)>> {
    let mut by_path: Vec<(String, Vec<(Method, usize)>)> = Vec::new();
    for (index, (method, template)) in ROUTES.iter().enumerate() {
        let path: Vec<String> = template
            .split('/')
            .map(|s| s.strip_prefix(':').map_or_else(|| s.to_owned(), |p| format!("{{{p}}}")))
            .collect();
        let path = path.join("/");
        let method: Method = method.parse().expect("method");
        match by_path.iter_mut().find(|(p, _)| *p == path) {
            Some((_, methods)) => methods.push((method, index)),
            None => by_path.push((path, vec![(method, index)])),
        }
    }
    let mut router = matchit::Router::new();
    for (path, methods) in by_path {
        router.insert(path, methods).expect("no conflicts");
    }
    router
}

fn hand_matches(router: &matchit::Router<Vec<(Method, usize)>>, method: &Method, path: &str) -> bool {
    router.at(path).is_ok_and(|m| m.value.iter().any(|(candidate, _)| candidate == method))
}

/// (name, method, path, expected).
const CASES: [(&str, Method, &str, bool); 5] = [
    ("static", Method::GET, "/health", true),
    ("one_param", Method::GET, "/api/v1/resource17/12345", true),
    ("two_params", Method::GET, "/api/v2/things3/abc/parts/42", true),
    ("nested", Method::DELETE, "/users/u1/notes/n9", true),
    ("miss", Method::GET, "/api/v1/resource99/1", false),
];

fn routing(c: &mut Criterion) {
    assert_eq!(FUNCTION_COUNT, ROUTES.len());
    let registry = App::<Services, Session>::new().registry().expect("the 50 routes build");
    let router = hand_written();
    for (name, method, path, expected) in &CASES {
        assert_eq!(registry.matches(method, path), *expected, "pikku {name}");
        assert_eq!(hand_matches(&router, method, path), *expected, "baseline {name}");
    }

    let mut group = c.benchmark_group("route_match_50");
    for (name, method, path, _) in &CASES {
        group.bench_function(format!("pikku/{name}"), |b| {
            b.iter(|| registry.matches(black_box(method), black_box(path)))
        });
        group.bench_function(format!("baseline/{name}"), |b| {
            b.iter(|| hand_matches(&router, black_box(method), black_box(path)))
        });
    }
    group.finish();
}

criterion_group!(benches, routing);
criterion_main!(benches);
