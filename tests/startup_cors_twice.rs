//! Start-up refuses CORS configured twice, naming both source locations.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;
use pikku::CorsOptions;

pub struct Services;

#[derive(Clone)]
pub struct Session;

#[pikku_wiring]
fn one_file(w: &mut Wirings<Services, Session>) {
    w.cors(CorsOptions::new().origins(["https://app.example"]));
}

#[pikku_wiring]
fn another_file(w: &mut Wirings<Services, Session>) {
    w.cors(CorsOptions::new());
}

/// 1-based lines of this file that start with `needle`.
fn lines_with(needle: &str) -> Vec<usize> {
    let source = include_str!("startup_cors_twice.rs");
    source.lines().enumerate().filter(|(_, l)| l.trim_start().starts_with(needle)).map(|(i, _)| i + 1).collect()
}

#[test]
fn cors_wired_twice_refuses_to_start_naming_both_places() {
    let error = match App::<Services, Session>::new().build(Services) {
        Ok(_) => panic!("CORS configured twice must refuse to start"),
        Err(e) => e.to_string(),
    };
    let lines = lines_with("w.cors(");
    assert_eq!(lines.len(), 2);
    for line in lines {
        let place = format!("{}:{line}", file!());
        assert!(error.contains(&place), "{error:?} does not name {place}");
    }
    assert!(error.contains("CORS is configured twice"), "{error}");
    assert!(error.contains("remove one"), "says what to change: {error}");
}
