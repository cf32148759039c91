//! A permission whose data view cannot be read from an input the function accepted is the application's
//! mistake: a 500 with the generic body, and a log line naming the permission, the function, the request and
//! the field, never a silent 403. A body the merge refuses stays the client's 422.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use pikku::prelude::*;
use pikku::testing::TestClient;
use serde::Deserialize;
use serde_json::json;

pub struct Services;

#[derive(Clone)]
pub struct Session;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserScoped {
    user_id: String,
}

#[pikku_permission]
async fn owns(_s: &Services, data: UserScoped, _session: Option<&Session>) -> bool {
    data.user_id == "u1"
}

#[derive(Deserialize)]
pub struct NewNote {
    text: String,
}

/// `owns` reads `userId`, which this route has no parameter for and the input does not ask for: start-up
/// cannot tell (the client could send it), the first request does.
#[pikku_func(auth = false, permissions = [owns])]
async fn add_note(_s: &Services, data: NewNote, _ctx: &OptionalContext<Session>) -> Result<String, PikkuError> {
    Ok(data.text)
}

#[pikku_func(auth = false, permissions = [owns])]
async fn ping(_s: &Services, _data: (), _ctx: &OptionalContext<Session>) -> Result<(), PikkuError> {
    Ok(())
}

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.post("/notes", add_note);
    w.post("/ping", ping);
}

/// Every log line of this test binary, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("the log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).init();
        captured
    })
}

fn log_lines_with(needle: &str) -> Vec<String> {
    let text = String::from_utf8(logs().0.lock().expect("the log buffer").clone()).expect("UTF-8 logs");
    text.lines().filter(|line| line.contains(needle)).map(str::to_owned).collect()
}

fn client() -> TestClient<Services, Session> {
    TestClient::new(App::<Services, Session>::new().build(Services).expect("the application starts"))
}

#[tokio::test]
async fn an_unreadable_view_is_a_500_with_a_log_line_naming_permission_function_request_and_field() {
    logs();
    let response = client().post("/notes").json(&json!({"text": "hi"})).send().await;
    response.assert_error(500, "InternalServerError");
    assert_eq!(response.json_value()["message"], "The server could not complete the request");
    assert!(!response.text().contains("owns"), "the body says nothing of the cause: {}", response.text());

    let request_id = response.header("x-request-id").expect("a request id").to_owned();
    let lines = log_lines_with(&request_id);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert!(line.contains("ERROR"), "{line}");
    assert!(
        line.contains(
            "permission `owns` of function `add_note` cannot read its data view `UserScoped` from the input of POST /notes: missing field `userId`; the view must find its fields in every input the function accepts, under the same names (is a `#[serde(rename_all = ..)]` missing on `UserScoped`, or is `owns` on a route that does not give the field?)"
        ),
        "{line}"
    );
}

#[tokio::test]
async fn a_readable_view_still_decides() {
    let client = client();
    client.post("/notes").json(&json!({"text": "hi", "userId": "u1"})).send().await.assert_status(200);
    client.post("/notes").json(&json!({"text": "hi", "userId": "u2"})).send().await.assert_error(403, "ForbiddenError");
}

#[tokio::test]
async fn malformed_json_read_only_by_a_view_is_still_the_clients_422() {
    let response = client().post("/ping").header("content-type", "application/json").body("{\"userId\": ").send().await;
    response.assert_error(422, "UnprocessableContentError");
}
