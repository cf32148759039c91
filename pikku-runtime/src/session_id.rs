//! Session ids: what every credential minted for one login shares, so logging out with any of them
//! revokes all of them.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

/// Random bytes in a session id: 128 bits, so ids are unguessable and never repeat (OWASP Session
/// Management Cheat Sheet, "Session ID Entropy").
const SESSION_ID_BYTES: usize = 16;
/// Length of a session id as text: 16 bytes in unpadded base64url.
const SESSION_ID_LEN: usize = 22;

/// The id of one login's session, chosen when a function calls `set_session`.
///
/// Every credential minted for that session carries it (the session cookie the cookie strategy writes, and
/// the bearer token the function mints with it), so revoking the session revokes them all. Written as 22
/// base64url characters.
///
/// ```
/// use pikku_runtime::SessionId;
///
/// let id = SessionId::generate();
/// assert_eq!(id.as_str().len(), 22);
/// assert_ne!(id, SessionId::generate());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId([u8; SESSION_ID_LEN]);

impl SessionId {
    /// A fresh random id.
    #[allow(clippy::missing_panics_doc)] // the `expect` states an invariant, it cannot fail
    pub fn generate() -> Self {
        let mut random = [0u8; SESSION_ID_BYTES];
        rand::thread_rng().fill_bytes(&mut random);
        let mut text = [0u8; SESSION_ID_LEN];
        let written = URL_SAFE_NO_PAD.encode_slice(random, &mut text).expect("16 bytes fit in 22 characters");
        debug_assert_eq!(written, SESSION_ID_LEN);
        Self(text)
    }

    /// The id as text (base64url).
    pub fn as_str(&self) -> &str {
        // Only base64url characters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl AsRef<str> for SessionId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::ops::Deref for SessionId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not the id itself: a session id is a bearer secret's handle, and debug output ends up in logs.
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_base64url_and_distinct() {
        let ids: Vec<SessionId> = (0..64).map(|_| SessionId::generate()).collect();
        for id in &ids {
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{id}");
        }
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        assert_eq!(format!("{:?}", ids[0]), "SessionId(..)", "debug output never shows the id");
    }
}
