//! The application's own command, `check-keys`, run as a process: it builds the services from the
//! environment as `serve` does, prints who holds a key and never a key.

use std::process::{Command, Output, Stdio};

/// Runs `notes-api check-keys` with `NOTES_API_KEYS` set to `keys` (unset for `None`). The command never
/// serves, so it exits on its own.
fn check_keys(keys: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_notes-api"));
    command.arg("check-keys").env_remove("RUST_LOG").stdin(Stdio::null());
    match keys {
        Some(keys) => command.env(notes_api::API_KEYS_VAR, keys),
        None => command.env_remove(notes_api::API_KEYS_VAR),
    };
    command.output().expect("run notes-api")
}

#[test]
fn check_keys_lists_who_holds_a_key_and_never_a_key() {
    let output = check_keys(Some("dev-key-1=ada, ci-key-99=ci-bot"));
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout, "2 API key(s), held by: ada, ci-bot\n");
    assert!(!stdout.contains("dev-key-1") && !stderr.contains("dev-key-1"));
}

#[test]
fn check_keys_refuses_bad_keys_like_serve_does_without_echoing_them() {
    let output = check_keys(Some("short=ada"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("NOTES_API_KEYS: the key of item 1 is shorter than 8 characters"), "{stderr}");
    assert!(!stderr.contains("short="), "{stderr}");

    let output = check_keys(None);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("NOTES_API_KEYS is not set"));
}
