//! Start-up refuses two functions with one id (in different modules), naming both source locations.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;

pub struct Services;

#[derive(Clone)]
pub struct Session;

mod a {
    use super::*;

    #[pikku_func(auth = false)]
    pub(crate) async fn same_name(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
        Ok(())
    }
}

mod b {
    use super::*;

    #[pikku_func(auth = false)]
    pub(crate) async fn same_name(
        _s: &Services,
        _data: (),
        _ctx: &OptionalContext<Session>,
    ) -> Result<u32, PikkuError> {
        Ok(1)
    }
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/a", a::same_name);
    w.get("/b", b::same_name);
}

#[test]
fn duplicate_function_id_refuses_to_start_naming_both_places() {
    let error = match App::<Services, Session>::new().build(Services) {
        Ok(_) => panic!("two functions with one id must refuse to start"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("same_name"), "{error}");
    let source = include_str!("startup_duplicate_function.rs");
    let lines: Vec<usize> = source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("pub(crate) async fn same_name("))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 2);
    for line in lines {
        let place = format!("{}:{line}", file!());
        assert!(error.contains(&place), "{error:?} does not name {place}");
    }
}
