//! The notes API through the documented test kit (`pikku::testing`, feature `testing` in
//! `[dev-dependencies]`): requests run in-process through the server's pipeline, and functions are also
//! called directly with a test context.

use notes_api::functions::{update_note, NoteEdit};
use notes_api::store::Note;
use notes_api::{app, Services, Session, Tenant};
use pikku::prelude::*;
use pikku::testing::{TestClient, TestRequest, Transport};
use serde_json::json;

const ADA_KEY: &str = "ada-key-123";
const BOT_KEY: &str = "bot-key-456";

fn client() -> TestClient<Services, Session> {
    let services = Services::new([(ADA_KEY, "ada".to_owned()), (BOT_KEY, "ci-bot".to_owned())]);
    TestClient::new(app().build(services).expect("the application starts"))
}

/// A request with an API key and a tenant.
fn as_ada<'c, T: Transport>(request: TestRequest<'c, T>) -> TestRequest<'c, T> {
    request.header("x-api-key", ADA_KEY).header("x-tenant", "acme")
}

/// Another key, another tenant.
fn as_bot_elsewhere<'c, T: Transport>(request: TestRequest<'c, T>) -> TestRequest<'c, T> {
    request.header("x-api-key", BOT_KEY).header("x-tenant", "globex")
}

#[tokio::test]
async fn create_answers_201_with_location_and_etag_and_the_location_serves_the_note() {
    let client = client();
    let created = as_ada(client.post("/notes")).json(&json!({"text": "buy milk"})).send().await;
    created.assert_status(201);
    assert_eq!(created.header("location"), Some("/notes/1"));
    assert_eq!(created.header("etag"), Some("\"1\""));
    let note: serde_json::Value = created.json();
    assert_eq!(note, json!({"id": 1, "text": "buy milk", "author": "ada", "version": 1}));

    let read = as_ada(client.get("/notes/1")).send().await;
    assert_eq!(read.assert_status(200).json_value(), note);
    assert_eq!(read.header("etag"), Some("\"1\""));
    assert_eq!(as_ada(client.get("/notes")).send().await.assert_status(200).json_value(), json!([note]));
}

#[tokio::test]
async fn an_edit_needs_the_current_etag_in_if_match() {
    let client = client();
    as_ada(client.post("/notes")).json(&json!({"text": "v1"})).send().await.assert_status(201);

    as_ada(client.put("/notes/1"))
        .json(&json!({"text": "v2"}))
        .send()
        .await
        .assert_error(428, "PreconditionRequiredError");
    let edited = as_ada(client.put("/notes/1")).header("if-match", "\"1\"").json(&json!({"text": "v2"})).send().await;
    assert_eq!(edited.assert_status(200).json_value()["text"], "v2");
    assert_eq!(edited.header("etag"), Some("\"2\""));

    // A second editor who read version 1 is refused, and told the current version.
    let stale = as_ada(client.put("/notes/1")).header("if-match", "\"1\"").json(&json!({"text": "lost"})).send().await;
    let body = stale.assert_error(412, "PreconditionFailedError");
    assert_eq!(body["payload"], json!({"currentVersion": 2}));
    assert_eq!(as_ada(client.get("/notes/1")).send().await.json_value()["text"], "v2");
}

#[tokio::test]
async fn a_conditional_read_of_an_unchanged_note_is_304_without_a_body() {
    let client = client();
    as_ada(client.post("/notes")).json(&json!({"text": "hi"})).send().await.assert_status(201);
    let unchanged = as_ada(client.get("/notes/1")).header("if-none-match", "\"1\"").send().await;
    unchanged.assert_status(304);
    assert!(unchanged.bytes().is_empty());
    assert_eq!(unchanged.header("etag"), Some("\"1\""));
    as_ada(client.get("/notes/1")).header("if-none-match", "\"0\"").send().await.assert_status(200);
}

#[tokio::test]
async fn the_tenant_from_the_middleware_keeps_tenants_apart() {
    let client = client();
    as_ada(client.post("/notes")).json(&json!({"text": "acme only"})).send().await.assert_status(201);
    as_bot_elsewhere(client.get("/notes/1")).send().await.assert_error(404, "NotFoundError");
    assert_eq!(as_bot_elsewhere(client.get("/notes")).send().await.assert_status(200).json_value(), json!([]));

    client.get("/notes").header("x-api-key", ADA_KEY).send().await.assert_error(400, "BadRequestError");
    client
        .get("/notes")
        .header("x-api-key", ADA_KEY)
        .header("x-tenant", "Not Valid")
        .send()
        .await
        .assert_error(400, "BadRequestError");
}

#[tokio::test]
async fn api_keys_are_looked_up_in_the_services() {
    let client = client();
    client.get("/notes").header("x-tenant", "acme").send().await.assert_error(401, "MissingSessionError");
    client
        .get("/notes")
        .header("x-api-key", "guess-1234")
        .header("x-tenant", "acme")
        .send()
        .await
        .assert_error(401, "InvalidSessionError");
    let created = client
        .post("/notes")
        .header("x-api-key", BOT_KEY)
        .header("x-tenant", "acme")
        .json(&json!({"text": "from CI"}))
        .send()
        .await;
    assert_eq!(created.assert_status(201).json_value()["author"], "ci-bot");
}

#[tokio::test]
async fn delete_is_204_then_404_and_bad_input_names_the_field() {
    let client = client();
    as_ada(client.post("/notes")).json(&json!({"text": " "})).send().await.assert_invalid_field("text");
    as_ada(client.post("/notes")).json(&json!({"text": "bye"})).send().await.assert_status(201);
    let deleted = as_ada(client.delete("/notes/1")).send().await;
    deleted.assert_status(204);
    assert!(deleted.bytes().is_empty());
    as_ada(client.delete("/notes/1")).send().await.assert_error(404, "NotFoundError");
    as_ada(client.get("/notes/x")).send().await.assert_invalid_field("id");
}

#[tokio::test]
async fn a_function_called_directly_with_a_test_context() {
    let services = Services::new([(ADA_KEY, "ada".to_owned())]);
    let acme = Tenant("acme".into());
    let note = services.notes.create(&acme, "ada", "draft".into());
    let ctx = Context::for_test(Session { user_id: "ada".into() })
        .with_extension(acme.clone())
        .with_header("if-match", note.etag());
    let reply = update_note(&services, NoteEdit { id: note.id, text: "final".into() }, &ctx).await.unwrap();
    assert_eq!(reply.status_code(), StatusCode::OK);
    assert_eq!(reply.headers()["etag"], "\"2\"");
    assert_eq!(reply.value().map(|note: &Note| note.text.as_str()), Some("final"));

    // Without the tenant middleware's value, the function says what is missing (a 500: a wiring mistake).
    let ctx = Context::for_test(Session { user_id: "ada".into() }).with_header("if-match", "\"2\"");
    let error = update_note(&services, NoteEdit { id: note.id, text: "x".into() }, &ctx).await.unwrap_err();
    assert_eq!(error.status(), 500);
    assert!(error.message().contains("resolve_tenant"), "{}", error.message());
}

#[test]
fn the_server_refuses_to_start_without_api_keys() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_notes-api"))
        .env_remove(notes_api::API_KEYS_VAR)
        .env("PORT", "0")
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error: NOTES_API_KEYS is not set"), "{stderr}");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_notes-api"))
        .env(notes_api::API_KEYS_VAR, "secret-but-no-user")
        .env("PORT", "0")
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error: NOTES_API_KEYS: item 1 is not `key=user`"), "{stderr}");
    assert!(!stderr.contains("secret-but-no-user"), "{stderr}");
}

#[tokio::test]
async fn the_openapi_document_is_public_and_declares_what_each_function_answers() {
    let client = client();
    let response = client.get("/openapi.json").send().await;
    response.assert_status(200);
    let document = response.json_value();
    let create = &document["paths"]["/notes"]["post"];
    assert_eq!(create["security"], json!([{"apiKeyHeader": []}]));
    assert_eq!(
        create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Note"
    );
    let update = &document["paths"]["/notes/{id}"]["put"];
    for status in ["200", "404", "412", "428"] {
        assert!(update["responses"].get(status).is_some(), "{status} in {update:#}");
    }
    assert!(document["paths"]["/notes/{id}"]["get"]["responses"]["304"]["content"].is_null(), "a 304 has no body");

    let registry = app().registry().expect("the application starts");
    assert_eq!(registry.openapi_missing_schemas(), Vec::<String>::new(), "every type derives JsonSchema");
}
