//! Any bytes as a token: `JwtService::decode` never panics, and whatever it accepts satisfies every rule
//! of docs/jwt.md (checked from the token's own bytes by `jwt_oracle`), with a session in it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pikku::auth::JwtService;
use pikku_fuzz::jwt_oracle::{check_accepted_user, check_accepted_value, now, Window};

fuzz_target!(|data: &[u8]| {
    static JWT: OnceLock<JwtService> = OnceLock::new();
    let jwt = JWT.get_or_init(pikku_fuzz::jwt_service);
    let Ok(token) = std::str::from_utf8(data) else { return };
    let before = now();
    let as_value = jwt.decode::<serde_json::Value>(token);
    let as_user = jwt.decode::<auth_demo::UserSession>(token);
    let window = Window { before, after: now() };
    if let Ok(decoded) = &as_value {
        check_accepted_value(token, decoded, window).unwrap();
    }
    if let Ok(decoded) = &as_user {
        check_accepted_user(token, decoded, window).unwrap();
        // A payload that fits the demo's session is an object with a session in it for any session type.
        assert!(as_value.is_ok(), "accepted as UserSession but not as a JSON map: {:?}", as_value.err());
    }
});
