//! Start-up refuses a CORS origin that is not `scheme://host[:port]`, naming the wiring line and the origin.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;
use pikku::CorsOptions;

pub struct Services;

#[derive(Clone)]
pub struct Session;

#[pikku_wiring]
fn cors(w: &mut Wirings<Services, Session>) {
    w.cors(CorsOptions::new().origins(["https://app.example", "https://app.example/login"]).credentials(true));
}

#[test]
fn an_origin_with_a_path_refuses_to_start() {
    let error = match App::<Services, Session>::new().build(Services) {
        Ok(_) => panic!("an invalid origin must refuse to start"),
        Err(e) => e.to_string(),
    };
    let line = include_str!("startup_cors_invalid_origin.rs")
        .lines()
        .position(|l| l.trim_start().starts_with("w.cors("))
        .expect("the w.cors line")
        + 1;
    let place = format!("{}:{line}", file!());
    assert!(error.contains(&place), "{error:?} does not name {place}");
    assert!(error.contains("`https://app.example/login`"), "names the origin: {error}");
    assert!(error.contains("scheme://host[:port]") && error.contains("without a path"), "says what to change: {error}");
}
