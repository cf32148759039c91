//! The application's command line, from a process: its own `greet` command and `--greeting` flag beside
//! `serve` and `info`.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hello");
const WAIT: Duration = Duration::from_secs(10);

/// Runs the binary to completion (bounded) and returns (status, stdout, stderr).
fn run(args: &[&str]) -> (ExitStatus, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hello");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hello {args:?} did not exit within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // The outputs are small, and the process has exited: reading them now cannot block.
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (status, stdout, stderr)
}

#[test]
fn the_application_s_own_command_runs_with_its_services_and_exits() {
    let (status, stdout, stderr) = run(&["greet", "Ada"]);
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "Hello, Ada!\n");
}

#[test]
fn the_application_s_flag_reaches_the_services_before_or_after_the_command() {
    for args in [&["greet", "Ada", "--greeting", "Hi"][..], &["--greeting", "Hi", "greet", "Ada"]] {
        let (status, stdout, stderr) = run(args);
        assert!(status.success(), "{args:?}: {stderr}");
        assert_eq!(stdout, "Hi, Ada!\n", "{args:?}");
    }
}

#[test]
fn help_lists_the_built_in_commands_and_the_application_s() {
    let (status, stdout, stderr) = run(&["--help"]);
    assert!(status.success(), "{stderr}");
    for expected in ["serve", "info", "greet", "Prints the greeting for NAME", "--greeting"] {
        assert!(stdout.contains(expected), "{expected} in\n{stdout}");
    }
}

#[test]
fn a_command_line_mistake_is_refused_with_usage() {
    let (status, stdout, stderr) = run(&["greet"]);
    assert_eq!(status.code(), Some(2), "clap's usage error\n{stdout}");
    assert!(stderr.contains("<NAME>"), "{stderr}");
    let (status, _, stderr) = run(&["nonsense"]);
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("nonsense"), "{stderr}");
}

#[test]
fn info_still_works_beside_the_application_s_commands() {
    let (status, stdout, stderr) = run(&["info", "functions"]);
    assert!(status.success(), "{stderr}");
    let ids: Vec<&str> = stdout.lines().skip(2).filter_map(|line| line.split_whitespace().next()).collect();
    assert_eq!(ids, ["hello", "whoami"], "{stdout}");
}
