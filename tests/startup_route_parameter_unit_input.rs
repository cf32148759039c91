//! Start-up refuses a route parameter given to a function whose input is `()`: the parameter would be
//! dropped.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;

pub struct Services;

#[derive(Clone)]
pub struct Session;

#[pikku_func(auth = false)]
async fn delete_task(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.delete("/tasks/:id", delete_task);
}

#[test]
fn a_parameter_given_to_a_unit_input_refuses_to_start() {
    let error = match App::<Services, Session>::new().build(Services) {
        Ok(_) => panic!("a route parameter given to `()` must refuse to start"),
        Err(e) => e.to_string(),
    };
    let source = include_str!("startup_route_parameter_unit_input.rs");
    let line = source.lines().position(|l| l.trim_start().starts_with("w.delete(")).expect("the route") + 1;
    let expected = format!(
        "route DELETE /tasks/:id ({}:{line}) has the parameter `id`, which function `delete_task` never reads: its input is `()`, so the parameter would be dropped; take an input with a field `id`, or remove the parameter",
        file!()
    );
    assert_eq!(error, expected);
}
