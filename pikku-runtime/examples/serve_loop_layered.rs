//! `serve_loop` (see there) behind `App::layer(tower::layer::util::Identity::new())`: a layer that does
//! nothing, so the count is what the application's layers cost by themselves.

#[path = "serve_loop.rs"]
mod plain;

fn main() {
    plain::run(pikku::prelude::App::new().layer(tower::layer::util::Identity::new()));
}
