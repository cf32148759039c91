//! Function ids: the name when no other function's id would be that name, else the module path below the
//! crate and the name; `#[pikku_func(id = "...")]` when given (which frees the name for a namesake). And
//! what start-up accepts about route parameters: a parameter read by a permission's view rather than the
//! input, and a route whose input's fields cannot be listed, which `info functions` reports as not checked.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::collections::HashMap;

use pikku::prelude::*;
use serde::Deserialize;

pub struct Services;

#[derive(Clone)]
pub struct Session;

mod projects {
    use super::*;

    #[pikku_func(auth = false)]
    pub(crate) async fn list(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
        Ok(())
    }

    #[pikku_func(auth = false, id = "projects.archive")]
    pub(crate) async fn archive(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
        Ok(())
    }
}

mod tasks {
    use super::*;

    #[pikku_func(auth = false)]
    pub(crate) async fn list(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
        Ok(())
    }

    /// Its namesake in `projects` set an id of its own: this one keeps the bare name.
    #[pikku_func(auth = false)]
    pub(crate) async fn archive(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserScoped {
    user_id: String,
}

#[pikku_permission]
async fn is_user(_s: &Services, data: UserScoped, _session: Option<&Session>) -> bool {
    !data.user_id.is_empty()
}

/// `:userId` is read by the permission's view, not by the input: that is a use of the parameter.
#[pikku_func(auth = false, permissions = [is_user])]
async fn delete_sessions(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

/// A map reads any name: its fields cannot be listed, so its route's parameters are not checked.
#[pikku_func(auth = false)]
async fn search(
    _s: &Services,
    _data: HashMap<String, String>,
    _ctx: &OptionalContext<Session>,
) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/projects", projects::list);
    w.post("/projects/archive", projects::archive);
    w.get("/tasks", tasks::list);
    w.post("/tasks/archive", tasks::archive);
    w.delete("/users/:userId/sessions", delete_sessions);
    w.get("/search/:term", search);
}

#[test]
fn ids_are_names_module_paths_where_names_are_shared_or_what_the_function_says() {
    let registry = App::<Services, Session>::new().registry().expect("the application starts");
    let ids: Vec<&str> = registry.functions.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["archive", "delete_sessions", "projects.archive", "projects::list", "search", "tasks::list"]);
    let routes = |id: &str| registry.functions.iter().find(|f| f.id == id).map(|f| f.routes.clone());
    assert_eq!(routes("projects::list"), Some(vec!["GET /projects".to_owned()]));
    assert_eq!(routes("archive"), Some(vec!["POST /tasks/archive".to_owned()]));
}

#[test]
fn a_parameter_read_by_a_view_is_used_and_an_unlistable_input_is_reported_as_not_checked() {
    let registry = App::<Services, Session>::new().registry().expect("the application starts");
    let unchecked: Vec<(&str, &str, &str)> =
        registry.unchecked_routes.iter().map(|u| (u.route.as_str(), u.function.as_str(), u.reason.as_str())).collect();
    assert_eq!(
        unchecked,
        [(
            "GET /search/:term",
            "search",
            "the input `HashMap < String, String >` reads fields that cannot be listed without data"
        )]
    );
}
