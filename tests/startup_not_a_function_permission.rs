//! Start-up refuses a route that names a permission, saying how a permission is used.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use pikku::prelude::*;

pub struct Services;

#[derive(Clone)]
pub struct Session {
    admin: bool,
}

#[pikku_auth]
async fn is_admin(_s: &Services, session: &Session) -> bool {
    session.admin
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/admin", is_admin);
}

#[test]
fn a_route_to_a_permission_refuses_to_start_with_the_advice_for_a_permission() {
    let error = match App::<Services, Session>::new().build(Services) {
        Ok(_) => panic!("a route to a permission must refuse to start"),
        Err(e) => e.to_string(),
    };
    let source = include_str!("startup_not_a_function_permission.rs");
    let line = source.lines().position(|l| l.trim_start().starts_with("w.get(")).expect("the route") + 1;
    let expected = format!(
        "route GET /admin ({}:{line}) names `is_admin`, which is a permission, not a function: use it in `permissions = [..]` of a function, or `w.add_permission(is_admin)` for every function",
        file!()
    );
    assert_eq!(error, expected);
}
