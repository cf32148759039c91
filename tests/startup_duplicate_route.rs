//! Start-up refuses two routes with one method and template, naming both source locations.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;

pub struct Services;

#[derive(Clone)]
pub struct Session;

#[pikku_func(auth = false)]
async fn first(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_func(auth = false)]
async fn second(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_wiring]
fn one_file(w: &mut Wirings<Services, Session>) {
    w.get("/other", first);
    w.get("/dup/:id", first);
}

#[pikku_wiring]
fn another_file(w: &mut Wirings<Services, Session>) {
    // Same shape, other parameter syntax and name: still the same route.
    w.get("/dup/{id}", second);
}

/// 1-based lines of this file that contain `needle`.
fn lines_with(needle: &str) -> Vec<usize> {
    let source = include_str!("startup_duplicate_route.rs");
    source.lines().enumerate().filter(|(_, l)| l.trim_start().starts_with(needle)).map(|(i, _)| i + 1).collect()
}

#[test]
fn duplicate_route_refuses_to_start_naming_both_places() {
    let error = match App::<Services, Session>::new().build(Services) {
        Ok(_) => panic!("a route wired twice must refuse to start"),
        Err(e) => e.to_string(),
    };
    let lines = lines_with("w.get(\"/dup/");
    assert_eq!(lines.len(), 2);
    for line in lines {
        let place = format!("{}:{line}", file!());
        assert!(error.contains(&place), "{error:?} does not name {place}");
    }
    assert!(error.contains("GET"), "{error}");
}
