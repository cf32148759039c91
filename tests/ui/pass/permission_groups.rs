//! `permissions = [[a], [b, c]]`: one group must pass, every permission of that group.

use pikku::prelude::*;
use serde::{Deserialize, Serialize};

pub struct Services;

#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
    pub admin: bool,
}

#[pikku_auth]
async fn is_admin(_services: &Services, session: &Session) -> bool {
    session.admin
}

#[pikku_auth]
async fn is_signed_in(_services: &Services, _session: &Session) -> bool {
    true
}

#[pikku_permission]
async fn is_self(_services: &Services, data: Target, session: Option<&Session>) -> bool {
    session.is_some_and(|s| s.user == data.user)
}

#[derive(Deserialize)]
pub struct Target {
    pub user: String,
}

#[pikku_func(permissions = [[is_admin], [is_signed_in, is_self]])]
pub async fn delete_user(_services: &Services, _data: Target, _ctx: &Context<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.delete("/users/:user", delete_user);
}

fn main() {}
