//! Start-up refuses a route that names a middleware, saying how a middleware is used.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;

pub struct Services;

#[derive(Clone)]
pub struct Session;

#[pikku_middleware]
async fn timing(
    _s: &Services,
    request: Request<Session>,
    next: Next<'_, Services, Session>,
) -> Result<Response, PikkuError> {
    Ok(next.run(request).await)
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/timing", timing);
}

#[test]
fn a_route_to_a_middleware_refuses_to_start_with_the_advice_for_a_middleware() {
    let error = match App::<Services, Session>::new().build(Services) {
        Ok(_) => panic!("a route to a middleware must refuse to start"),
        Err(e) => e.to_string(),
    };
    let source = include_str!("startup_not_a_function_middleware.rs");
    let line = source.lines().position(|l| l.trim_start().starts_with("w.get(")).expect("the route") + 1;
    let expected = format!(
        "route GET /timing ({}:{line}) names `timing`, which is a middleware, not a function: use it in `middleware = [..]` of a function, or `w.add_http_middleware(\"/timing\", [timing])` (or a route's `.middleware([timing])`)",
        file!()
    );
    assert_eq!(error, expected);
}
