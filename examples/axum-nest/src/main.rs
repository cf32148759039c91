//! `cargo run -p axum-nest`: axum on 127.0.0.1:3000 (HOST / PORT to change), the pikku-rs application
//! under `/api`.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use axum_nest::{app, router, Services};

#[tokio::main]
async fn main() -> ExitCode {
    let host: IpAddr = std::env::var("HOST").ok().and_then(|h| h.parse().ok()).unwrap_or(pikku::DEFAULT_HOST);
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(pikku::DEFAULT_PORT);
    let server = match app().build(Services::new(Duration::from_millis(50))) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(SocketAddr::new(host, port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {host}:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on http://{host}:{port} (the pikku-rs application under /api)");
    let app = router(server).into_make_service_with_connect_info::<SocketAddr>();
    match axum::serve(listener, app).with_graceful_shutdown(pikku::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
