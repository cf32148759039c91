//! Instructions per request through `Server::serve` over a loopback socket (callgrind), for the cost of the
//! serving path itself, which `bench/instructions.sh` (in-process, `Server::dispatch`) does not see:
//!
//! `serve_loop <count>` (`serve_loop_layered <count>`: the same behind a tower layer that does nothing, for
//! the cost of `App::layer` itself; a program of its own, since a program that names `App::layer` at all
//! compiles the layers' code beside the plain path)
//!
//! One keep-alive connection, `count` sequential `GET /health`; the client writes raw bytes and reads the
//! response by its `Content-Length`, so it costs the same whatever the server does. Build with
//! `cargo build --profile bench-release -p pikku-runtime --examples`, count with
//! `valgrind --tool=callgrind target/bench-release/examples/serve_loop <count>` at 0 and at N, and take
//! (instructions(N) - instructions(0)) / N.

use pikku::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) struct Services;

#[derive(Clone)]
pub(crate) struct Session;

#[pikku_func(auth = false)]
async fn health(_: &Services, _: (), _: &OptionalContext<Session>) -> Result<&'static str, PikkuError> {
    Ok("ok")
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/health", health);
}

// `serve_loop_layered` includes this file and calls `run` only.
#[allow(dead_code)]
fn main() {
    run(App::new());
}

/// Serves `app` on a loopback port and sends it the count of requests the command line gives.
pub(crate) fn run(app: App<Services, Session>) {
    let count: u32 = std::env::args().nth(1).and_then(|n| n.parse().ok()).expect("usage: serve_loop <count>");
    let server = app.build(Services).expect("the application starts");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(listener, async move {
            let _ = stopped.await;
        }));
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let mut buffer = vec![0u8; 4096];
        for _ in 0..count {
            stream.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("write");
            let mut filled = 0;
            loop {
                let n = stream.read(&mut buffer[filled..]).await.expect("read");
                assert!(n > 0, "closed");
                filled += n;
                let text = &buffer[..filled];
                if let Some(end) = text.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = std::str::from_utf8(&text[..end]).expect("ascii").to_ascii_lowercase();
                    assert!(head.starts_with("http/1.1 200"), "{head}");
                    let length: usize = head
                        .lines()
                        .find_map(|line| line.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().expect("a length"));
                    if filled >= end + 4 + length {
                        break;
                    }
                }
            }
        }
        drop(stream);
        let _ = stop.send(());
        serving.await.expect("no panic").expect("serve");
    });
}
