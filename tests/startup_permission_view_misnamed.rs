//! Start-up refuses a permission whose data view names a route parameter in another case convention (a
//! missing `rename_all`): every request would reach the view without that value.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;
use serde::Deserialize;

pub struct Services;

#[derive(Clone)]
pub struct Session;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectId {
    project_id: String,
}

/// The view forgot `#[serde(rename_all = "camelCase")]`.
#[derive(Deserialize)]
pub struct ProjectScoped {
    project_id: String,
}

#[pikku_permission]
async fn owns_project(_s: &Services, data: ProjectScoped, _session: Option<&Session>) -> bool {
    !data.project_id.is_empty()
}

#[pikku_func(auth = false, permissions = [owns_project])]
async fn get_project(_s: &Services, data: ProjectId, _ctx: &OptionalContext<Session>) -> Result<String, PikkuError> {
    Ok(data.project_id)
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/projects/:projectId", get_project);
}

#[test]
fn a_view_that_misnames_a_parameter_refuses_to_start() {
    let error = match App::<Services, Session>::new().build(Services) {
        Ok(_) => panic!("a view that misnames a route parameter must refuse to start"),
        Err(e) => e.to_string(),
    };
    let source = include_str!("startup_permission_view_misnamed.rs");
    let line = source.lines().position(|l| l.trim_start().starts_with("w.get(")).expect("the route") + 1;
    let expected = format!(
        "permission `owns_project` of function `get_project` reads `project_id` through its data view `ProjectScoped`, but route GET /projects/:projectId ({}:{line}) names it `projectId`, so the view never sees that value; add `#[serde(rename_all = \"camelCase\")]` to `ProjectScoped`",
        file!()
    );
    assert_eq!(error, expected);
}
