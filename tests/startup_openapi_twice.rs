//! Start-up refuses an OpenAPI document served twice, naming both source locations.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::openapi::OpenApiOptions;
use pikku::prelude::*;

pub struct Services;

#[derive(Clone)]
pub struct Session;

#[pikku_func(auth = false)]
async fn health(_s: &Services, _: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/health", health);
    w.openapi(OpenApiOptions::at("/openapi.json"));
}

#[pikku_wiring]
fn more_routes(w: &mut Wirings<Services, Session>) {
    w.openapi(OpenApiOptions::at("/docs/openapi.json"));
}

#[test]
fn the_document_served_twice_refuses_to_start_naming_both_places() {
    let error = match App::<Services, Session>::new().build(Services) {
        Ok(_) => panic!("two w.openapi calls must refuse to start"),
        Err(e) => e.to_string(),
    };
    let source = include_str!("startup_openapi_twice.rs");
    let lines: Vec<usize> = source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("w.openapi("))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(
        error,
        format!(
            "the OpenAPI document is served twice: {file}:{} and {file}:{}; an application has one `w.openapi(..)`, remove one",
            lines[0],
            lines[1],
            file = file!()
        )
    );
}
