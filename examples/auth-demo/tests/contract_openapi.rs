//! The demo's OpenAPI document (docs/auth-demo.md: `GET /openapi.json`), pinned by a snapshot, and the parts of
//! it the contract names checked one by one. After an intended change, `PIKKU_UPDATE_SNAPSHOTS=1 cargo test -p
//! auth-demo --test contract_openapi` rewrites the snapshot; review its diff like code.

use serde_json::{json, Value};

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi.json");

fn document() -> Value {
    auth_demo::app().registry().expect("the demo starts").openapi_document().expect("the demo's document")
}

#[test]
fn the_document_matches_its_snapshot() {
    let document = document();
    let mut text = serde_json::to_string_pretty(&document).unwrap();
    text.push('\n');
    if std::env::var_os("PIKKU_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(SNAPSHOT, &text).expect("write the snapshot");
        return;
    }
    let pinned = std::fs::read_to_string(SNAPSHOT).expect("the snapshot exists");
    assert!(
        pinned == text,
        "the OpenAPI document changed; if that is intended, run `PIKKU_UPDATE_SNAPSHOTS=1 cargo test -p auth-demo --test contract_openapi` and review the diff of {SNAPSHOT}"
    );
}

#[test]
fn the_login_body_has_email_and_password_as_required_strings() {
    let document = document();
    let login = &document["paths"]["/login"]["post"];
    assert_eq!(login["security"], json!([]), "public");
    let body = &login["requestBody"];
    assert_eq!(body["required"], true);
    let schema = &body["content"]["application/json"]["schema"];
    assert_eq!(schema["$ref"], "#/components/schemas/Credentials");
    let credentials = &document["components"]["schemas"]["Credentials"];
    assert_eq!(credentials["required"], json!(["email", "password"]));
    assert_eq!(credentials["properties"]["email"]["type"], "string");
    assert_eq!(credentials["properties"]["password"]["type"], "string");
}

#[test]
fn every_status_the_contract_names_is_declared() {
    let document = document();
    let statuses = |path: &str, method: &str| -> Vec<String> {
        document["paths"][path][method]["responses"].as_object().unwrap().keys().cloned().collect()
    };
    let has = |path: &str, method: &str, wanted: &[&str]| {
        let declared = statuses(path, method);
        for status in wanted.iter().chain(&["default"]) {
            assert!(declared.iter().any(|s| s == status), "{method} {path} lacks {status}: {declared:?}");
        }
    };
    has("/health", "get", &["200"]);
    has("/login", "post", &["200", "401", "413", "415", "422", "429"]);
    has("/me", "get", &["200", "401"]);
    has("/logout", "post", &["204", "401", "403"]);
    has("/logout/all", "post", &["204", "401", "403"]);
    has("/admin", "get", &["200", "401", "403"]);
    has("/users/{userId}/notes", "post", &["200", "401", "403", "413", "415", "422"]);
    has("/users/{userId}/notes", "get", &["200", "401", "403", "422"]);
}

#[test]
fn routes_that_need_a_session_list_the_three_strategies_as_alternatives() {
    let document = document();
    let all = json!([{"bearerAuth": []}, {"cookieAuth": []}, {"apiKeyHeader": []}, {"apiKeyQuery": []}]);
    for (path, method) in [("/me", "get"), ("/logout", "post"), ("/admin", "get"), ("/users/{userId}/notes", "get")] {
        assert_eq!(document["paths"][path][method]["security"], all, "{method} {path}");
    }
    assert_eq!(document["paths"]["/health"]["get"]["security"], json!([]));
    assert_eq!(
        document["components"]["securitySchemes"],
        json!({
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "session"},
            "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            "apiKeyQuery": {"type": "apiKey", "in": "query", "name": "apiKey"},
        })
    );
    let list = &document["paths"]["/users/{userId}/notes"]["get"];
    assert_eq!(list["parameters"][1]["name"], "limit");
    assert_eq!(list["parameters"][1]["in"], "query");
    assert_eq!(list["parameters"][1]["required"], false);
}
