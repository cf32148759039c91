//! A refused `#[pikku_permission]` or `#[pikku_middleware]` leaves a stand-in under its name: the function
//! and the wiring that list it add no errors of their own, only the macros' two.
use pikku::prelude::*;

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

#[derive(serde::Deserialize)]
pub struct Owned {
    pub owner: String,
}

/// Missing the session argument.
#[pikku_permission]
async fn owns(_services: &Services, data: Owned) -> bool {
    !data.owner.is_empty()
}

/// The third argument is not the rest of the chain.
#[pikku_middleware]
async fn timing(_services: &Services, request: Request<Session>, _next: u32) -> Result<Response, PikkuError> {
    let _ = request;
    Err(PikkuError::permission_denied())
}

#[pikku_middleware]
async fn passes(_services: &Services, request: Request<Session>, next: Next<'_, Services, Session>) -> Result<Response, PikkuError> {
    Ok(next.run(request).await)
}

#[pikku_func(permissions = [owns], middleware = [timing])]
pub async fn read(_services: &Services, _data: Owned, _ctx: &Context<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.add_permission(owns);
    w.add_http_middleware("*", [timing, passes]);
    w.get("/things/:owner", read).middleware([timing]);
}

fn main() {}
