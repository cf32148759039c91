//! Start-up refuses a route parameter that the function's input does not have (a server bug the client
//! would otherwise be blamed for with a 422), naming the route, the parameter, the input and the fix.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;
use serde::Deserialize;

pub struct Services;

#[derive(Clone)]
pub struct Session;

/// Its fields are snake_case: `projectId` in the route never reaches `project_id`.
#[derive(Deserialize)]
pub struct CreateTask {
    project_id: String,
    title: String,
}

#[pikku_func(auth = false)]
async fn create_task(_s: &Services, data: CreateTask, _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    let _ = (data.project_id, data.title);
    Ok(())
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.post("/projects/:projectId/tasks", create_task);
}

#[test]
fn a_parameter_the_input_lacks_refuses_to_start_with_the_fix() {
    let error = match App::<Services, Session>::new().build(Services) {
        Ok(_) => panic!("a route parameter the input does not have must refuse to start"),
        Err(e) => e.to_string(),
    };
    let source = include_str!("startup_route_parameter.rs");
    let line = source.lines().position(|l| l.trim_start().starts_with("w.post(\"/projects")).expect("the route") + 1;
    let expected = format!(
        "route POST /projects/:projectId/tasks ({}:{line}) has the parameter `projectId`, which function `create_task` never reads: the input `CreateTask` has no field `projectId`; rename the parameter or add the field (did you mean `project_id`? add `#[serde(rename_all = \"camelCase\")]` to `CreateTask`)",
        file!()
    );
    assert_eq!(error, expected);
}
