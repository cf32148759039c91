//! What only the auth-demo contract tests need: the demo binary on an ephemeral loopback port, its
//! users, key and secret. The HTTP client, the response assertions and token forging are the test kit's
//! (`pikku::testing`, re-exported here).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::ops::Deref;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

pub(crate) use pikku::testing::*;

/// The HS256 secret every test server runs with (at least 32 bytes).
pub(crate) const SECRET: &str = "auth-demo-integration-test-secret-0123456789";
/// The demo binary.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_auth-demo");

pub(crate) const ALICE: (&str, &str) = ("alice@example.com", "correct horse");
pub(crate) const BOB: (&str, &str) = ("bob@example.com", "battery staple");
pub(crate) const API_KEY: &str = "test-key-1";

/// Forges tokens with the server's secret, as the demo signs them (HS256, kid `primary`).
pub(crate) fn forger() -> TokenForger {
    TokenForger::hs256(SECRET)
}

/// A session as the demo's tokens carry it: `{"userId", "role"}`.
pub(crate) fn session(user_id: &str, role: &str) -> serde_json::Value {
    serde_json::json!({"userId": user_id, "role": role})
}

/// The demo binary serving on 127.0.0.1, killed on drop. Requests are made through it as through its
/// [`HttpClient`].
pub(crate) struct Server {
    client: HttpClient,
    child: Child,
}

impl Server {
    /// Starts the binary with `PORT=0`, `HOST=127.0.0.1` and [`SECRET`], and waits for its address line.
    pub(crate) fn start() -> Self {
        Self::start_with(&[])
    }

    /// [`start`](Self::start) with more environment variables (which may override those).
    pub(crate) fn start_with(env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .env("PORT", "0")
            .env("HOST", "127.0.0.1")
            .env("PIKKU_JWT_SECRET", SECRET)
            .env_remove("PIKKU_JWT_KID")
            .env_remove("PIKKU_CORS_ORIGINS")
            .envs(env.iter().copied())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the auth-demo binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let line = match first_line(stdout, WAIT) {
            Some(line) => line,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("auth-demo printed no address line within {WAIT:?}");
            }
        };
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
        assert!(addr.ip().is_loopback(), "{addr}");
        assert_ne!(addr.port(), 0);
        Self { client: HttpClient::new(addr), child }
    }

    /// `http://127.0.0.1:<port>`: the origin of this server.
    pub(crate) fn origin(&self) -> String {
        format!("http://{}", self.client.addr())
    }

    /// Logs in and returns (bearer token, the cookie's token).
    pub(crate) async fn login(&self, who: (&str, &str)) -> (String, String) {
        let resp = self.post("/login").json(&serde_json::json!({"email": who.0, "password": who.1})).send().await;
        resp.assert_status(200);
        let token = resp.json_value()["token"].as_str().expect("token").to_owned();
        let cookie = resp.set_cookie_value("session").expect("login sets the session cookie");
        (token, cookie)
    }
}

impl Deref for Server {
    type Target = HttpClient;

    fn deref(&self) -> &HttpClient {
        &self.client
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first line of `stream`, read on a helper thread so the wait is bounded. The thread then keeps
/// draining the stream so the child never blocks on a full pipe.
pub(crate) fn first_line(stream: impl std::io::Read + Send + 'static, limit: Duration) -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    rx.recv_timeout(limit).ok().filter(|line| !line.is_empty())
}

/// One server shared by the tests of a binary that run at the same time: it lives while any test holds
/// it, so the process is always killed (statics are never dropped).
pub(crate) fn shared() -> Arc<Server> {
    static SHARED: Mutex<Weak<Server>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(server) = slot.upgrade() {
        return server;
    }
    let server = Arc::new(Server::start());
    *slot = Arc::downgrade(&server);
    server
}
