use pikku::prelude::*;

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

#[pikku_func(auth = false)]
pub async fn f(_services: &Services, _data: (), ctx: &Context<Session>) -> Result<String, PikkuError> {
    Ok(ctx.session().user.clone())
}

fn main() {}
