//! The key set and its builder: HMAC secrets and PEM keys are parsed and checked once, when the service is
//! built, so a bad key stops the application at start-up rather than failing a request.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};

use super::{Algorithm, Inner, JwtConfigError, JwtService, DEFAULT_EXPIRES_IN, DEFAULT_LEEWAY, MIN_HMAC_SECRET_LEN};

/// One verification key, with everything decode needs pre-built.
pub(super) struct KeyEntry {
    pub(super) kid: String,
    /// The one algorithm this key is used with, for signing and verifying alike.
    pub(super) algorithm: Algorithm,
    pub(super) decoding: DecodingKey,
    /// `None` for a verify-only key (a public key without its private half).
    pub(super) encoding: Option<EncodingKey>,
    pub(super) validation: Validation,
}

impl KeyEntry {
    pub(super) fn redacted(&self) -> KeyDebug<'_> {
        KeyDebug { kid: &self.kid, algorithm: self.algorithm, can_sign: self.encoding.is_some() }
    }
}

/// Redacted view of a key for `Debug`: its id and algorithm, never its material.
pub(super) struct KeyDebug<'a> {
    kid: &'a str,
    algorithm: Algorithm,
    can_sign: bool,
}

impl fmt::Debug for KeyDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("can_sign", &self.can_sign)
            .field("material", &"[redacted]")
            .finish()
    }
}

/// A parsed key waiting for [`JwtServiceBuilder::build`].
struct PendingKey {
    kid: String,
    algorithm: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
}

/// Builds a [`JwtService`] with a key set, asymmetric keys, leeway, issuer and audience.
///
/// Keys are parsed as they are added; errors are reported by [`JwtServiceBuilder::build`]. The first key
/// added signs new tokens; every key verifies, so a key can be rotated out without logging anyone out.
///
/// ```
/// use std::time::Duration;
/// use pikku_auth::jwt::JwtService;
///
/// let new_secret = [1u8; 32]; // from configuration, never from source code
/// let old_secret = [2u8; 32];
/// let jwt = JwtService::builder()
///     .hs256_key("2024-06", new_secret) // signs, and verifies
///     .hs256_key("2024-01", old_secret) // verifies tokens minted before the rotation
///     .issuer("https://auth.example.com")
///     .audience("my-app")
///     .leeway(Duration::from_secs(2))
///     .build()?;
/// # Ok::<(), pikku_auth::jwt::JwtConfigError>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct JwtServiceBuilder {
    keys: Vec<Result<PendingKey, JwtConfigError>>,
    leeway: Duration,
    issuer: Option<String>,
    audience: Option<String>,
    default_expires_in: Duration,
    user_claim: Option<String>,
}

impl fmt::Debug for JwtServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<_> = self
            .keys
            .iter()
            .map(|k| match k {
                Ok(k) => Ok(KeyDebug { kid: &k.kid, algorithm: k.algorithm, can_sign: k.encoding.is_some() }),
                Err(e) => Err(e),
            })
            .collect();
        f.debug_struct("JwtServiceBuilder")
            .field("keys", &keys)
            .field("leeway", &self.leeway)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("default_expires_in", &self.default_expires_in)
            .field("user_claim", &self.user_claim)
            .finish()
    }
}

impl Default for JwtServiceBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl JwtServiceBuilder {
    /// An empty builder: no keys, [`DEFAULT_LEEWAY`], [`DEFAULT_EXPIRES_IN`], no issuer, no audience.
    pub fn new() -> Self {
        Self {
            keys: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            issuer: None,
            audience: None,
            default_expires_in: DEFAULT_EXPIRES_IN,
            user_claim: None,
        }
    }

    /// Adds an HS256 key with a random 32-byte secret (for a development server with no configured secret:
    /// tokens do not survive a restart, nor verify on another instance).
    pub fn hs256_random_key(self, kid: impl Into<String>) -> Self {
        use rand::RngCore as _;
        let mut secret = [0u8; MIN_HMAC_SECRET_LEN];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let builder = self.hs256_key(kid, secret);
        secret.fill(0);
        builder
    }

    /// Adds an HS256 key of at least [`MIN_HMAC_SECRET_LEN`] bytes (a shorter one makes
    /// [`build`](Self::build) fail with [`JwtConfigError::SecretTooShort`]).
    pub fn hs256_key(mut self, kid: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        let kid = kid.into();
        let secret = secret.as_ref();
        let key = if kid.is_empty() {
            Err(JwtConfigError::EmptyKeyId)
        } else if secret.len() < MIN_HMAC_SECRET_LEN {
            // RFC 8725 §3.5 (keys with sufficient entropy) and RFC 7518 §3.2 (an HMAC key at least as long as
            // the hash output). The length is the part of that which can be checked here: a 32-character
            // password still passes, so secrets should be random bytes.
            Err(JwtConfigError::SecretTooShort { kid, min: MIN_HMAC_SECRET_LEN })
        } else {
            Ok(PendingKey {
                kid,
                algorithm: Algorithm::HS256,
                decoding: DecodingKey::from_secret(secret),
                encoding: Some(EncodingKey::from_secret(secret)),
            })
        };
        self.keys.push(key);
        self
    }

    /// Adds an RSA key (RS256/RS384/RS512/PS256/PS384/PS512) from PEM (PKCS#1 or PKCS#8). Without a private
    /// key it only verifies.
    pub fn rsa_pem(
        self,
        kid: impl Into<String>,
        algorithm: Algorithm,
        private_pem: Option<&[u8]>,
        public_pem: &[u8],
    ) -> Self {
        let pem =
            PemKey { private_pem, public_pem, private: EncodingKey::from_rsa_pem, public: DecodingKey::from_rsa_pem };
        self.pem_key(kid.into(), algorithm, AlgorithmFamily::Rsa, pem)
    }

    /// Adds an ECDSA key (ES256/ES384) from PEM (PKCS#8 private key). Without a private key it only verifies.
    pub fn ec_pem(
        self,
        kid: impl Into<String>,
        algorithm: Algorithm,
        private_pem: Option<&[u8]>,
        public_pem: &[u8],
    ) -> Self {
        let pem =
            PemKey { private_pem, public_pem, private: EncodingKey::from_ec_pem, public: DecodingKey::from_ec_pem };
        self.pem_key(kid.into(), algorithm, AlgorithmFamily::Ec, pem)
    }

    /// Adds an Ed25519 (EdDSA) key from PEM. Without a private key it only verifies.
    pub fn ed_pem(self, kid: impl Into<String>, private_pem: Option<&[u8]>, public_pem: &[u8]) -> Self {
        let pem =
            PemKey { private_pem, public_pem, private: EncodingKey::from_ed_pem, public: DecodingKey::from_ed_pem };
        self.pem_key(kid.into(), Algorithm::EdDSA, AlgorithmFamily::Ed, pem)
    }

    fn pem_key(mut self, kid: String, algorithm: Algorithm, family: AlgorithmFamily, pem: PemKey<'_>) -> Self {
        self.keys.push(parse_pem_key(kid, algorithm, family, pem));
        self
    }

    /// Clock-skew leeway for `exp`, `nbf` and `iat`, in whole seconds. By default [`DEFAULT_LEEWAY`] (5 s).
    pub fn leeway(mut self, d: Duration) -> Self {
        self.leeway = d;
        self
    }

    /// Requires and enforces this `iss`; minted tokens carry it. By default there is no issuer: tokens carry
    /// none and any `iss` is accepted.
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuer = Some(iss.into());
        self
    }

    /// Requires and enforces this `aud`; minted tokens carry it. By default there is no audience: tokens
    /// carry none and a token that names one is refused.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audience = Some(aud.into());
        self
    }

    /// Lifetime used by [`JwtService::sign`]. By default [`DEFAULT_EXPIRES_IN`] (1 hour).
    pub fn default_expires_in(mut self, d: Duration) -> Self {
        self.default_expires_in = d;
        self
    }

    /// The session field that names the user (for example `"userId"`): what log-out-everywhere
    /// ([`revoke_user_sessions`](crate::revoke_user_sessions)) revokes by. Every token whose session has this
    /// field as a string is checked against the user's cut-off; by default none is configured and
    /// log-out-everywhere is refused.
    pub fn user_claim(mut self, field: impl Into<String>) -> Self {
        self.user_claim = Some(field.into());
        self
    }

    /// Builds the service.
    ///
    /// # Errors
    /// [`JwtConfigError`]: no key, a key that failed to parse (short secret, bad PEM, mismatched key pair,
    /// wrong algorithm for the key), a duplicate key id, or a first key that cannot sign.
    pub fn build(self) -> Result<JwtService, JwtConfigError> {
        let mut pending = Vec::with_capacity(self.keys.len());
        for key in self.keys {
            let key = key?;
            if pending.iter().any(|k: &PendingKey| k.kid == key.kid) {
                return Err(JwtConfigError::DuplicateKeyId(key.kid));
            }
            pending.push(key);
        }
        let first = pending.first().ok_or(JwtConfigError::NoKeys)?;
        if first.encoding.is_none() {
            return Err(JwtConfigError::FirstKeyCannotSign { kid: first.kid.clone() });
        }
        // Minted tokens name their key, so a verifier holding several keys picks it by id. `Header::new`
        // also sets `typ: "JWT"`.
        let mut signing_header = Header::new(first.algorithm);
        signing_header.kid = Some(first.kid.clone());

        let leeway_secs = self.leeway.as_secs();
        let keys = pending
            .into_iter()
            .map(|k| {
                // RFC 8725 §3.1: each key is used with exactly one algorithm, its own. The token's `alg` must
                // equal it (see `header.rs`); it never chooses one.
                let mut validation = Validation::new(k.algorithm);
                // RFC 7519 §4.1.4: a small leeway for clock skew, applied to `exp`, `nbf` (and `iat`, which
                // `claims.rs` checks).
                validation.leeway = leeway_secs;
                validation.validate_exp = true;
                // RFC 7519 §4.1.5: not before `nbf`.
                validation.validate_nbf = true;
                // RFC 7519 §4.1.3: a token that names an audience is refused unless it is ours, including
                // when none is configured.
                validation.validate_aud = true;
                // `exp` is required, but checked after decoding (`claims.rs`): listing it here would make
                // jsonwebtoken report a non-numeric `exp` as missing rather than invalid. `validate_exp` still
                // refuses expired and non-numeric values.
                validation.required_spec_claims.clear();
                // RFC 8725 §3.8 and §3.9: once configured, `iss` and `aud` must be present and be ours.
                if let Some(iss) = &self.issuer {
                    validation.set_issuer(&[iss]);
                    validation.required_spec_claims.insert("iss".to_owned());
                }
                if let Some(aud) = &self.audience {
                    validation.set_audience(&[aud]);
                    validation.required_spec_claims.insert("aud".to_owned());
                }
                KeyEntry { kid: k.kid, algorithm: k.algorithm, decoding: k.decoding, encoding: k.encoding, validation }
            })
            .collect();

        Ok(JwtService {
            inner: Arc::new(Inner {
                keys,
                signing_header,
                leeway_secs: i64::try_from(leeway_secs).unwrap_or(i64::MAX),
                issuer: self.issuer,
                audience: self.audience,
                default_expires_in: self.default_expires_in,
                user_claim: self.user_claim,
            }),
        })
    }
}

/// A key pair in PEM, with the parsers for its family.
struct PemKey<'a> {
    private_pem: Option<&'a [u8]>,
    public_pem: &'a [u8],
    private: fn(&[u8]) -> jsonwebtoken::errors::Result<EncodingKey>,
    public: fn(&[u8]) -> jsonwebtoken::errors::Result<DecodingKey>,
}

fn parse_pem_key(
    kid: String,
    algorithm: Algorithm,
    family: AlgorithmFamily,
    pem: PemKey<'_>,
) -> Result<PendingKey, JwtConfigError> {
    if kid.is_empty() {
        return Err(JwtConfigError::EmptyKeyId);
    }
    // RFC 8725 §3.1: a key of one family is never used with another family's algorithm (an RSA public key
    // must never become an HMAC secret).
    if algorithm.family() != family {
        return Err(JwtConfigError::AlgorithmMismatch { kid, algorithm });
    }
    let decoding = match (pem.public)(pem.public_pem) {
        Ok(k) => k,
        Err(_) => return Err(JwtConfigError::InvalidPem { kid, part: "public" }),
    };
    let encoding = match pem.private_pem.map(pem.private) {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(_)) => return Err(JwtConfigError::InvalidPem { kid, part: "private" }),
    };
    // Once, at construction: prove the pair works (this also catches a key of the wrong curve or size for the
    // algorithm).
    if let Some(enc) = &encoding {
        const PROBE: &[u8] = b"pikku-jwt-key-check";
        let works = jsonwebtoken::crypto::sign(PROBE, enc, algorithm)
            .and_then(|sig| jsonwebtoken::crypto::verify(&sig, PROBE, &decoding, algorithm));
        match works {
            Ok(true) => {}
            Ok(false) => return Err(JwtConfigError::KeyMismatch { kid }),
            Err(_) => return Err(JwtConfigError::AlgorithmMismatch { kid, algorithm }),
        }
    }
    Ok(PendingKey { kid, algorithm, decoding, encoding })
}

#[cfg(test)]
mod tests;
