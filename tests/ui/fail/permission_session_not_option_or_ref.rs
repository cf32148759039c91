use pikku::prelude::*;

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

#[derive(serde::Deserialize)]
pub struct View {
    pub id: String,
}

#[pikku_permission]
async fn owns(_services: &Services, data: View, session: Session) -> bool {
    session.user == data.id
}

fn main() {}
