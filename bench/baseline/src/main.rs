//! The baseline server: `PORT` (default 3001), `PIKKU_JWT_SECRET` (required). HTTP/1.1, and HTTP/2 with
//! prior knowledge, on the same port (hyper-util's automatic builder), as pikku serves them.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use pikku_baseline::Baseline;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let secret = std::env::var("PIKKU_JWT_SECRET").expect("PIKKU_JWT_SECRET is required");
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3001);
    let baseline = Arc::new(Baseline::new(secret.as_bytes()));
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let baseline = Arc::clone(&baseline);
        let builder = Arc::clone(&builder);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let response = baseline.handle(&request);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
