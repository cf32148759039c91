//! The command line and start-up (docs/auth-demo.md: Running, Command line).

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::*;

/// Runs the binary to completion (bounded) and returns (status, stdout, stderr).
fn run(args: &[&str], secret: Option<&str>) -> (ExitStatus, String, String) {
    let mut command = Command::new(BIN);
    command.args(args).env("PORT", "0").env("HOST", "127.0.0.1").env_remove("RUST_LOG");
    match secret {
        Some(secret) => command.env("PIKKU_JWT_SECRET", secret),
        None => command.env_remove("PIKKU_JWT_SECRET"),
    };
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start auth-demo");
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let status = wait_bounded(&mut child, WAIT).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("auth-demo {args:?} did not exit within {WAIT:?}");
    });
    (status, stdout.recv_timeout(WAIT).unwrap(), stderr.recv_timeout(WAIT).unwrap())
}

/// Reads a stream to its end on a thread.
fn drain(mut stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    rx
}

fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A started server process and its output lines as they come.
struct Started {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn start(secret: Option<&str>) -> Started {
    let mut command = Command::new(BIN);
    command.env("PORT", "0").env("HOST", "127.0.0.1").env_remove("RUST_LOG");
    match secret {
        Some(secret) => command.env("PIKKU_JWT_SECRET", secret),
        None => command.env_remove("PIKKU_JWT_SECRET"),
    };
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start auth-demo");
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    Started { child, stdout, stderr }
}

impl Started {
    fn address(&self) -> std::net::SocketAddr {
        let line = self.stdout.recv_timeout(WAIT).expect("the address line");
        line.strip_prefix("listening on http://").and_then(|a| a.parse().ok()).unwrap_or_else(|| panic!("{line:?}"))
    }

    fn signal(&self, name: &str) {
        let status =
            Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).status().expect("kill");
        assert!(status.success());
    }
}

/// The row of `table` whose first column is `id`, as whitespace-separated cells.
fn row<'t>(table: &'t str, id: &str) -> Vec<&'t str> {
    table
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&id))
        .unwrap_or_else(|| panic!("no row for {id} in\n{table}"))
}

#[test]
fn info_functions_verbose_lists_the_seven_functions_with_routes_auth_and_permissions() {
    let (status, stdout, stderr) = run(&["info", "functions", "--verbose", "--wide"], Some(SECRET));
    assert!(status.success(), "{stderr}");
    let header = stdout.lines().next().expect("a header line");
    for column in ["ID", "ROUTES", "AUTH", "PERMISSIONS"] {
        assert!(header.contains(column), "{header}");
    }
    let expected: [(&str, &[&str], &str, &str); 7] = [
        ("health", &["GET", "/health"], "public", "-"),
        ("login", &["POST", "/login"], "public", "-"),
        ("get_profile", &["GET", "/me"], "session", "-"),
        ("logout", &["POST", "/logout"], "session", "-"),
        ("admin_dashboard", &["GET", "/admin"], "session", "is_admin"),
        ("add_note", &["POST", "/users/:userId/notes"], "session", "owns_or_admin"),
        ("list_notes", &["GET", "/users/:userId/notes"], "session", "owns_or_admin"),
    ];
    for (id, route, auth, permission) in expected {
        let cells = row(&stdout, id);
        let joined = cells.join(" ");
        assert!(joined.contains(&route.join(" ")), "{id}: route {route:?} in {joined}");
        assert!(cells.contains(&auth), "{id}: auth {auth} in {joined}");
        if permission != "-" {
            assert!(cells.contains(&permission), "{id}: permission {permission} in {joined}");
        } else {
            assert!(!joined.contains("is_admin") && !joined.contains("owns_or_admin"), "{id}: {joined}");
        }
    }
    let rows = stdout.lines().filter(|l| expected.iter().any(|(id, ..)| l.split_whitespace().next() == Some(id)));
    assert_eq!(rows.count(), 7, "{stdout}");
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
}

/// The widest line of `text`, in characters.
fn widest(text: &str) -> usize {
    text.lines().map(|line| line.chars().count()).max().unwrap_or(0)
}

#[test]
fn info_fits_120_columns_by_default_and_wide_prints_one_line_per_function() {
    for args in [&["info", "functions"][..], &["info", "functions", "--verbose"], &["info", "middleware", "--verbose"]]
    {
        let (status, stdout, stderr) = run(args, Some(SECRET));
        assert!(status.success(), "{args:?}: {stderr}");
        assert!(widest(&stdout) <= 120, "{args:?}: {} columns\n{stdout}", widest(&stdout));
    }
    let (status, wide, stderr) = run(&["info", "functions", "--verbose", "--wide"], Some(SECRET));
    assert!(status.success(), "{stderr}");
    assert!(widest(&wide) > 120, "the demo's full table is wider than 120 columns:\n{wide}");
    assert_eq!(wide.lines().count(), 2 + 8, "header, rule, one line per function:\n{wide}");
}

#[test]
fn info_functions_verbose_shows_the_whole_middleware_chain_of_every_route() {
    let (status, stdout, stderr) = run(&["info", "functions", "--verbose"], Some(SECRET));
    assert!(status.success(), "{stderr}");
    // One record per function: its id alone on a line, then its fields.
    let chains: Vec<&str> =
        stdout.lines().filter_map(|line| line.trim_start().strip_prefix("middleware")).map(str::trim).collect();
    assert_eq!(chains.len(), 8, "{stdout}");
    for chain in chains {
        // The strategies wired for "*", in onion order: the global and pattern middleware that runs.
        assert_eq!(chain, "auth_bearer > auth_cookie > auth_api_key", "{stdout}");
    }
    assert!(stdout.lines().any(|line| line == "add_note"), "{stdout}");
}

#[test]
fn logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let server = start(Some(SECRET));
    server.address();
    let deadline = Instant::now() + WAIT;
    let line = loop {
        let line = server.stderr.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("a log line");
        if line.contains("registered") {
            break line;
        }
    };
    assert!(line.contains("INFO"), "{line:?}");
    assert!(!line.contains('\u{1b}'), "an ANSI escape in a piped log: {line:?}");
}

#[test]
fn info_middleware_verbose_lists_the_three_strategies_on_every_http_route() {
    let (status, stdout, stderr) = run(&["info", "middleware", "--verbose", "--wide"], Some(SECRET));
    assert!(status.success(), "{stderr}");
    let names: Vec<&str> =
        stdout.lines().filter_map(|l| l.split_whitespace().next()).filter(|n| n.starts_with("auth_")).collect();
    assert_eq!(names, ["auth_bearer", "auth_cookie", "auth_api_key"], "declared order:\n{stdout}");
    for name in names {
        let joined = row(&stdout, name).join(" ");
        assert!(joined.contains("http *"), "{name}: {joined}");
    }
    let cookie = row(&stdout, "auth_cookie").join(" ");
    assert!(cookie.contains("name=session") && cookie.contains("30d"), "{cookie}");
    assert!(!stdout.contains("test-key-1"), "the API key is not printed:\n{stdout}");
}

#[test]
fn a_secret_shorter_than_32_bytes_is_refused_at_start_without_echoing_it() {
    for secret in ["s3cr3t-XYZ", "0123456789abcdef0123456789abcde"] {
        let (status, stdout, stderr) = run(&[], Some(secret));
        assert!(!status.success(), "{secret:?}: started\n{stdout}");
        assert!(!stdout.contains("listening"), "{stdout}");
        assert!(stderr.contains("PIKKU_JWT_SECRET"), "{stderr}");
        assert!(stderr.contains("32"), "says why: {stderr}");
        assert!(!stderr.contains(secret), "the secret is echoed: {stderr}");
    }
}

#[test]
fn a_32_byte_secret_is_accepted() {
    let server = start(Some("0123456789abcdef0123456789abcdef"));
    assert_ne!(server.address().port(), 0);
}

#[test]
fn without_a_secret_the_server_starts_and_warns_about_the_random_secret() {
    let server = start(None);
    let addr = server.address();
    assert!(addr.ip().is_loopback());
    let deadline = Instant::now() + WAIT;
    let warning = loop {
        let line = server.stderr.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("a warning");
        if line.contains("PIKKU_JWT_SECRET") {
            break line;
        }
    };
    assert!(warning.to_ascii_lowercase().contains("random"), "{warning}");
    assert!(warning.to_ascii_lowercase().contains("warn"), "{warning}");

    // It serves, with tokens of its own secret only.
    let http = HttpClient::new(addr);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let resp = http.post("/login").json(&serde_json::json!({"email": BOB.0, "password": BOB.1})).send().await;
        assert_eq!(resp.status(), 200);
        let token = resp.json_value()["token"].as_str().unwrap().to_owned();
        assert_eq!(http.get("/me").bearer(&token).send().await.status(), 200);
        let ours = forger().aged_token(&session("u2", "user"), 0, 600);
        assert_eq!(http.get("/me").bearer(&ours).send().await.status(), 401);
    });
}

#[test]
fn sigterm_and_sigint_stop_the_server_with_exit_0() {
    for name in ["TERM", "INT"] {
        let mut server = start(Some(SECRET));
        let http = HttpClient::new(server.address());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        assert_eq!(rt.block_on(http.get("/health").send()).status(), 200);
        server.signal(name);
        let status = wait_bounded(&mut server.child, WAIT).unwrap_or_else(|| panic!("SIG{name}: still running"));
        assert_eq!(status.code(), Some(0), "SIG{name}: {status:?}");
    }
}

#[test]
fn a_request_in_flight_finishes_after_sigterm() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut server = start(Some(SECRET));
    let addr = server.address();
    let http = HttpClient::new(addr);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let response = rt.block_on(async {
        let (token, _) = {
            let resp =
                http.post("/login").json(&serde_json::json!({"email": BOB.0, "password": BOB.1})).send().await;
            (resp.json_value()["token"].as_str().unwrap().to_owned(), ())
        };
        let body = br#"{"text":"written while shutting down"}"#;
        let head = format!(
            "POST /users/u2/notes HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut stream = within(WAIT, "connect", tokio::net::TcpStream::connect(addr)).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body[..10]).await.unwrap();
        // Let the server take up the request before the signal.
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.signal("TERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
        stream.write_all(&body[10..]).await.unwrap();
        let mut response = Vec::new();
        within(WAIT, "the in-flight response", stream.read_to_end(&mut response)).await.unwrap();
        String::from_utf8_lossy(&response).into_owned()
    });
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert!(response.contains("written while shutting down"), "{response}");
    let status = wait_bounded(&mut server.child, WAIT).expect("exits after the request");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn info_openapi_prints_the_document_the_server_serves_at_openapi_json() {
    let (status, stdout, stderr) = run(&["info", "openapi"], None);
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "every type of the demo has a schema: {stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).expect("info openapi prints JSON");

    let server = Server::start();
    let served = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async { server.get("/openapi.json").send().await });
    assert_eq!(served.status(), 200, "public: no credential needed");
    assert_eq!(served.json_value(), printed);
}
