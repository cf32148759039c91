//! The two error types of the JWT service: one for building it, one for minting and verifying tokens.
//!
//! Neither ever carries a token, a secret or key material: messages name a key by its id at most, so an
//! error can be logged as it is.

use jsonwebtoken::errors::ErrorKind;

use super::Algorithm;

/// Configuration error raised while building a [`JwtService`](super::JwtService).
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
    /// An HMAC secret is shorter than [`MIN_HMAC_SECRET_LEN`](super::MIN_HMAC_SECRET_LEN).
    #[error("the HMAC secret for JWT key `{kid}` is too short: at least {min} bytes are required")]
    SecretTooShort {
        /// Key id.
        kid: String,
        /// Minimum length in bytes ([`MIN_HMAC_SECRET_LEN`](super::MIN_HMAC_SECRET_LEN)).
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

/// Error minting or verifying a token. Messages never contain the token or key material.
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
    /// `aud` is not the configured audience (or is present while none is configured).
    #[error("token audience not accepted")]
    WrongAudience,
    /// The payload holds only registered claims: there is no session in it.
    #[error("token payload holds no session")]
    NotASession,
    /// The payload does not deserialize into the session type.
    #[error("token payload does not match the session type")]
    InvalidPayload,
    /// The session id given to [`JwtService::encode_for_session`](super::JwtService::encode_for_session) is not
    /// a non-empty base64url string.
    #[error("invalid session id")]
    InvalidSessionId,
    /// Minting failed.
    #[error("could not mint token: {0}")]
    Encoding(String),
}

/// Names a `jsonwebtoken` verification failure in our terms.
pub(super) fn map_decode_error(err: jsonwebtoken::errors::Error) -> JwtError {
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
        // The payload did not deserialize: the session type refused it, or a registered claim is duplicated
        // or (`jti`) not a string. See `claims.rs`.
        ErrorKind::Json(_) => JwtError::InvalidPayload,
        // Key problems are caught at construction; if one slips through, the token simply does not verify.
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
