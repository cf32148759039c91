//! HTTP/2 and TLS at the process level (docs/auth-demo.md, docs/tls.md): `curl --http2-prior-knowledge`
//! against the demo binary, the demo started with `PIKKU_TLS_CERT` / `PIKKU_TLS_KEY` (rcgen files in a
//! temporary directory), and the start-up refusals that name the variable.

mod support;

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use support::*;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The demo binary with `env`, serving on an ephemeral loopback port; killed on drop.
struct Demo {
    child: Child,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(env: &[(&str, &PathBuf)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("PIKKU_JWT_SECRET", SECRET)
        .env_remove("PIKKU_TLS_CERT")
        .env_remove("PIKKU_TLS_KEY")
        .env_remove("RUST_LOG");
    for (name, value) in env {
        command.env(name, value);
    }
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// Starts the demo and reads its address line: (scheme, address).
fn start(env: &[(&str, &PathBuf)]) -> (Demo, String, SocketAddr) {
    let mut child = command(env).spawn().expect("start auth-demo");
    let stdout = child.stdout.take().expect("piped stdout");
    let demo = Demo { child };
    let line = first_line(stdout, WAIT).unwrap_or_else(|| panic!("auth-demo printed no address line within {WAIT:?}"));
    let (scheme, addr) = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split_once("://"))
        .unwrap_or_else(|| panic!("{line:?}"));
    let addr: SocketAddr = addr.parse().unwrap_or_else(|_| panic!("{line:?}"));
    (demo, scheme.to_owned(), addr)
}

/// Runs the demo to its exit (bounded): status and stderr.
fn run_to_exit(env: &[(&str, &PathBuf)]) -> (ExitStatus, String) {
    let mut child = command(env).spawn().expect("start auth-demo");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("auth-demo did not exit within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut text = String::new();
    let _ = stderr.read_to_string(&mut text);
    (status, text)
}

/// A directory of its own under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("auth-demo-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        Self(dir)
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write a file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA and a certificate for `localhost` it signed: (CA certificate, chain file, key file).
fn certificates(dir: &TempDir) -> (rustls::pki_types::CertificateDer<'static>, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().expect("a CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("the CA certificate");
    let key = rcgen::KeyPair::generate().expect("a server key");
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("server parameters");
    let cert = params.signed_by(&key, &ca, &ca_key).expect("the server certificate");
    let chain = dir.file("chain.pem", &format!("{}{}", cert.pem(), ca.pem()));
    let key = dir.file("key.pem", &key.serialize_pem());
    (ca.der().clone(), chain, key)
}

#[test]
fn curl_with_http2_prior_knowledge_gets_health() {
    let version = Command::new("curl").arg("--version").output().unwrap_or_else(|e| {
        panic!("curl is needed by this test and could not be run ({e}); install it (Debian: apt-get install -y curl)")
    });
    let features = String::from_utf8_lossy(&version.stdout);
    assert!(features.contains("HTTP2"), "this curl has no HTTP/2 (nghttp2):\n{features}");

    let (_demo, scheme, addr) = start(&[]);
    assert_eq!(scheme, "http");
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--http2-prior-knowledge", "-w", "\n%{http_code} %{http_version}"])
        .arg(format!("http://{addr}/health"))
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}\n{}", String::from_utf8_lossy(&output.stderr));
    let (body, status) = text.rsplit_once('\n').expect("the status line");
    assert_eq!(status, "200 2", "{text}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(body).expect("JSON"), serde_json::json!({"ok": true}));
}

#[test]
fn with_pikku_tls_cert_and_key_the_demo_answers_over_tls_with_alpn_h2() {
    let dir = TempDir::new("serve");
    let (ca, chain, key) = certificates(&dir);
    let (_demo, scheme, addr) = start(&[("PIKKU_TLS_CERT", &chain), ("PIKKU_TLS_KEY", &key)]);
    assert_eq!(scheme, "https");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).expect("a trust anchor");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let tcp = within(WAIT, "connect", TcpStream::connect(addr)).await.expect("connect");
        let name = ServerName::try_from("localhost").unwrap();
        let tls = within(WAIT, "the handshake", TlsConnector::from(Arc::new(config)).connect(name, tcp))
            .await
            .expect("the TLS handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (send, connection) = within(WAIT, "the HTTP/2 handshake", h2::client::handshake(tls)).await.unwrap();
        let driver = tokio::spawn(connection);
        let mut ready = within(WAIT, "ready", send.ready()).await.unwrap();
        let (response, _) =
            ready.send_request(http::Request::get("https://localhost/health").body(()).unwrap(), true).unwrap();
        let response = within(WAIT, "a response", response).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), http::Version::HTTP_2);
        driver.abort();
    });
}

#[test]
fn only_one_tls_variable_set_refuses_to_start_naming_the_other() {
    let dir = TempDir::new("one");
    let (_, chain, key) = certificates(&dir);
    for (set, missing, value) in
        [("PIKKU_TLS_CERT", "PIKKU_TLS_KEY", &chain), ("PIKKU_TLS_KEY", "PIKKU_TLS_CERT", &key)]
    {
        let (status, stderr) = run_to_exit(&[(set, value)]);
        assert!(!status.success(), "{set} alone: started");
        assert!(stderr.contains(set) && stderr.contains(missing), "{set} alone: {stderr}");
    }
}

#[test]
fn an_unreadable_tls_file_refuses_to_start_naming_the_variable() {
    let dir = TempDir::new("unreadable");
    let (_, chain, key) = certificates(&dir);
    let missing = dir.0.join("no-such-file.pem");
    for (variable, env) in [
        ("PIKKU_TLS_CERT", [("PIKKU_TLS_CERT", &missing), ("PIKKU_TLS_KEY", &key)]),
        ("PIKKU_TLS_KEY", [("PIKKU_TLS_CERT", &chain), ("PIKKU_TLS_KEY", &missing)]),
    ] {
        let (status, stderr) = run_to_exit(&env);
        assert!(!status.success(), "{variable} unreadable: started");
        assert!(stderr.contains(&format!("{variable}: cannot read")), "{variable}: {stderr}");
        assert!(stderr.contains("no-such-file.pem"), "{stderr}");
    }
    // A file that holds no key where the key should be: named too, and nothing of the file is echoed.
    let (status, stderr) = run_to_exit(&[("PIKKU_TLS_CERT", &chain), ("PIKKU_TLS_KEY", &chain)]);
    assert!(!status.success());
    assert!(stderr.contains("PIKKU_TLS_KEY") && stderr.contains("no PEM private key"), "{stderr}");
    assert!(!stderr.contains("BEGIN CERTIFICATE"), "{stderr}");
}
