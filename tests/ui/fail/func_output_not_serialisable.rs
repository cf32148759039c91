use pikku::prelude::*;

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

/// Not `Serialize`: it cannot be sent as JSON.
pub struct Report {
    pub total: u64,
}

#[pikku_func]
pub async fn f(_services: &Services, _data: (), _ctx: &Context<Session>) -> Result<Report, PikkuError> {
    Ok(Report { total: 1 })
}

fn main() {}
