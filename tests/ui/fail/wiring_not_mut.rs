use pikku::prelude::*;

pub struct Services;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub user: String,
}

#[pikku_wiring]
fn routes(_w: &Wirings<Services, Session>) {}

fn main() {}
