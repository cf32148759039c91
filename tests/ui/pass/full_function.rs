//! A function with every option, its permissions, auth check, middleware and wiring.

use pikku::prelude::*;
use serde::{Deserialize, Serialize};

pub struct Services {
    pub admins: Vec<String>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
}

#[derive(Deserialize)]
pub struct Input {
    pub id: String,
}

#[derive(Serialize)]
pub struct Output {
    pub id: String,
    pub by: String,
}

#[derive(Deserialize)]
pub struct OwnerView {
    pub id: String,
}

#[pikku_auth]
async fn is_admin(services: &Services, session: &Session) -> bool {
    services.admins.contains(&session.user)
}

#[pikku_permission]
async fn owns(_services: &Services, data: OwnerView, session: Option<&Session>) -> bool {
    session.is_some_and(|s| s.user == data.id)
}

#[pikku_permission]
async fn owns_by_ref(_services: &Services, data: &OwnerView, session: &Session) -> bool {
    session.user == data.id
}

#[pikku_middleware]
async fn audit(
    _services: &Services,
    request: Request<Session>,
    next: Next<'_, Services, Session>,
) -> Result<Response, PikkuError> {
    Ok(next.run(request).await)
}

/// Reads a thing.
#[pikku_func(
    auth = true,
    permissions = [is_admin, owns, owns_by_ref],
    middleware = [audit],
    tags = ["things", "admin"],
    description = "Reads a thing"
)]
pub async fn read_thing(services: &Services, data: Input, ctx: &Context<Session>) -> Result<Output, PikkuError> {
    let _ = services;
    Ok(Output { id: data.id, by: ctx.session().user.clone() })
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.add_http_middleware("*", [audit]);
    w.add_permission(is_admin);
    w.get("/things/:id", read_thing).tags(["things"]).middleware([audit]);
}

fn main() {}
