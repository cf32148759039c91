//! Start-up refuses an application with functions but no routes (a wiring module not declared), unless it
//! says that is intended.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;

pub struct Services;

#[derive(Clone)]
pub struct Session;

#[pikku_func(auth = false)]
async fn health(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_func(auth = false)]
async fn version(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

// No `#[pikku_wiring]`: as if `mod wirings;` were missing.

#[test]
fn functions_without_routes_refuse_to_start_naming_the_likely_cause() {
    let error = match App::<Services, Session>::new().build(Services) {
        Ok(_) => panic!("functions without routes must refuse to start"),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        error,
        "2 functions are registered but no wiring declares a route: is the wiring module declared (`mod wirings;`)? (An application without routes on purpose says `App::allow_no_routes()`.)"
    );
}

#[test]
fn an_application_without_routes_on_purpose_starts() {
    let server = App::<Services, Session>::new().allow_no_routes().build(Services).expect("allowed");
    assert_eq!(server.registry().functions.len(), 2);
}
