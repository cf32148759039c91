//! A flattened input hides its field names from serde's derive, but not from its JSON schema: start-up then
//! checks the route's parameters against the schema's properties, and refuses one the input does not have.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;
use pikku::{schemars, JsonSchema};
use serde::Deserialize;

pub struct Services;

#[derive(Clone)]
pub struct Session;

#[derive(Deserialize, JsonSchema)]
pub struct Paging {
    page: u32,
}

#[derive(Deserialize, JsonSchema)]
pub struct ListTasks {
    project: String,
    #[serde(flatten)]
    paging: Paging,
}

#[pikku_func(auth = false)]
async fn list_tasks(_s: &Services, data: ListTasks, _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    let _ = (data.project, data.paging.page);
    Ok(())
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/projects/:projectId/tasks/:page", list_tasks);
}

#[test]
fn a_parameter_missing_from_a_flattened_input_s_schema_refuses_to_start() {
    let error = match App::<Services, Session>::new().build(Services) {
        Ok(_) => panic!("a route parameter the input does not have must refuse to start"),
        Err(e) => e.to_string(),
    };
    let source = include_str!("startup_route_parameter_flattened.rs");
    let line = source.lines().position(|l| l.trim_start().starts_with("w.get(\"/projects")).expect("the route") + 1;
    let expected = format!(
        "route GET /projects/:projectId/tasks/:page ({}:{line}) has the parameter `projectId`, which function `list_tasks` never reads: the input `ListTasks` has no field `projectId` (its JSON schema lists `page`, `project`); rename the parameter or add the field",
        file!()
    );
    assert_eq!(error, expected);
}
