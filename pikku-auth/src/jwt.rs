//! The JWT service: mints and verifies session tokens.
//!
//! * Default HS256 with a key set: the first key signs (its id goes in the
//!   `kid` header), every key verifies, so keys rotate without logging anyone
//!   out. RS*/PS*, ES256/ES384 and EdDSA keys can be loaded from PEM.
//! * The accepted algorithm is pinned per key: the key is chosen by `kid` and
//!   the token's `alg` header must equal that key's algorithm. A token without
//!   `kid` (as older Pikku TypeScript services mint) is checked against the
//!   signing key only.
//! * `exp` is required and must be a number; `nbf` and `iat` in the future
//!   (beyond the leeway) are refused; `iss` / `aud` are required and enforced
//!   once configured.
//! * Payload layout (same as Pikku's TypeScript jose service): the session's
//!   fields at the top level plus `iat`, `exp` and `jti` (integer seconds
//!   since the epoch). `jti` is `<session_id>.<token_nonce>`, both random
//!   base64url without padding.
//!
//! Session types must not use the field names `iat`, `exp`, `jti`, `nbf`,
//! `iss`, `aud` or `sub`: those are owned by the token and never reach the
//! session.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore as _;
use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer, StrDeserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

pub use jsonwebtoken::Algorithm;

/// Default clock-skew leeway applied to `exp`, `nbf` and `iat`.
///
/// Small on purpose: it only needs to absorb clock drift between the machines
/// that mint and verify tokens (NTP keeps that well under a second), and every
/// second of leeway is a second an expired token keeps working.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);

/// Default lifetime of a minted token (1 hour).
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(60 * 60);

/// Minimum length of an HMAC secret, in bytes (the HS256 output size, per
/// RFC 7518 §3.2).
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// Key id used by [`JwtService::hs256`].
const PRIMARY_KID: &str = "primary";
/// Random bytes in a session id (22 base64url characters).
const SESSION_ID_BYTES: usize = 16;
/// Random bytes in a per-token nonce (12 base64url characters).
const NONCE_BYTES: usize = 9;
/// Longest session id accepted by [`JwtService::encode_for_session`].
const MAX_SESSION_ID_LEN: usize = 128;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Configuration error raised while building a [`JwtService`].
///
/// Messages name the key id but never print key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtConfigError {
    /// No key was configured.
    #[error("the JWT service needs at least one key")]
    NoKeys,
    /// A key id was empty.
    #[error("a JWT key id must not be empty")]
    EmptyKeyId,
    /// Two keys share an id.
    #[error("duplicate JWT key id `{0}`")]
    DuplicateKeyId(String),
    /// An HMAC secret is shorter than [`MIN_HMAC_SECRET_LEN`].
    #[error("the HMAC secret for JWT key `{kid}` is too short: at least {min} bytes are required")]
    SecretTooShort {
        /// Key id.
        kid: String,
        /// Minimum length in bytes.
        min: usize,
    },
    /// The algorithm does not fit the kind of key it was given for.
    #[error("JWT key `{kid}`: algorithm {algorithm:?} cannot be used with this kind of key")]
    AlgorithmMismatch {
        /// Key id.
        kid: String,
        /// The algorithm that was requested.
        algorithm: Algorithm,
    },
    /// A PEM document could not be parsed as the expected kind of key.
    #[error("JWT key `{kid}`: the {part} key PEM could not be parsed")]
    InvalidPem {
        /// Key id.
        kid: String,
        /// `"private"` or `"public"`.
        part: &'static str,
    },
    /// The private key does not produce signatures the public key accepts.
    #[error("JWT key `{kid}`: the private and public keys do not match")]
    KeyMismatch {
        /// Key id.
        kid: String,
    },
    /// The first key signs new tokens, but it has no private key.
    #[error("the first JWT key `{kid}` signs new tokens but has no private key")]
    FirstKeyCannotSign {
        /// Key id.
        kid: String,
    },
}

/// Error minting or verifying a token. Messages never contain the token or
/// key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not a well-formed JWT (shape, base64, header JSON, `crit` header).
    #[error("malformed token")]
    Malformed,
    /// The signature does not verify.
    #[error("invalid token signature")]
    BadSignature,
    /// The header's `alg` is not the algorithm of the selected key.
    #[error("token algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The header's `kid` names no configured key.
    #[error("unknown token key id")]
    UnknownKey,
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// The token has no `exp` claim.
    #[error("token has no expiry")]
    MissingExpiry,
    /// A required claim (`iss` or `aud` once configured) is absent.
    #[error("token is missing the `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong type (e.g. `exp` as a string).
    #[error("token claim `{0}` is invalid")]
    InvalidClaim(&'static str),
    /// `iss` is not the configured issuer.
    #[error("token issuer not accepted")]
    WrongIssuer,
    /// `aud` is not the configured audience (or is present while none is
    /// configured).
    #[error("token audience not accepted")]
    WrongAudience,
    /// The payload holds only registered claims: there is no session in it.
    #[error("token payload holds no session")]
    NotASession,
    /// The payload does not deserialize into the session type.
    #[error("token payload does not match the session type")]
    InvalidPayload,
    /// The session id given to [`JwtService::encode_for_session`] is not a
    /// non-empty base64url string.
    #[error("invalid session id")]
    InvalidSessionId,
    /// Minting failed.
    #[error("could not mint token: {0}")]
    Encoding(String),
}

fn map_decode_error(err: jsonwebtoken::errors::Error) -> JwtError {
    match err.kind() {
        ErrorKind::InvalidSignature => JwtError::BadSignature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::InvalidAlgorithmName => JwtError::AlgorithmNotAllowed,
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::ImmatureSignature => JwtError::NotYetValid,
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "exp" => JwtError::MissingExpiry,
            "iss" => JwtError::MissingClaim("iss"),
            "aud" => JwtError::MissingClaim("aud"),
            "nbf" => JwtError::MissingClaim("nbf"),
            _ => JwtError::MissingClaim("sub"),
        },
        ErrorKind::InvalidClaimFormat(claim) => match claim.as_str() {
            "exp" => JwtError::InvalidClaim("exp"),
            _ => JwtError::InvalidClaim("nbf"),
        },
        ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
        ErrorKind::InvalidAudience => JwtError::WrongAudience,
        ErrorKind::InvalidSubject => JwtError::InvalidClaim("sub"),
        ErrorKind::Json(_) => JwtError::InvalidPayload,
        // Key problems are caught at construction; if one slips through, the
        // token simply does not verify.
        ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat
        | ErrorKind::RsaFailedSigning
        | ErrorKind::Signing(_)
        | ErrorKind::Provider(_) => JwtError::BadSignature,
        _ => JwtError::Malformed,
    }
}

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/// One verification key, with everything decode needs pre-built.
struct KeyEntry {
    kid: String,
    algorithm: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
}

struct Inner {
    /// `keys[0]` signs; all verify.
    keys: Vec<KeyEntry>,
    /// Header for minted tokens (`alg` and `kid` of `keys[0]`).
    signing_header: Header,
    leeway_secs: i64,
    issuer: Option<String>,
    audience: Option<String>,
    default_expires_in: Duration,
}

/// Mints and verifies JWT session tokens. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct JwtService {
    inner: Arc<Inner>,
}

impl fmt::Debug for JwtService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let keys: Vec<_> = inner
            .keys
            .iter()
            .map(|k| KeyDebug { kid: &k.kid, algorithm: k.algorithm, can_sign: k.encoding.is_some() })
            .collect();
        f.debug_struct("JwtService")
            .field("keys", &keys)
            .field("leeway_secs", &inner.leeway_secs)
            .field("issuer", &inner.issuer)
            .field("audience", &inner.audience)
            .field("default_expires_in", &inner.default_expires_in)
            .finish()
    }
}

/// Redacted view of a key for `Debug`.
struct KeyDebug<'a> {
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

/// A verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedToken<S> {
    /// The session (the payload's non-registered fields).
    pub session: S,
    /// `iat`, seconds since the epoch, if present.
    pub issued_at: Option<i64>,
    /// `exp`, seconds since the epoch.
    pub expires_at: i64,
    /// `jti`, if present (tokens from Pikku's TypeScript service have none).
    pub jti: Option<String>,
}

impl<S> DecodedToken<S> {
    /// The session id: the part of `jti` before the first `.`, or the whole
    /// `jti`; `None` without `jti`.
    pub fn session_id(&self) -> Option<&str> {
        self.jti.as_deref().map(|jti| jti.split_once('.').map_or(jti, |(sid, _)| sid))
    }
}

impl JwtService {
    /// HS256 with one key; kid `"primary"`.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, JwtConfigError> {
        Self::builder().hs256_key(PRIMARY_KID, secret).build()
    }

    /// HS256 with a random 32-byte secret (for a demo with no configured
    /// secret: tokens do not survive a restart).
    pub fn hs256_random() -> Self {
        let mut secret = [0u8; MIN_HMAC_SECRET_LEN];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let service = Self::hs256(secret).expect("a 32-byte HMAC secret is always valid");
        secret.fill(0);
        service
    }

    /// A builder for key sets, asymmetric keys, leeway, issuer and audience.
    pub fn builder() -> JwtServiceBuilder {
        JwtServiceBuilder::new()
    }

    /// Mint a token for a new session with the default lifetime
    /// ([`JwtServiceBuilder::default_expires_in`], 1 hour unless set).
    pub fn sign<S: Serialize>(&self, session: &S) -> Result<String, JwtError> {
        self.mint(self.inner.default_expires_in, session, None)
    }

    /// Pikku's `JWTService.encode(expiresIn, payload)`: a token for a new
    /// session id.
    pub fn encode<S: Serialize>(&self, expires_in: Duration, session: &S) -> Result<String, JwtError> {
        self.mint(expires_in, session, None)
    }

    /// Mint a token continuing an existing session id (refresh): same session
    /// id, new nonce, new `iat`/`exp`.
    pub fn encode_for_session<S: Serialize>(
        &self,
        expires_in: Duration,
        session: &S,
        session_id: &str,
    ) -> Result<String, JwtError> {
        let valid = !session_id.is_empty()
            && session_id.len() <= MAX_SESSION_ID_LEN
            && session_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(JwtError::InvalidSessionId);
        }
        self.mint(expires_in, session, Some(session_id))
    }

    /// The lifetime [`JwtService::sign`] uses.
    pub fn default_expires_in(&self) -> Duration {
        self.inner.default_expires_in
    }

    fn mint<S: Serialize>(
        &self,
        expires_in: Duration,
        session: &S,
        session_id: Option<&str>,
    ) -> Result<String, JwtError> {
        let inner = &*self.inner;
        let key = inner.keys[0]
            .encoding
            .as_ref()
            .ok_or_else(|| JwtError::Encoding("the signing key has no private key".into()))?;

        let iat = now_secs();
        // Round sub-second lifetimes up so a token never expires early.
        let lifetime = expires_in.as_secs().saturating_add(u64::from(expires_in.subsec_nanos() > 0));
        let exp = i64::try_from(lifetime)
            .ok()
            .and_then(|l| iat.checked_add(l))
            .ok_or_else(|| JwtError::Encoding("expiry out of range".into()))?;

        let mut rng = rand::thread_rng();
        let mut jti = String::with_capacity(session_id.map_or(22, str::len) + 1 + NONCE_BYTES.div_ceil(3) * 4);
        match session_id {
            Some(sid) => jti.push_str(sid),
            None => {
                let mut sid = [0u8; SESSION_ID_BYTES];
                rng.fill_bytes(&mut sid);
                URL_SAFE_NO_PAD.encode_string(sid, &mut jti);
            }
        }
        jti.push('.');
        let mut nonce = [0u8; NONCE_BYTES];
        rng.fill_bytes(&mut nonce);
        URL_SAFE_NO_PAD.encode_string(nonce, &mut jti);

        let claims =
            MintClaims { session, iat, exp, jti: &jti, iss: inner.issuer.as_deref(), aud: inner.audience.as_deref() };
        jsonwebtoken::encode(&inner.signing_header, &claims, key).map_err(|e| match e.kind() {
            ErrorKind::Json(json) => JwtError::Encoding(format!("the session must serialize to a JSON object: {json}")),
            _ => JwtError::Encoding("signing failed".into()),
        })
    }

    /// Verify a token and decode its session.
    pub fn decode<S: DeserializeOwned>(&self, token: &str) -> Result<DecodedToken<S>, JwtError> {
        let inner = &*self.inner;
        let claims = if let [key] = &inner.keys[..] {
            // One key (the common case): no header peek before verifying. `jsonwebtoken` parses the header
            // anyway, the validation pins the algorithm, and the `kid` and `crit` checks are made on the
            // header it returns. A failure is explained the way the peek would have.
            match jsonwebtoken::decode::<Claims<S>>(token, &key.decoding, &key.validation) {
                Ok(data) => {
                    if data.header.crit.is_some() {
                        return Err(JwtError::Malformed);
                    }
                    if data.header.kid.as_deref().is_some_and(|kid| kid != key.kid) {
                        return Err(JwtError::UnknownKey);
                    }
                    data.claims
                }
                Err(e) => {
                    inner.select_key(token)?;
                    return Err(map_decode_error(e));
                }
            }
        } else {
            let key = inner.select_key(token)?;
            jsonwebtoken::decode::<Claims<S>>(token, &key.decoding, &key.validation).map_err(map_decode_error)?.claims
        };

        let expires_at = match claims.exp {
            NumericDate::Value(exp) => exp,
            NumericDate::Missing => return Err(JwtError::MissingExpiry),
            NumericDate::Invalid => return Err(JwtError::InvalidClaim("exp")),
        };
        let issued_at = match claims.iat {
            NumericDate::Missing => None,
            NumericDate::Invalid => return Err(JwtError::InvalidClaim("iat")),
            NumericDate::Value(iat) => {
                if iat > now_secs().saturating_add(inner.leeway_secs) {
                    return Err(JwtError::NotYetValid);
                }
                Some(iat)
            }
        };
        if !claims.has_session_field {
            return Err(JwtError::NotASession);
        }
        Ok(DecodedToken { session: claims.session, issued_at, expires_at, jti: claims.jti })
    }
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

// ---------------------------------------------------------------------------
// Builder
// ---------------------------------------------------------------------------

/// A parsed key waiting for [`JwtServiceBuilder::build`].
struct PendingKey {
    kid: String,
    algorithm: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
}

/// Builds a [`JwtService`]. Keys are parsed as they are added; errors are
/// reported by [`JwtServiceBuilder::build`]. The first key added signs.
pub struct JwtServiceBuilder {
    keys: Vec<Result<PendingKey, JwtConfigError>>,
    leeway: Duration,
    issuer: Option<String>,
    audience: Option<String>,
    default_expires_in: Duration,
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
            .finish()
    }
}

impl Default for JwtServiceBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl JwtServiceBuilder {
    /// An empty builder: no keys, [`DEFAULT_LEEWAY`], [`DEFAULT_EXPIRES_IN`].
    pub fn new() -> Self {
        Self {
            keys: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            issuer: None,
            audience: None,
            default_expires_in: DEFAULT_EXPIRES_IN,
        }
    }

    /// Add an HS256 key (at least [`MIN_HMAC_SECRET_LEN`] bytes).
    pub fn hs256_key(mut self, kid: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        let kid = kid.into();
        let secret = secret.as_ref();
        let key = if kid.is_empty() {
            Err(JwtConfigError::EmptyKeyId)
        } else if secret.len() < MIN_HMAC_SECRET_LEN {
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

    /// Add an RSA key (RS256/RS384/RS512/PS256/PS384/PS512) from PEM
    /// (PKCS#1 or PKCS#8). Without a private key it only verifies.
    pub fn rsa_pem(
        self,
        kid: impl Into<String>,
        algorithm: Algorithm,
        private_pem: Option<&[u8]>,
        public_pem: &[u8],
    ) -> Self {
        self.pem_key(
            kid.into(),
            algorithm,
            AlgorithmFamily::Rsa,
            private_pem,
            public_pem,
            EncodingKey::from_rsa_pem,
            DecodingKey::from_rsa_pem,
        )
    }

    /// Add an ECDSA key (ES256/ES384) from PEM (PKCS#8 private key). Without
    /// a private key it only verifies.
    pub fn ec_pem(
        self,
        kid: impl Into<String>,
        algorithm: Algorithm,
        private_pem: Option<&[u8]>,
        public_pem: &[u8],
    ) -> Self {
        self.pem_key(
            kid.into(),
            algorithm,
            AlgorithmFamily::Ec,
            private_pem,
            public_pem,
            EncodingKey::from_ec_pem,
            DecodingKey::from_ec_pem,
        )
    }

    /// Add an Ed25519 (EdDSA) key from PEM. Without a private key it only
    /// verifies.
    pub fn ed_pem(self, kid: impl Into<String>, private_pem: Option<&[u8]>, public_pem: &[u8]) -> Self {
        self.pem_key(
            kid.into(),
            Algorithm::EdDSA,
            AlgorithmFamily::Ed,
            private_pem,
            public_pem,
            EncodingKey::from_ed_pem,
            DecodingKey::from_ed_pem,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn pem_key(
        mut self,
        kid: String,
        algorithm: Algorithm,
        family: AlgorithmFamily,
        private_pem: Option<&[u8]>,
        public_pem: &[u8],
        parse_private: fn(&[u8]) -> jsonwebtoken::errors::Result<EncodingKey>,
        parse_public: fn(&[u8]) -> jsonwebtoken::errors::Result<DecodingKey>,
    ) -> Self {
        let key = parse_pem_key(kid, algorithm, family, private_pem, public_pem, parse_private, parse_public);
        self.keys.push(key);
        self
    }

    /// Clock-skew leeway for `exp`, `nbf` and `iat` (whole seconds; default
    /// [`DEFAULT_LEEWAY`]).
    pub fn leeway(mut self, d: Duration) -> Self {
        self.leeway = d;
        self
    }

    /// Require and enforce this `iss`; minted tokens carry it.
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuer = Some(iss.into());
        self
    }

    /// Require and enforce this `aud`; minted tokens carry it.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audience = Some(aud.into());
        self
    }

    /// Lifetime used by [`JwtService::sign`] (default [`DEFAULT_EXPIRES_IN`]).
    pub fn default_expires_in(mut self, d: Duration) -> Self {
        self.default_expires_in = d;
        self
    }

    /// Build the service.
    ///
    /// Errors: no key, a key that failed to parse (short secret, bad PEM,
    /// mismatched key pair, wrong algorithm), duplicate kid, or a first key
    /// that cannot sign.
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
        let mut signing_header = Header::new(first.algorithm);
        signing_header.kid = Some(first.kid.clone());

        let leeway_secs = self.leeway.as_secs();
        let keys = pending
            .into_iter()
            .map(|k| {
                let mut validation = Validation::new(k.algorithm);
                validation.leeway = leeway_secs;
                validation.validate_exp = true;
                validation.validate_nbf = true;
                validation.validate_aud = true;
                // `exp` is required, but checked after decoding (see
                // `JwtService::decode`): listing it here would make jsonwebtoken
                // report a non-numeric `exp` as missing rather than invalid.
                // `validate_exp` still refuses expired and non-numeric values.
                validation.required_spec_claims.clear();
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
            }),
        })
    }
}

fn parse_pem_key(
    kid: String,
    algorithm: Algorithm,
    family: AlgorithmFamily,
    private_pem: Option<&[u8]>,
    public_pem: &[u8],
    parse_private: fn(&[u8]) -> jsonwebtoken::errors::Result<EncodingKey>,
    parse_public: fn(&[u8]) -> jsonwebtoken::errors::Result<DecodingKey>,
) -> Result<PendingKey, JwtConfigError> {
    if kid.is_empty() {
        return Err(JwtConfigError::EmptyKeyId);
    }
    if algorithm.family() != family {
        return Err(JwtConfigError::AlgorithmMismatch { kid, algorithm });
    }
    let decoding = match parse_public(public_pem) {
        Ok(k) => k,
        Err(_) => return Err(JwtConfigError::InvalidPem { kid, part: "public" }),
    };
    let encoding = match private_pem.map(parse_private) {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(_)) => return Err(JwtConfigError::InvalidPem { kid, part: "private" }),
    };
    // Once, at construction: prove the pair works (this also catches a key
    // of the wrong curve or size for the algorithm).
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

// ---------------------------------------------------------------------------
// Claims (de)serialization
// ---------------------------------------------------------------------------

/// What a minted payload looks like: the session at the top level, then the
/// registered claims.
#[derive(Serialize)]
struct MintClaims<'a, S> {
    #[serde(flatten)]
    session: &'a S,
    iat: i64,
    exp: i64,
    jti: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

/// Longest JOSE header (decoded) read without a heap allocation; longer ones (certificate chains in
/// `x5c`) take the allocating path.
const HEADER_PEEK_BUFFER: usize = 512;

/// The header fields that choose the key, read before verification without allocating: the key is
/// chosen by `kid`, and the token's `alg` must be that key's (it never chooses the algorithm).
#[derive(Deserialize)]
struct HeaderPeek<'a> {
    #[serde(borrow)]
    alg: std::borrow::Cow<'a, str>,
    /// Not `Option<Cow<str>>`: serde borrows a `Cow` only when it is the field's whole type.
    #[serde(borrow, default)]
    kid: Option<BorrowedStr<'a>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// A string borrowed from the input when it has no escapes (copied otherwise).
struct BorrowedStr<'a>(std::borrow::Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for BorrowedStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BorrowedStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(BorrowedStr(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BorrowedStr(std::borrow::Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

impl Inner {
    /// Reads the header (into a stack buffer: no allocation for ordinary headers) and picks the key.
    fn select_key(&self, token: &str) -> Result<&KeyEntry, JwtError> {
        let encoded = token.split('.').next().unwrap_or_default();
        let mut buffer = [0u8; HEADER_PEEK_BUFFER];
        let on_heap;
        let decoded: &[u8] = match URL_SAFE_NO_PAD.decode_slice(encoded, &mut buffer) {
            Ok(len) => &buffer[..len],
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                on_heap = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| JwtError::Malformed)?;
                &on_heap
            }
            Err(_) => return Err(JwtError::Malformed),
        };
        let header: HeaderPeek<'_> = serde_json::from_slice(decoded).map_err(|_| JwtError::Malformed)?;
        // We understand no header extensions, so any `crit` must be refused (RFC 7515 §4.1.11).
        if header.crit.is_some() {
            return Err(JwtError::Malformed);
        }
        let key = match header.kid.as_ref().map(|kid| &*kid.0) {
            Some(kid) => self.keys.iter().find(|k| k.kid == kid).ok_or(JwtError::UnknownKey)?,
            None => &self.keys[0],
        };
        if header.alg.parse::<Algorithm>().ok() != Some(key.algorithm) {
            return Err(JwtError::AlgorithmNotAllowed);
        }
        Ok(key)
    }
}

/// What a verified payload is decoded into, in one streaming pass: the session
/// deserializes straight from the payload's map through [`Intercept`], which
/// takes the registered claims out of its way. (`#[serde(flatten)]` would
/// buffer the payload's entries on the heap first.)
struct Claims<S> {
    iat: NumericDate,
    exp: NumericDate,
    jti: Option<String>,
    /// The payload has a key beyond the registered claims: there is a session
    /// in it.
    has_session_field: bool,
    session: S,
}

impl<'de, S: Deserialize<'de>> Deserialize<'de> for Claims<S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<S>(PhantomData<S>);
        impl<'de, S: Deserialize<'de>> Visitor<'de> for V<S> {
            type Value = Claims<S>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claims<S>, A::Error> {
                let mut slots = RegisteredSlots::default();
                let session = S::deserialize(Intercept { map: &mut map, slots: &mut slots })?;
                // Derive-generated visitors read every entry, but others may
                // stop early: registered claims after that point still count.
                let mut rest = InterceptAccess { map: &mut map, slots: &mut slots };
                while rest.next_key::<IgnoredAny>()?.is_some() {
                    rest.next_value::<IgnoredAny>()?;
                }
                Ok(Claims {
                    iat: slots.iat,
                    exp: slots.exp,
                    jti: slots.jti,
                    has_session_field: slots.has_session_field,
                    session,
                })
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

/// The claims that belong to the token rather than to the session.
#[derive(Clone, Copy)]
enum Registered {
    Iat,
    Exp,
    Jti,
    Nbf,
    Iss,
    Aud,
    Sub,
}

impl Registered {
    const COUNT: usize = 7;

    fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "iat" => Self::Iat,
            "exp" => Self::Exp,
            "jti" => Self::Jti,
            "nbf" => Self::Nbf,
            "iss" => Self::Iss,
            "aud" => Self::Aud,
            "sub" => Self::Sub,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Iat => "iat",
            Self::Exp => "exp",
            Self::Jti => "jti",
            Self::Nbf => "nbf",
            Self::Iss => "iss",
            Self::Aud => "aud",
            Self::Sub => "sub",
        }
    }
}

/// The registered claims read while the session deserializes.
#[derive(Default)]
struct RegisteredSlots {
    iat: NumericDate,
    exp: NumericDate,
    jti: Option<String>,
    /// Indexed by [`Registered`]: a claim appearing twice is an error.
    seen: [bool; Registered::COUNT],
    has_session_field: bool,
}

impl RegisteredSlots {
    /// Read the value of `claim` (its key was just read from `map`).
    fn read<'de, A: MapAccess<'de>>(&mut self, claim: Registered, map: &mut A) -> Result<(), A::Error> {
        if std::mem::replace(&mut self.seen[claim as usize], true) {
            return Err(de::Error::duplicate_field(claim.name()));
        }
        match claim {
            Registered::Iat => self.iat = map.next_value()?,
            Registered::Exp => self.exp = map.next_value()?,
            Registered::Jti => self.jti = map.next_value()?,
            // Checked by jsonwebtoken, which parses them on its own.
            Registered::Nbf | Registered::Iss | Registered::Aud | Registered::Sub => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The payload's map as the session sees it: a map without the registered
/// claims (read into the slots as they go by). Shaped like serde's own
/// flatten deserializer: `Option`, unit and newtype sessions work too.
struct Intercept<'a, A> {
    map: &'a mut A,
    slots: &'a mut RegisteredSlots,
}

impl<'a, A> Intercept<'a, A> {
    fn access(self) -> InterceptAccess<'a, A> {
        InterceptAccess { map: self.map, slots: self.slots }
    }
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for Intercept<'_, A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_map(self.access())
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        // An externally tagged enum: the first session key names the variant.
        MapAccessDeserializer::new(self.access()).deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// [`Intercept`]'s entries: registered claims go to the slots, every other
/// entry to the session.
struct InterceptAccess<'a, A> {
    map: &'a mut A,
    slots: &'a mut RegisteredSlots,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for InterceptAccess<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        let mut seed = Some(seed);
        loop {
            match self.map.next_key_seed(KeySeed(&mut seed))? {
                None => return Ok(None),
                Some(Key::Session(key)) => {
                    self.slots.has_session_field = true;
                    return Ok(Some(key));
                }
                Some(Key::Registered(claim)) => self.slots.read(claim, &mut *self.map)?,
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// A key of the payload, classified.
enum Key<K> {
    Registered(Registered),
    /// The session's key seed has read it.
    Session(K),
}

/// Reads a key without allocating: a registered claim is recognized, any
/// other key is handed (borrowed, or as the deserializer's unescaped copy)
/// to the session's key seed, which is taken only then.
struct KeySeed<'a, K>(&'a mut Option<K>);

impl<K> KeySeed<'_, K> {
    fn take<E: de::Error>(self) -> Result<K, E> {
        self.0.take().ok_or_else(|| E::custom("session key read twice"))
    }
}

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for KeySeed<'_, K> {
    type Value = Key<K::Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, K: DeserializeSeed<'de>> Visitor<'de> for KeySeed<'_, K> {
    type Value = Key<K::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        match Registered::from_key(v) {
            Some(claim) => Ok(Key::Registered(claim)),
            None => self.take()?.deserialize(BorrowedStrDeserializer::new(v)).map(Key::Session),
        }
    }

    /// A key with escapes, unescaped into the deserializer's scratch buffer.
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match Registered::from_key(v) {
            Some(claim) => Ok(Key::Registered(claim)),
            None => self.take()?.deserialize(StrDeserializer::new(v)).map(Key::Session),
        }
    }
}

/// A NumericDate claim that never fails deserialization, so a wrong type is
/// reported as [`JwtError::InvalidClaim`] rather than a payload error.
#[derive(Default)]
enum NumericDate {
    #[default]
    Missing,
    Invalid,
    Value(i64),
}

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NumericDate")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                Ok(NumericDate::Value(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                Ok(i64::try_from(v).map_or(NumericDate::Invalid, NumericDate::Value))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                // Same rounding as jsonwebtoken's own `exp` check.
                let r = v.round();
                Ok(if r.is_finite() && r >= i64::MIN as f64 && r < i64::MAX as f64 {
                    NumericDate::Value(r as i64)
                } else {
                    NumericDate::Invalid
                })
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<NumericDate, E> {
                Ok(NumericDate::Invalid)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<NumericDate, E> {
                Ok(NumericDate::Invalid)
            }
            fn visit_unit<E: de::Error>(self) -> Result<NumericDate, E> {
                Ok(NumericDate::Invalid)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NumericDate, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(NumericDate::Invalid)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NumericDate, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(NumericDate::Invalid)
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::EncodingKey;
    use serde_json::{json, Value};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test-secret";
    const OTHER_SECRET: &[u8] = b"fedcba9876543210fedcba9876543210-other-secret";

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Session {
        user_id: String,
        role: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct AllOptional {
        user_id: Option<String>,
    }

    fn session() -> Session {
        Session { user_id: "u1".into(), role: "admin".into() }
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn parts(token: &str) -> (Value, Value) {
        let mut it = token.split('.');
        let h = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
        let p = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
        (serde_json::from_slice(&h).unwrap(), serde_json::from_slice(&p).unwrap())
    }

    /// Sign an arbitrary payload by hand (HS*), optionally with a kid.
    fn forge(alg: Algorithm, kid: Option<&str>, payload: &Value, secret: &[u8]) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, payload, &EncodingKey::from_secret(secret)).unwrap()
    }

    fn now() -> i64 {
        now_secs()
    }

    fn service() -> JwtService {
        JwtService::hs256(SECRET).unwrap()
    }

    #[test]
    fn round_trip_puts_session_fields_top_level_with_iat_exp_jti_and_kid() {
        let svc = service();
        let token = svc.sign(&session()).unwrap();
        let (header, payload) = parts(&token);
        assert_eq!(header["kid"], "primary");
        assert_eq!(header["alg"], "HS256");
        assert_eq!(payload["userId"], "u1");
        assert_eq!(payload["role"], "admin");
        let iat = payload["iat"].as_i64().unwrap();
        let exp = payload["exp"].as_i64().unwrap();
        assert!((iat - now()).abs() <= 1);
        assert_eq!(exp - iat, 3600);
        let jti = payload["jti"].as_str().unwrap();
        let (sid, nonce) = jti.split_once('.').unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(sid).unwrap().len(), 16);
        assert_eq!(URL_SAFE_NO_PAD.decode(nonce).unwrap().len(), 9);
        assert_eq!(payload.as_object().unwrap().len(), 5);

        let decoded = svc.decode::<Session>(&token).unwrap();
        assert_eq!(decoded.session, session());
        assert_eq!(decoded.issued_at, Some(iat));
        assert_eq!(decoded.expires_at, exp);
        assert_eq!(decoded.jti.as_deref(), Some(jti));
        assert_eq!(decoded.session_id(), Some(sid));
    }

    #[test]
    fn two_tokens_minted_in_the_same_second_differ() {
        let svc = service();
        let a = svc.sign(&session()).unwrap();
        let b = svc.sign(&session()).unwrap();
        assert_ne!(a, b);
        assert_ne!(parts(&a).1["jti"], parts(&b).1["jti"]);
    }

    #[test]
    fn bad_signature_is_refused() {
        let svc = service();
        let token = svc.sign(&session()).unwrap();
        let (msg, sig) = token.rsplit_once('.').unwrap();
        let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        sig[0] ^= 1;
        let tampered = format!("{msg}.{}", b64(&sig));
        assert!(matches!(svc.decode::<Session>(&tampered), Err(JwtError::BadSignature)));

        let forged = forge(
            Algorithm::HS256,
            Some("primary"),
            &json!({"userId": "u1", "role": "admin", "exp": now() + 60}),
            OTHER_SECRET,
        );
        assert!(matches!(svc.decode::<Session>(&forged), Err(JwtError::BadSignature)));
    }

    #[test]
    fn alg_none_token_is_refused() {
        let svc = service();
        let header = b64(br#"{"alg":"none","typ":"JWT","kid":"primary"}"#);
        let payload = b64(json!({"userId": "u1", "role": "admin", "exp": now() + 60}).to_string().as_bytes());
        for token in [format!("{header}.{payload}."), format!("{header}.{payload}")] {
            let err = svc.decode::<Session>(&token).unwrap_err();
            assert!(matches!(err, JwtError::Malformed | JwtError::AlgorithmNotAllowed), "{err:?}");
        }
    }

    #[test]
    fn hs384_and_hs512_with_the_same_secret_are_refused() {
        let svc = service();
        let payload = json!({"userId": "u1", "role": "admin", "exp": now() + 60});
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            for kid in [Some("primary"), None] {
                let token = forge(alg, kid, &payload, SECRET);
                assert!(matches!(svc.decode::<Session>(&token), Err(JwtError::AlgorithmNotAllowed)));
            }
        }
    }

    #[test]
    fn algorithm_confusion_rsa_public_key_as_hmac_secret_is_refused() {
        let svc = JwtService::builder()
            .rsa_pem("rsa", Algorithm::RS256, Some(RSA_PRIVATE_PEM), RSA_PUBLIC_PEM)
            .build()
            .unwrap();
        let payload = json!({"userId": "u1", "role": "admin", "exp": now() + 60});
        let forged = forge(Algorithm::HS256, Some("rsa"), &payload, RSA_PUBLIC_PEM);
        assert!(matches!(svc.decode::<Session>(&forged), Err(JwtError::AlgorithmNotAllowed)));
        let forged = forge(Algorithm::HS256, None, &payload, RSA_PUBLIC_PEM);
        assert!(matches!(svc.decode::<Session>(&forged), Err(JwtError::AlgorithmNotAllowed)));
    }

    #[test]
    fn rs256_round_trip_and_verify_only_key() {
        let svc = JwtService::builder()
            .rsa_pem("rsa", Algorithm::RS256, Some(RSA_PRIVATE_PEM), RSA_PUBLIC_PEM)
            .build()
            .unwrap();
        let token = svc.sign(&session()).unwrap();
        assert_eq!(parts(&token).0["alg"], "RS256");
        assert_eq!(svc.decode::<Session>(&token).unwrap().session, session());

        // A verify-only service (public key only, behind an HMAC signer).
        let verifier = JwtService::builder()
            .hs256_key("primary", SECRET)
            .rsa_pem("rsa", Algorithm::RS256, None, RSA_PUBLIC_PEM)
            .build()
            .unwrap();
        assert_eq!(verifier.decode::<Session>(&token).unwrap().session, session());
    }

    #[test]
    fn es256_round_trip() {
        let svc =
            JwtService::builder().ec_pem("ec", Algorithm::ES256, Some(EC_PRIVATE_PEM), EC_PUBLIC_PEM).build().unwrap();
        let token = svc.sign(&session()).unwrap();
        assert_eq!(parts(&token).0["alg"], "ES256");
        assert_eq!(svc.decode::<Session>(&token).unwrap().session, session());
    }

    #[test]
    fn eddsa_round_trip() {
        let svc = JwtService::builder().ed_pem("ed", Some(ED_PRIVATE_PEM), ED_PUBLIC_PEM).build().unwrap();
        let token = svc.sign(&session()).unwrap();
        assert_eq!(parts(&token).0["alg"], "EdDSA");
        assert_eq!(svc.decode::<Session>(&token).unwrap().session, session());
    }

    #[test]
    fn bad_asymmetric_config_is_refused() {
        let err = JwtService::builder()
            .ec_pem("ec", Algorithm::ES256, Some(b"not a pem"), EC_PUBLIC_PEM)
            .build()
            .unwrap_err();
        assert!(matches!(err, JwtConfigError::InvalidPem { part: "private", .. }));
        let err = JwtService::builder()
            .rsa_pem("rsa", Algorithm::ES256, Some(RSA_PRIVATE_PEM), RSA_PUBLIC_PEM)
            .build()
            .unwrap_err();
        assert!(matches!(err, JwtConfigError::AlgorithmMismatch { .. }));
        let err = JwtService::builder().ed_pem("ed", Some(ED_PRIVATE_PEM), ED_OTHER_PUBLIC_PEM).build().unwrap_err();
        assert!(matches!(err, JwtConfigError::KeyMismatch { .. }));
        let err = JwtService::builder().ed_pem("ed", None, ED_PUBLIC_PEM).build().unwrap_err();
        assert!(matches!(err, JwtConfigError::FirstKeyCannotSign { .. }));
        let err = JwtService::builder().hs256_key("a", SECRET).hs256_key("a", OTHER_SECRET).build().unwrap_err();
        assert!(matches!(err, JwtConfigError::DuplicateKeyId(_)));
        assert!(matches!(JwtService::builder().build(), Err(JwtConfigError::NoKeys)));
    }

    #[test]
    fn expired_beyond_leeway_is_refused_within_leeway_accepted() {
        let svc = service();
        let base = json!({"userId": "u1", "role": "admin"});
        let with_exp = |exp: i64| {
            let mut p = base.clone();
            p["exp"] = json!(exp);
            forge(Algorithm::HS256, Some("primary"), &p, SECRET)
        };
        assert!(matches!(svc.decode::<Session>(&with_exp(now() - 30)), Err(JwtError::Expired)));
        assert!(svc.decode::<Session>(&with_exp(now() - 2)).is_ok());

        let strict = JwtService::builder().hs256_key("primary", SECRET).leeway(Duration::ZERO).build().unwrap();
        assert!(matches!(strict.decode::<Session>(&with_exp(now() - 2)), Err(JwtError::Expired)));
    }

    #[test]
    fn missing_exp_is_refused() {
        let token =
            forge(Algorithm::HS256, Some("primary"), &json!({"userId": "u1", "role": "admin", "iat": now()}), SECRET);
        assert!(matches!(service().decode::<Session>(&token), Err(JwtError::MissingExpiry)));
    }

    #[test]
    fn exp_as_string_is_refused() {
        let token = forge(
            Algorithm::HS256,
            Some("primary"),
            &json!({"userId": "u1", "role": "admin", "exp": (now() + 60).to_string()}),
            SECRET,
        );
        assert!(matches!(service().decode::<Session>(&token), Err(JwtError::InvalidClaim("exp"))));
    }

    #[test]
    fn future_nbf_is_refused() {
        let svc = service();
        let mk = |nbf: i64| {
            forge(
                Algorithm::HS256,
                Some("primary"),
                &json!({"userId": "u1", "role": "admin", "exp": now() + 600, "nbf": nbf}),
                SECRET,
            )
        };
        assert!(matches!(svc.decode::<Session>(&mk(now() + 60)), Err(JwtError::NotYetValid)));
        assert!(svc.decode::<Session>(&mk(now() + 2)).is_ok());
    }

    #[test]
    fn future_iat_is_refused() {
        let svc = service();
        let mk = |iat: Value| {
            forge(
                Algorithm::HS256,
                Some("primary"),
                &json!({"userId": "u1", "role": "admin", "exp": now() + 600, "iat": iat}),
                SECRET,
            )
        };
        assert!(matches!(svc.decode::<Session>(&mk(json!(now() + 60))), Err(JwtError::NotYetValid)));
        assert!(svc.decode::<Session>(&mk(json!(now() + 2))).is_ok());
        assert!(matches!(svc.decode::<Session>(&mk(json!("soon"))), Err(JwtError::InvalidClaim("iat"))));
    }

    #[test]
    fn unknown_kid_is_refused() {
        let token =
            forge(Algorithm::HS256, Some("nope"), &json!({"userId": "u1", "role": "admin", "exp": now() + 60}), SECRET);
        assert!(matches!(service().decode::<Session>(&token), Err(JwtError::UnknownKey)));
    }

    #[test]
    fn token_without_kid_is_checked_against_signing_key_only() {
        let svc = JwtService::builder().hs256_key("new", SECRET).hs256_key("old", OTHER_SECRET).build().unwrap();
        let payload = json!({"userId": "u1", "role": "admin", "exp": now() + 60});
        let by_signing_key = forge(Algorithm::HS256, None, &payload, SECRET);
        assert!(svc.decode::<Session>(&by_signing_key).is_ok());
        let by_secondary = forge(Algorithm::HS256, None, &payload, OTHER_SECRET);
        assert!(matches!(svc.decode::<Session>(&by_secondary), Err(JwtError::BadSignature)));
        // ...while with its kid the secondary key's token verifies.
        let with_kid = forge(Algorithm::HS256, Some("old"), &payload, OTHER_SECRET);
        assert!(svc.decode::<Session>(&with_kid).is_ok());
    }

    #[test]
    fn rotation_keeps_old_tokens_valid() {
        let old = JwtService::builder().hs256_key("k1", OTHER_SECRET).build().unwrap();
        let token = old.sign(&session()).unwrap();
        let rotated = JwtService::builder().hs256_key("k2", SECRET).hs256_key("k1", OTHER_SECRET).build().unwrap();
        assert_eq!(rotated.decode::<Session>(&token).unwrap().session, session());
        let fresh = rotated.sign(&session()).unwrap();
        assert_eq!(parts(&fresh).0["kid"], "k2");
        assert!(matches!(old.decode::<Session>(&fresh), Err(JwtError::UnknownKey)));
    }

    #[test]
    fn iss_and_aud_are_enforced_once_configured() {
        let svc = JwtService::builder().hs256_key("primary", SECRET).issuer("pikku").audience("app").build().unwrap();
        let token = svc.sign(&session()).unwrap();
        let (_, payload) = parts(&token);
        assert_eq!(payload["iss"], "pikku");
        assert_eq!(payload["aud"], "app");
        assert_eq!(svc.decode::<Session>(&token).unwrap().session, session());

        let mk = |extra: Value| {
            let mut p = json!({"userId": "u1", "role": "admin", "exp": now() + 60});
            p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            forge(Algorithm::HS256, Some("primary"), &p, SECRET)
        };
        assert!(matches!(svc.decode::<Session>(&mk(json!({"aud": "app"}))), Err(JwtError::MissingClaim("iss"))));
        assert!(matches!(svc.decode::<Session>(&mk(json!({"iss": "pikku"}))), Err(JwtError::MissingClaim("aud"))));
        assert!(matches!(svc.decode::<Session>(&mk(json!({"iss": "evil", "aud": "app"}))), Err(JwtError::WrongIssuer)));
        assert!(matches!(
            svc.decode::<Session>(&mk(json!({"iss": "pikku", "aud": "other"}))),
            Err(JwtError::WrongAudience)
        ));
        // Not configured: no iss/aud needed.
        assert!(service().decode::<Session>(&mk(json!({}))).is_ok());
    }

    #[test]
    fn registered_claims_only_payload_is_not_a_session() {
        let svc = service();
        let token = forge(
            Algorithm::HS256,
            Some("primary"),
            &json!({"iat": now(), "exp": now() + 60, "jti": "a.b", "sub": "x", "nbf": now() - 1}),
            SECRET,
        );
        assert!(matches!(svc.decode::<AllOptional>(&token), Err(JwtError::NotASession)));
        assert!(matches!(svc.decode::<Value>(&token), Err(JwtError::NotASession)));
        // One real field is enough.
        let token = forge(Algorithm::HS256, Some("primary"), &json!({"userId": "u1", "exp": now() + 60}), SECRET);
        let decoded = svc.decode::<AllOptional>(&token).unwrap();
        assert_eq!(decoded.session.user_id.as_deref(), Some("u1"));
    }

    #[test]
    fn short_secret_is_refused_at_construction() {
        let secret = "short-secret-value-1234";
        let err = JwtService::hs256(secret).unwrap_err();
        assert!(matches!(err, JwtConfigError::SecretTooShort { min: 32, .. }));
        let msg = err.to_string();
        assert!(msg.contains("32"), "{msg}");
        assert!(!msg.contains(secret), "{msg}");
        assert!(!format!("{err:?}").contains(secret));
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let secret = "super-secret-value-that-must-not-leak!!";
        let svc = JwtService::hs256(secret).unwrap();
        let builder = JwtService::builder().hs256_key("primary", secret);
        for dbg in [format!("{svc:?}"), format!("{svc:#?}"), format!("{builder:?}")] {
            assert!(!dbg.contains(secret), "{dbg}");
            assert!(!dbg.contains("super-secret"), "{dbg}");
            assert!(dbg.contains("redacted"), "{dbg}");
        }
        let rsa = JwtService::builder()
            .rsa_pem("rsa", Algorithm::RS256, Some(RSA_PRIVATE_PEM), RSA_PUBLIC_PEM)
            .build()
            .unwrap();
        let dbg = format!("{rsa:?}");
        assert!(!dbg.contains("MII"), "{dbg}");
    }

    #[test]
    fn pikku_typescript_style_token_without_jti_is_accepted() {
        let iat = now();
        let token = forge(
            Algorithm::HS256,
            Some("primary"),
            &json!({"userId": "u1", "role": "admin", "iat": iat, "exp": iat + 60}),
            SECRET,
        );
        let decoded = service().decode::<Session>(&token).unwrap();
        assert_eq!(decoded.session, session());
        assert_eq!(decoded.issued_at, Some(iat));
        assert_eq!(decoded.expires_at, iat + 60);
        assert_eq!(decoded.jti, None);
        assert_eq!(decoded.session_id(), None);
    }

    #[test]
    fn encode_for_session_keeps_session_id_and_encode_makes_a_new_one() {
        let svc = service();
        let hour = Duration::from_secs(3600);
        let first = svc.decode::<Session>(&svc.encode(hour, &session()).unwrap()).unwrap();
        let other = svc.decode::<Session>(&svc.encode(hour, &session()).unwrap()).unwrap();
        let sid = first.session_id().unwrap();
        assert_ne!(sid, other.session_id().unwrap());

        let refreshed_token = svc.encode_for_session(Duration::from_secs(60), &session(), sid).unwrap();
        let refreshed = svc.decode::<Session>(&refreshed_token).unwrap();
        assert_eq!(refreshed.session_id(), Some(sid));
        assert_ne!(refreshed.jti, first.jti);
        assert_eq!(refreshed.expires_at - refreshed.issued_at.unwrap(), 60);

        assert!(matches!(svc.encode_for_session(hour, &session(), "a.b"), Err(JwtError::InvalidSessionId)));
        assert!(matches!(svc.encode_for_session(hour, &session(), ""), Err(JwtError::InvalidSessionId)));
    }

    #[test]
    fn session_that_is_not_an_object_cannot_be_minted() {
        assert!(matches!(service().sign(&"just a string"), Err(JwtError::Encoding(_))));
    }

    #[test]
    fn crit_header_is_refused() {
        let header = b64(br#"{"alg":"HS256","kid":"primary","crit":["x"],"x":1}"#);
        let payload = b64(json!({"userId": "u1", "role": "admin", "exp": now() + 60}).to_string().as_bytes());
        let token = format!("{header}.{payload}.sig");
        assert!(matches!(service().decode::<Session>(&token), Err(JwtError::Malformed)));
    }

    #[test]
    fn hs256_random_round_trips() {
        let svc = JwtService::hs256_random();
        let token = svc.sign(&session()).unwrap();
        assert_eq!(svc.decode::<Session>(&token).unwrap().session, session());
        assert!(matches!(JwtService::hs256_random().decode::<Session>(&token), Err(JwtError::BadSignature)));
    }

    /// Sign a payload given as raw JSON text (HS256, kid "primary"), so key
    /// order and escapes are exactly as written.
    fn forge_raw(payload: &str) -> String {
        let header = b64(br#"{"alg":"HS256","typ":"JWT","kid":"primary"}"#);
        let message = format!("{header}.{}", b64(payload.as_bytes()));
        let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(SECRET), Algorithm::HS256)
            .unwrap();
        format!("{message}.{sig}")
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Profile {
        display_name: String,
        age: u32,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct RichSession {
        user_id: String,
        org_id: Option<String>,
        nickname: Option<String>,
        profile: Profile,
        scopes: Vec<String>,
    }

    #[test]
    fn session_with_option_and_nested_struct_round_trips() {
        let svc = service();
        let rich = RichSession {
            user_id: "u1".into(),
            org_id: Some("o1".into()),
            nickname: None,
            profile: Profile { display_name: "Ada".into(), age: 36 },
            scopes: vec!["read".into(), "write".into()],
        };
        let decoded = svc.decode::<RichSession>(&svc.sign(&rich).unwrap()).unwrap();
        assert_eq!(decoded.session, rich);
        assert!(decoded.jti.is_some());

        // An absent `Option` field is `None`; a nested object's own `exp` is the session's.
        let exp = now() + 60;
        let token = forge_raw(&format!(
            r#"{{"userId":"u2","profile":{{"displayName":"Bo","age":7,"exp":1}},"scopes":[],"exp":{exp}}}"#
        ));
        let decoded = svc.decode::<RichSession>(&token).unwrap();
        assert_eq!(decoded.session.org_id, None);
        assert_eq!(decoded.session.profile, Profile { display_name: "Bo".into(), age: 7 });
        assert_eq!(decoded.expires_at, exp);
    }

    #[test]
    fn escaped_keys_reach_the_session_and_escaped_claims_are_read() {
        let exp = now() + 60;
        let token = forge_raw(&format!(
            r#"{{"user\u0049d":"u1","r\u006fle":"admin","e\u0078p":{exp},"j\u0074i":"sid.nonce","\u0069at":{}}}"#,
            now()
        ));
        let decoded = service().decode::<Session>(&token).unwrap();
        assert_eq!(decoded.session, session());
        assert_eq!(decoded.expires_at, exp);
        assert_eq!(decoded.jti.as_deref(), Some("sid.nonce"));
        assert!(decoded.issued_at.is_some());
        // An escaped `kid` in the header still selects its key.
        let header = b64(br#"{"alg":"HS256","kid":"pr\u0069mary"}"#);
        let message = format!("{header}.{}", token.split('.').nth(1).unwrap());
        let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(SECRET), Algorithm::HS256)
            .unwrap();
        assert_eq!(service().decode::<Session>(&format!("{message}.{sig}")).unwrap().session, session());
        // An escaped registered claim is still not a session field.
        let token = forge_raw(&format!(r#"{{"e\u0078p":{exp},"\u0073ub":"x"}}"#));
        assert!(matches!(service().decode::<AllOptional>(&token), Err(JwtError::NotASession)));
    }

    #[test]
    fn registered_claims_after_session_fields_are_read() {
        let svc = service();
        let iat = now();
        let token =
            forge_raw(&format!(r#"{{"userId":"u1","role":"admin","iat":{iat},"exp":{},"jti":"sid.nonce"}}"#, iat + 60));
        let decoded = svc.decode::<Session>(&token).unwrap();
        assert_eq!(decoded.session, session());
        assert_eq!(decoded.issued_at, Some(iat));
        assert_eq!(decoded.expires_at, iat + 60);
        assert_eq!(decoded.session_id(), Some("sid"));
        // ...and still checked there.
        let token = forge_raw(&format!(r#"{{"userId":"u1","role":"admin","exp":{},"iat":"soon"}}"#, iat + 60));
        assert!(matches!(svc.decode::<Session>(&token), Err(JwtError::InvalidClaim("iat"))));
        let token = forge_raw(r#"{"userId":"u1","role":"admin","iat":1}"#);
        assert!(matches!(svc.decode::<Session>(&token), Err(JwtError::MissingExpiry)));
        // A session whose visitor stops reading early still has the claims after it seen.
        let token = forge_raw(&format!(r#"{{"userId":"u1","exp":{},"jti":"s.n"}}"#, iat + 60));
        let decoded = svc.decode::<()>(&token).unwrap();
        assert_eq!((decoded.expires_at, decoded.jti.as_deref()), (iat + 60, Some("s.n")));
    }

    #[test]
    fn deny_unknown_fields_sessions_never_see_registered_claims() {
        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Strict {
            user_id: String,
            role: String,
        }
        let svc = JwtService::builder().hs256_key("primary", SECRET).issuer("pikku").audience("app").build().unwrap();
        let decoded = svc.decode::<Strict>(&svc.sign(&session()).unwrap()).unwrap();
        assert_eq!(decoded.session, Strict { user_id: "u1".into(), role: "admin".into() });

        let payload = |extra: &str| {
            format!(
                r#"{{"nbf":{n},"userId":"u1","sub":"x","iss":"pikku","role":"admin","aud":"app","exp":{e}{extra}}}"#,
                n = now() - 1,
                e = now() + 60
            )
        };
        assert!(svc.decode::<Strict>(&forge_raw(&payload(""))).is_ok());
        assert!(matches!(svc.decode::<Strict>(&forge_raw(&payload(r#","extra":1"#))), Err(JwtError::InvalidPayload)));
    }

    #[test]
    fn session_that_does_not_fit_or_duplicate_claims_are_invalid_payloads() {
        let svc = service();
        let exp = now() + 60;
        for payload in [
            format!(r#"{{"userId":"u1","exp":{exp}}}"#),
            format!(r#"{{"userId":1,"role":"admin","exp":{exp}}}"#),
            format!(r#"{{"userId":"u1","role":"admin","userId":"u2","exp":{exp}}}"#),
            format!(r#"{{"userId":"u1","role":"admin","iat":1,"exp":{exp},"iat":2}}"#),
            format!(r#"{{"jti":"a.b","userId":"u1","role":"admin","exp":{exp},"jti":"c.d"}}"#),
            format!(r#"{{"userId":"u1","role":"admin","exp":{exp},"jti":7}}"#),
        ] {
            let result = svc.decode::<Session>(&forge_raw(&payload));
            assert!(matches!(result, Err(JwtError::InvalidPayload)), "{payload}: {result:?}");
        }
    }

    #[test]
    fn option_newtype_and_enum_sessions_decode_as_with_flatten() {
        #[derive(Debug, PartialEq, Deserialize)]
        struct Wrapped(Session);
        #[derive(Debug, PartialEq, Deserialize)]
        enum Tagged {
            User { id: String },
        }
        let svc = service();
        let token = svc.sign(&session()).unwrap();
        assert_eq!(svc.decode::<Option<Session>>(&token).unwrap().session, Some(session()));
        assert_eq!(svc.decode::<Wrapped>(&token).unwrap().session, Wrapped(session()));
        let exp = now() + 60;
        let token = forge_raw(&format!(r#"{{"exp":{exp},"User":{{"id":"u1"}},"jti":"s.n"}}"#));
        let decoded = svc.decode::<Tagged>(&token).unwrap();
        assert_eq!(decoded.session, Tagged::User { id: "u1".into() });
        assert_eq!(decoded.jti.as_deref(), Some("s.n"));
    }

    // -----------------------------------------------------------------------
    // TEST FIXTURES ONLY: throwaway keys generated for these tests with
    // openssl. Never use them for anything else.
    // -----------------------------------------------------------------------
    const RSA_PRIVATE_PEM: &[u8] = b"-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDuye+hXIwBG42e
KJPfhBsnZ76S8lST+FOkPHDkjfILyLxA/h6S5VpdoeL9p7xZvv9PfCCCJ6O0GMFX
Vlr2pLbopKgP1NHLNO0OMBm+aeEo7an9ZvQaRD7ZZxMa9jqLjSLLXsV5Y9RDDNhA
BW163PARXEyaSmA0guEPYsTDYCdA2qLc0hoskaW/DlJofzpB34xISAzMMqOqHfUq
zHVPFcz9K/babHYCJLqJrkWSjbmJMFFCC8RQZ27hQlCIasiRZwRHMNv8PPjK0py4
hpFE2rfB5Cs0RrZxYmUQ2MQSSmZQKyEfbFF5BhPHiPTTgIOwywE/8M0BRCYIyWsc
/w5Y88+3AgMBAAECggEAEVknyQ1e4+W15ZEFIpldGlZ13gSFEzWuE0yLgc9eOm+c
XbcYpDYi2T1IWdgJ3cCmmTESG41Ns2k+WAi0wHPkZgUwa0CxopXMcy9uGgtkia4F
Ske54alQ950pd4Kpa4zBbmJgQ8V2R7jIgpONCf7AjO0BE7nmQL+8IiYG2DrwHyH0
qYwYm2cPHHvVlQjY5LfE+brre9KzZqcxstabM93A3N3A3sFrTRsZAHqkQF67vX7k
bZI5koQv+Uj+kwy2+aIR8T4jz9NH8hwVpUByXsGzYzmBODq6R4lc5kduVt5EJV3z
4TCnAiMTEKnU2xT8f+oFvYbe3oO/0yYvPW1S4IiX4QKBgQD/LNkbHyXQh2Ld1S9i
v5pRRF4MeRF7kh9w7Rj0uytOCBpLT+E3d1tYsWNdtahOpJNjEx2V+zAy5rQBtrk4
9639KK9+fdrKE59ts3ZWU493yRaEOvr0XXTKzIR7cU+iuDLR1rnBkmyYcIlTcEVd
HZTwJf7AyHtoNB32CDZlO5nOPQKBgQDvj4dTYprwxT1fvTDXI1GvW2E50JxJpJRT
q5Va4UnNdXdNh7JY7mBjcd5mzgodvmeiT9YRZwsVZxywYor0jh/sfOowXhnKD84w
BfRdG/Hh3d9DhSnJRLIT3rqM0w6svqQCMXEZiUrYsUcqaDjOtUVkEb16jDt1/H4F
jfqceCNJAwKBgG78ub2DMbZefJER/ZdM0TkRrHpuWj1OFCDQ727azf4VpiIlr0ap
wnB0T0zeC0ORb43DLbYjWBZ7o8WvDScLC4E2Jga1hOkp2ckkKo9nrtoh+4ouASMy
Vu8yP1lVspaK2YfNhmP8ZQF0yTYiefkDOdmuHP0K9iofqPxvHAGyB7bdAoGAVrGl
coq7sahfhpcr5p90fzZdoBObi5cQyprMqR/gmocJDrit1TsnDLX3m1KzHIJ8dKPZ
v2CABVXUbwyqZshMS0QFaE2VnadModp1zYBAb9Hga0n0jk7a9w/iiPYUWHWBWv3T
hT9HI9Y7/9/JtxyoqQc2f/PhzNf8LzxrVlavxksCgYEAtABdclgcVfUWwIEol6K3
fcqlTP7Vex6Zf52VqK3owoOV+gePJoTkV4mgc0eXfslT1v4Xo4n7uzLb0N/BXlwO
WzZGhtUUjwDtkji1QBo/zvzkJrtMjElXzxDEh1ETKY5P/82EQ9Xog6pUKmtUvdqW
KJXsWQqtET2F1h2w3xnw3kk=
-----END PRIVATE KEY-----
";
    const RSA_PUBLIC_PEM: &[u8] = b"-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA7snvoVyMARuNniiT34Qb
J2e+kvJUk/hTpDxw5I3yC8i8QP4ekuVaXaHi/ae8Wb7/T3wggiejtBjBV1Za9qS2
6KSoD9TRyzTtDjAZvmnhKO2p/Wb0GkQ+2WcTGvY6i40iy17FeWPUQwzYQAVtetzw
EVxMmkpgNILhD2LEw2AnQNqi3NIaLJGlvw5SaH86Qd+MSEgMzDKjqh31Ksx1TxXM
/Sv22mx2AiS6ia5Fko25iTBRQgvEUGdu4UJQiGrIkWcERzDb/Dz4ytKcuIaRRNq3
weQrNEa2cWJlENjEEkpmUCshH2xReQYTx4j004CDsMsBP/DNAUQmCMlrHP8OWPPP
twIDAQAB
-----END PUBLIC KEY-----
";
    const EC_PRIVATE_PEM: &[u8] = b"-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg3CtQ3ccENT4e2fqX
kvTmagpcPeQmPbCb7UxXIH5CzJ6hRANCAAQ62ZpnAypyUgegZTlbpM3O3Z6LYYsI
Tw6Nmw1R3SJ/iAJVdkL13FXTO0hy47jYtx/1iVF/h/qZBvfP9LRm3gNo
-----END PRIVATE KEY-----
";
    const EC_PUBLIC_PEM: &[u8] = b"-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEOtmaZwMqclIHoGU5W6TNzt2ei2GL
CE8OjZsNUd0if4gCVXZC9dxV0ztIcuO42Lcf9YlRf4f6mQb3z/S0Zt4DaA==
-----END PUBLIC KEY-----
";
    const ED_PRIVATE_PEM: &[u8] = b"-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIAAzUHZmw5En/0arE+Tc9ZP9yLz25I8UQNluuHRMy4eS
-----END PRIVATE KEY-----
";
    const ED_PUBLIC_PEM: &[u8] = b"-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAEt3SBfnnL+bb0aFEThem/bnNtegCvVpxRUyVCh5ncKo=
-----END PUBLIC KEY-----
";
    const ED_OTHER_PUBLIC_PEM: &[u8] = b"-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAVcm15WEzcSeQroFkEsZQNqOsbeJJNWeqNfPf6fbxNaE=
-----END PUBLIC KEY-----
";
}
