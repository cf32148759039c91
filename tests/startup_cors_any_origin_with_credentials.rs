//! Start-up refuses CORS for any origin (`*`) with credentials, naming the wiring line and the way out.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;
use pikku::CorsOptions;

pub struct Services;

#[derive(Clone)]
pub struct Session;

#[pikku_wiring]
fn cors(w: &mut Wirings<Services, Session>) {
    w.cors(CorsOptions::new().any_origin().credentials(true));
}

#[test]
fn any_origin_with_credentials_refuses_to_start() {
    let error = match App::<Services, Session>::new().build(Services) {
        Ok(_) => panic!("`*` with credentials must refuse to start"),
        Err(e) => e.to_string(),
    };
    let line = include_str!("startup_cors_any_origin_with_credentials.rs")
        .lines()
        .position(|l| l.trim_start().starts_with("w.cors("))
        .expect("the w.cors line")
        + 1;
    let place = format!("{}:{line}", file!());
    assert!(error.contains(&place), "{error:?} does not name {place}");
    assert!(error.contains("`*`") && error.contains("credentials"), "{error}");
    assert!(error.contains("list the origins") && error.contains("reflect"), "says what to change: {error}");
}
