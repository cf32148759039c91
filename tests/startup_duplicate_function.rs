//! Start-up refuses two functions given one explicit id, naming both source locations. (Two functions of
//! the same name in different modules are fine: their default ids carry the module, see
//! `startup_function_ids.rs`.)

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;

pub struct Services;

#[derive(Clone)]
pub struct Session;

mod a {
    use super::*;

    #[pikku_func(auth = false, id = "things.list")]
    pub(crate) async fn list(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
        Ok(())
    }
}

mod b {
    use super::*;

    #[pikku_func(auth = false, id = "things.list")]
    pub(crate) async fn list_again(
        _s: &Services,
        _data: (),
        _ctx: &OptionalContext<Session>,
    ) -> Result<u32, PikkuError> {
        Ok(1)
    }
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/a", a::list);
    w.get("/b", b::list_again);
}

#[test]
fn duplicate_function_id_refuses_to_start_naming_both_places() {
    let error = match App::<Services, Session>::new().build(Services) {
        Ok(_) => panic!("two functions with one id must refuse to start"),
        Err(e) => e.to_string(),
    };
    let source = include_str!("startup_duplicate_function.rs");
    let lines: Vec<usize> = source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("pub(crate) async fn list"))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 2);
    let expected = format!(
        "two functions have the id `things.list`: {file}:{} and {file}:{}; function ids must be unique: give one of them another `#[pikku_func(id = \"...\")]`",
        lines[0],
        lines[1],
        file = file!(),
    );
    assert_eq!(error, expected);
}
