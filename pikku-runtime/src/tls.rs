//! TLS (feature `tls`): rustls with the *ring* provider, a certificate chain and its private key from PEM,
//! ALPN `h2` and `http/1.1` (docs/tls.md).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The protocols offered in ALPN, preferred first: a client that offers both gets HTTP/2.
const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// A server certificate chain and its private key, ready to serve TLS 1.3 and 1.2 with ALPN `h2` and
/// `http/1.1`. Cheap to clone. Give it to [`App::tls`](crate::App::tls) (or [`ServerConfig::tls`](crate::ServerConfig::tls)).
///
/// ```no_run
/// # use pikku_runtime::{App, TlsConfig};
/// # #[derive(Clone)] struct Session;
/// # struct Services;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tls = TlsConfig::from_pem_files("/etc/pikku/chain.pem", "/etc/pikku/key.pem")?;
/// let app = App::<Services, Session>::new().tls(tls);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    server: Arc<rustls::ServerConfig>,
}

impl TlsConfig {
    /// Reads a PEM certificate chain (the server's certificate first, then its intermediates) from `cert`
    /// and a PEM private key (PKCS #8, PKCS #1 or SEC1) from `key`.
    ///
    /// # Errors
    /// A [`TlsError`] naming the file and the problem: unreadable, no certificate, no private key, not
    /// valid PEM, or a key that does not belong to the certificate.
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self, TlsError> {
        let (cert, key) = (cert.as_ref(), key.as_ref());
        let read =
            |path: &Path| std::fs::read(path).map_err(|source| TlsError::Unreadable { path: path.to_owned(), source });
        let (cert_pem, key_pem) = (read(cert)?, read(key)?);
        Self::build(&cert_pem, cert, &key_pem, key)
    }

    /// [`from_pem_files`](Self::from_pem_files) from PEM text in memory; errors name the files as
    /// `<certificate>` and `<private key>`.
    ///
    /// # Errors
    /// As [`from_pem_files`](Self::from_pem_files), except that nothing is read from disk.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        Self::build(cert_pem, Path::new("<certificate>"), key_pem, Path::new("<private key>"))
    }

    fn build(cert_pem: &[u8], cert: &Path, key_pem: &[u8], key: &Path) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::from_pem(e, cert, PemKind::Certificate))?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate { path: cert.to_owned() });
        }
        let private_key =
            PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::from_pem(e, key, PemKind::PrivateKey))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Refused { reason: e.to_string() })?
            .with_no_client_auth()
            .with_single_cert(chain, private_key)
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => {
                    TlsError::KeyMismatch { cert: cert.to_owned(), key: key.to_owned() }
                }
                other => TlsError::Refused { reason: other.to_string() },
            })?;
        server.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
        Ok(Self { server: Arc::new(server) })
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(Arc::clone(&self.server))
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alpn: Vec<_> = self.server.alpn_protocols.iter().map(|p| String::from_utf8_lossy(p)).collect();
        // Never the key: only what a client can see anyway.
        f.debug_struct("TlsConfig").field("alpn", &alpn).finish_non_exhaustive()
    }
}

#[derive(Clone, Copy)]
enum PemKind {
    Certificate,
    PrivateKey,
}

/// Why a certificate chain and key could not be loaded. Messages name the file, never its contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The certificate file holds no `CERTIFICATE` section.
    #[error("{} holds no PEM certificate (a `-----BEGIN CERTIFICATE-----` section)", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key section.
    #[error(
        "{} holds no PEM private key (a `-----BEGIN PRIVATE KEY-----`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` section)",
        path.display()
    )]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid PEM.
    #[error("{} is not valid PEM: {reason}", path.display())]
    InvalidPem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The private key does not belong to the chain's first certificate.
    #[error("the private key in {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the certificate or the key (an unsupported key type, for example).
    #[error("the certificate or private key is not usable: {reason}")]
    Refused {
        /// rustls's reason.
        reason: String,
    },
}

impl TlsError {
    /// The one file at fault, when the error is about one (not for [`KeyMismatch`](Self::KeyMismatch) or
    /// [`Refused`](Self::Refused)).
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Unreadable { path, .. }
            | Self::NoCertificate { path }
            | Self::NoPrivateKey { path }
            | Self::InvalidPem { path, .. } => Some(path),
            Self::KeyMismatch { .. } | Self::Refused { .. } => None,
        }
    }

    fn from_pem(error: pem::Error, path: &Path, kind: PemKind) -> Self {
        let path = path.to_owned();
        // The reasons are ours: pem's own messages may quote a line of the file.
        let reason = match error {
            pem::Error::NoItemsFound => {
                return match kind {
                    PemKind::Certificate => Self::NoCertificate { path },
                    PemKind::PrivateKey => Self::NoPrivateKey { path },
                }
            }
            pem::Error::Io(source) => return Self::Unreadable { path, source },
            pem::Error::MissingSectionEnd { .. } => "a section has no `-----END` line",
            pem::Error::IllegalSectionStart { .. } => "a malformed `-----BEGIN` line",
            pem::Error::Base64Decode(_) => "a section is not valid base64",
            _ => "the file could not be parsed",
        };
        Self::InvalidPem { path, reason }
    }
}
