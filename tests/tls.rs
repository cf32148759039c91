//! TLS (feature `tls`): ALPN picks HTTP/2 or HTTP/1.1, a client without ALPN gets HTTP/1.1, the handshake
//! is bounded by the header read timeout and never holds up other clients, and certificate files that
//! cannot be used are refused with the file and the reason (docs/tls.md). Certificates are made here
//! with rcgen: a CA, and a server certificate for `localhost` and 127.0.0.1 signed by it.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use pikku::prelude::*;
use pikku::testing::{within, TestServer, WAIT};
use pikku::{TlsConfig, TlsError};
use rustls::pki_types::{CertificateDer, ServerName};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

pub struct Services;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    user: String,
}

mod functions {
    use super::*;

    #[derive(Serialize)]
    pub(crate) struct Status {
        pub ok: bool,
    }

    #[pikku_func(auth = false)]
    pub(crate) async fn health(
        _s: &Services,
        _data: (),
        _ctx: &OptionalContext<Session>,
    ) -> Result<Status, PikkuError> {
        Ok(Status { ok: true })
    }
}

use functions::*;

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.get("/health", health);
}

const SHORT: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------------------------------------------
// Certificates

/// A CA and a server certificate it signed, in PEM, and the CA's certificate for clients to trust.
struct Pki {
    ca: CertificateDer<'static>,
    chain_pem: String,
    key_pem: String,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().expect("a CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "pikku test CA");
    let ca = ca_params.self_signed(&ca_key).expect("the CA certificate");
    let server_key = rcgen::KeyPair::generate().expect("a server key");
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("server parameters");
    let server = params.signed_by(&server_key, &ca, &ca_key).expect("the server certificate");
    Pki {
        ca: ca.der().clone(),
        chain_pem: format!("{}{}", server.pem(), ca.pem()),
        key_pem: server_key.serialize_pem(),
    }
}

/// A directory of its own under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("pikku-tls-{name}-{}", std::process::id()));
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

async fn tls_server(pki: &Pki, app: App<Services, Session>) -> TestServer {
    let tls = TlsConfig::from_pem(pki.chain_pem.as_bytes(), pki.key_pem.as_bytes()).expect("the test certificate");
    TestServer::start(app.tls(tls).build(Services).expect("the application starts")).await
}

// ---------------------------------------------------------------------------------------------------
// Clients

/// A TLS client trusting the test CA, offering `alpn`.
async fn tls_connect(addr: SocketAddr, ca: &CertificateDer<'static>, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).expect("the CA is a valid trust anchor");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = within(WAIT, "connect", TcpStream::connect(addr)).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("a server name");
    within(WAIT, "the TLS handshake", TlsConnector::from(Arc::new(config)).connect(name, tcp))
        .await
        .expect("the TLS handshake")
}

/// `GET /health` over HTTP/2 on `tls`: status and version.
async fn get_over_http2(tls: TlsStream<TcpStream>) -> (u16, http::Version) {
    let (send, connection) = within(WAIT, "the HTTP/2 handshake", h2::client::handshake(tls)).await.expect("h2");
    let driver = tokio::spawn(connection);
    let mut ready = within(WAIT, "ready", send.ready()).await.expect("ready");
    let request = http::Request::get("https://localhost/health").body(()).unwrap();
    let (response, _) = ready.send_request(request, true).expect("send");
    let response = within(WAIT, "a response", response).await.expect("a response");
    let (status, version) = (response.status().as_u16(), response.version());
    driver.abort();
    (status, version)
}

/// `GET /health` over HTTP/1.1 on `tls` (hyper's client): status and version.
async fn get_over_http1(tls: TlsStream<TcpStream>) -> (u16, http::Version) {
    let (mut send, connection) =
        within(WAIT, "the HTTP/1.1 handshake", hyper::client::conn::http1::handshake(TokioIo::new(tls)))
            .await
            .expect("http1");
    let driver = tokio::spawn(connection);
    let request =
        http::Request::get("/health").header("host", "localhost").body(Empty::<Bytes>::new()).expect("a request");
    let response = within(WAIT, "a response", send.send_request(request)).await.expect("a response");
    let (status, version) = (response.status().as_u16(), response.version());
    let body = within(WAIT, "the body", response.into_body().collect()).await.expect("the body").to_bytes();
    assert_eq!(&body[..], br#"{"ok":true}"#);
    driver.abort();
    (status, version)
}

// ---------------------------------------------------------------------------------------------------
// ALPN

#[tokio::test]
async fn alpn_h2_gets_http2() {
    let pki = pki();
    let app = tls_server(&pki, App::new()).await;
    let tls = tls_connect(app.addr(), &pki.ca, &[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "h2 is preferred");
    assert_eq!(get_over_http2(tls).await, (200, http::Version::HTTP_2));
}

#[tokio::test]
async fn alpn_http11_gets_http1() {
    let pki = pki();
    let app = tls_server(&pki, App::new()).await;
    let tls = tls_connect(app.addr(), &pki.ca, &[b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(get_over_http1(tls).await, (200, http::Version::HTTP_11));
}

#[tokio::test]
async fn a_client_without_alpn_gets_http1() {
    let pki = pki();
    let app = tls_server(&pki, App::new()).await;
    let tls = tls_connect(app.addr(), &pki.ca, &[]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    assert_eq!(get_over_http1(tls).await, (200, http::Version::HTTP_11));
}

#[tokio::test]
async fn a_client_without_alpn_may_speak_http2_with_prior_knowledge() {
    let pki = pki();
    let app = tls_server(&pki, App::new()).await;
    let tls = tls_connect(app.addr(), &pki.ca, &[]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    assert_eq!(get_over_http2(tls).await, (200, http::Version::HTTP_2));
}

#[tokio::test]
async fn a_tls_server_does_not_answer_clear_text() {
    let pki = pki();
    let app = tls_server(&pki, App::new()).await;
    let mut clear = within(WAIT, "connect", TcpStream::connect(app.addr())).await.unwrap();
    clear.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let mut received = Vec::new();
    let _ = within(WAIT, "the server drops the clear-text client", clear.read_to_end(&mut received)).await;
    assert!(!received.starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&received));
}

// ---------------------------------------------------------------------------------------------------
// The handshake's deadline

#[tokio::test]
async fn a_client_that_never_handshakes_is_dropped_after_the_header_read_timeout_and_others_are_served() {
    let pki = pki();
    let app = tls_server(&pki, App::new().header_read_timeout(SHORT)).await;
    let mut silent = within(WAIT, "connect", TcpStream::connect(app.addr())).await.unwrap();
    // Half a ClientHello's record header, then nothing.
    silent.write_all(&[0x16, 0x03]).await.unwrap();
    let started = Instant::now();

    // Others handshake and are served meanwhile, promptly.
    for _ in 0..3 {
        let tls = within(Duration::from_secs(2), "a handshake", tls_connect(app.addr(), &pki.ca, &[b"h2"])).await;
        assert_eq!(get_over_http2(tls).await.0, 200);
    }
    assert!(started.elapsed() < SHORT, "served only after the silent client was dropped: {:?}", started.elapsed());

    let mut received = Vec::new();
    let _ = within(WAIT, "the server drops the silent client", silent.read_to_end(&mut received)).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= SHORT - Duration::from_millis(50), "dropped too early: {elapsed:?}");
    assert!(elapsed < SHORT + Duration::from_secs(2), "dropped too late: {elapsed:?}");
}

// ---------------------------------------------------------------------------------------------------
// Certificate files

fn refused(cert: &Path, key: &Path) -> TlsError {
    TlsConfig::from_pem_files(cert, key).expect_err("refused")
}

#[test]
fn certificate_files_are_read_and_what_cannot_be_used_is_named() {
    let pki = pki();
    let dir = TempDir::new("files");
    let chain = dir.file("chain.pem", &pki.chain_pem);
    let key = dir.file("key.pem", &pki.key_pem);
    let config = TlsConfig::from_pem_files(&chain, &key).expect("the files are usable");
    assert!(format!("{config:?}").contains("h2"), "{config:?}");
    // One file holding both is fine too.
    let both = dir.file("both.pem", &format!("{}{}", pki.chain_pem, pki.key_pem));
    TlsConfig::from_pem_files(&both, &both).expect("a combined file is usable");

    let missing = dir.0.join("missing.pem");
    let error = refused(&missing, &key);
    assert!(matches!(error, TlsError::Unreadable { .. }), "{error:?}");
    assert_eq!(error.path(), Some(missing.as_path()));
    assert!(error.to_string().contains("missing.pem"), "{error}");
    let error = refused(&chain, &missing);
    assert_eq!(error.path(), Some(missing.as_path()), "{error}");

    let error = refused(&key, &key);
    assert!(matches!(error, TlsError::NoCertificate { .. }), "{error:?}");
    assert!(error.to_string().contains("key.pem") && error.to_string().contains("certificate"), "{error}");
    let error = refused(&chain, &chain);
    assert!(matches!(error, TlsError::NoPrivateKey { .. }), "{error:?}");
    assert!(error.to_string().contains("private key"), "{error}");

    let broken = dir.file("broken.pem", "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n");
    let error = refused(&broken, &key);
    assert!(matches!(error, TlsError::InvalidPem { .. } | TlsError::NoCertificate { .. }), "{error:?}");
    assert_eq!(error.path(), Some(broken.as_path()));

    let other = pki_other_key(&dir);
    let error = refused(&chain, &other);
    assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error:?}");
    assert!(error.to_string().contains("does not match"), "{error}");
    // Nothing of the key in any message.
    let secret_line = pki.key_pem.lines().nth(1).expect("a base64 line");
    for error in [refused(&chain, &other), refused(&chain, &chain), refused(&broken, &key)] {
        assert!(!error.to_string().contains(secret_line), "{error}");
    }
}

/// A private key of its own, not the certificate's.
fn pki_other_key(dir: &TempDir) -> PathBuf {
    let other = rcgen::KeyPair::generate().expect("a key");
    dir.file("other-key.pem", &other.serialize_pem())
}
