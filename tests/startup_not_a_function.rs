//! Start-up refuses a route that names a plain fn instead of a `#[pikku_func]`, naming the route's place.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;

pub struct Services;

#[derive(Clone)]
pub struct Session;

#[pikku_func(auth = false)]
async fn real(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

/// Looks like a function but is not registered.
async fn plain_helper(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/real", real);
    w.get("/plain", plain_helper);
}

#[test]
fn route_to_a_plain_fn_refuses_to_start() {
    let error = match App::<Services, Session>::new().build(Services) {
        Ok(_) => panic!("a route to a plain fn must refuse to start"),
        Err(e) => e.to_string(),
    };
    let source = include_str!("startup_not_a_function.rs");
    let line = source.lines().position(|l| l.trim_start().starts_with("w.get(\"/plain\"")).expect("the route") + 1;
    let expected = format!(
        "route GET /plain ({}:{line}) names `startup_not_a_function::plain_helper`, which is not a #[pikku_func]; mark it with #[pikku_func]",
        file!()
    );
    assert_eq!(error, expected);
}
