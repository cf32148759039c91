//! The demo's fixed users (docs/auth-demo.md: Users and keys).

use pikku::auth::password::{verify_password, PasswordError};

use crate::UserSession;

struct User {
    email: &'static str,
    /// Argon2id PHC string of the documented password.
    password_hash: &'static str,
    user_id: &'static str,
    role: &'static str,
}

/// The hashes were made once with `pikku::auth::password::hash_password` rather than at every start: the
/// users are fixed, so the source holds no password in clear and the server starts without hashing. A
/// test checks that each one still verifies the documented password.
const USERS: [User; 2] = [
    User {
        email: "alice@example.com",
        password_hash:
            "$argon2id$v=19$m=19456,t=2,p=1$rNqCZcIuPzlyAnJXOausvQ$mwWfqkDKonWjgXPsC4FD1TOnl4tyuqBB05hS10bYo+o",
        user_id: "u1",
        role: "admin",
    },
    User {
        email: "bob@example.com",
        password_hash:
            "$argon2id$v=19$m=19456,t=2,p=1$kwhJl3fIQ0Jenpu6RmlgZQ$6COMuv5HgsbXZXjTDT/QXkmvh3UdLVkRmBmMGNFjXTw",
        user_id: "u2",
        role: "user",
    },
];

/// The user directory.
#[derive(Default)]
pub struct Users;

impl Users {
    /// The session of the user with this email (ASCII case ignored) and password, if both match. An unknown
    /// email is checked against a dummy hash, so it costs the time a wrong password costs.
    ///
    /// # Errors
    /// A stored hash that cannot be checked (a server fault, answered 500).
    pub async fn verify(&self, email: &str, password: &str) -> Result<Option<UserSession>, PasswordError> {
        let user = USERS.iter().find(|user| user.email.eq_ignore_ascii_case(email));
        let matches = verify_password(user.map(|user| user.password_hash), password).await?;
        Ok(user.filter(|_| matches).map(|user| UserSession { user_id: user.user_id.into(), role: user.role.into() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn right_password_gives_the_users_session() {
        let alice = Users.verify("alice@example.com", "correct horse").await.unwrap().unwrap();
        assert_eq!((alice.user_id.as_str(), alice.role.as_str()), ("u1", "admin"));
        let bob = Users.verify("Bob@Example.com", "battery staple").await.unwrap().unwrap();
        assert_eq!(bob.role, "user");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wrong_password_or_unknown_email_gives_nothing() {
        assert!(Users.verify("alice@example.com", "battery staple").await.unwrap().is_none());
        assert!(Users.verify("carol@example.com", "correct horse").await.unwrap().is_none());
        assert!(Users.verify("alice@example.com", "").await.unwrap().is_none());
    }

    #[test]
    fn passwords_are_stored_as_argon2id_hashes_only() {
        for user in &USERS {
            assert!(user.password_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", user.email);
            assert!(!user.password_hash.contains("horse") && !user.password_hash.contains("staple"));
        }
    }
}
