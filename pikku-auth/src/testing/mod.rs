//! The authentication half of the test kit: tokens forged the way a test needs them (aged, expired,
//! tampered, foreign, without `jti`, with any header), and a development strategy that takes the session
//! from a header.
//!
//! Exists with the `testing` feature (off by default), which `pikku`'s `testing` feature turns on; enable
//! it for tests only. Nothing here belongs in a production build: a forger holds the signing secret, and
//! [`auth_dev_header`] lets any client choose its session.
//!
//! ```
//! use pikku_auth::jwt::JwtService;
//! use pikku_auth::testing::{tamper, TokenForger, DAY};
//!
//! const SECRET: &[u8] = b"a-test-secret-of-at-least-32-bytes!!";
//! let jwt = JwtService::hs256(SECRET).unwrap();
//! let forger = TokenForger::hs256(SECRET);
//! let session = serde_json::json!({"userId": "u1"});
//!
//! // A token issued 16 days ago, living 30: due for a cookie refresh, still valid.
//! let old = forger.aged_token(&session, 16 * DAY, 30 * DAY);
//! assert!(jwt.decode::<serde_json::Value>(&old).is_ok());
//! assert!(jwt.decode::<serde_json::Value>(&tamper(&old)).is_err());
//! assert!(jwt.decode::<serde_json::Value>(&forger.expired_token(&session)).is_err());
//! ```

mod dev_header;
mod forge;

pub use crate::jwt::Algorithm;
pub use dev_header::{auth_dev_header, DevHeaderStrategy, DEV_SESSION_HEADER};
pub use forge::{
    new_jti, now, replace_claims, session_claims, session_id, tamper, token_parts, unsigned_token, TokenForger, DAY,
};
