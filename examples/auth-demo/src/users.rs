//! The demo's fixed users (docs/auth-demo.md: Users and keys).

use crate::UserSession;

struct User {
    email: &'static str,
    password: &'static str,
    user_id: &'static str,
    role: &'static str,
}

const USERS: [User; 2] = [
    User { email: "alice@example.com", password: "correct horse", user_id: "u1", role: "admin" },
    User { email: "bob@example.com", password: "battery staple", user_id: "u2", role: "user" },
];

/// The user directory. A real application stores password hashes (argon2); the demo's contract fixes
/// plain passwords, which are at least compared in constant time.
#[derive(Default)]
pub struct Users;

impl Users {
    /// The session of the user with this email and password, if both match.
    pub fn verify(&self, email: &str, password: &str) -> Option<UserSession> {
        // Compare every user's password, whatever the email, so timing does not tell which emails exist.
        let mut found = None;
        for user in &USERS {
            let password_ok = pikku::auth::constant_time_eq(user.password.as_bytes(), password.as_bytes());
            if password_ok && user.email.eq_ignore_ascii_case(email) {
                found = Some(UserSession { user_id: user.user_id.into(), role: user.role.into() });
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_password_gives_the_users_session() {
        let alice = Users.verify("alice@example.com", "correct horse").unwrap();
        assert_eq!((alice.user_id.as_str(), alice.role.as_str()), ("u1", "admin"));
        assert_eq!(Users.verify("bob@example.com", "battery staple").unwrap().role, "user");
    }

    #[test]
    fn wrong_password_or_unknown_email_gives_nothing() {
        assert!(Users.verify("alice@example.com", "battery staple").is_none());
        assert!(Users.verify("carol@example.com", "correct horse").is_none());
        assert!(Users.verify("alice@example.com", "").is_none());
    }
}
