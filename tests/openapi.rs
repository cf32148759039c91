//! The OpenAPI document built from the registry (docs/openapi.md): operations, parameters and bodies from the
//! input types, responses from the output types and the statuses each route can answer, security from the
//! strategies wired on each route (a custom strategy describing its own scheme), and the route serving it.

// Test code: the lint wall's documentation and `Debug` rules are for the libraries' public items.
#![allow(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::collections::HashMap;

use pikku::auth::{auth_bearer, AuthServices, JwtService};
use pikku::openapi::{ApiKeyLocation, OpenApiOptions, SecuritySchemeDoc};
use pikku::prelude::*;
use pikku::testing::TestClient;
use pikku::{schemars, strategy, AuthStrategy, Authenticated, JsonSchema, Step};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub struct Services {
    jwt: JwtService,
}

impl AuthServices for Services {
    fn jwt(&self) -> &JwtService {
        &self.jwt
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    user: String,
}

/// A strategy of the application's own, reading `x-device`: it describes the credential it reads, so the
/// document lists it beside the built-in ones.
pub struct DeviceStrategy;

impl AuthStrategy<Services, Session> for DeviceStrategy {
    type State = ();

    fn name(&self) -> &str {
        "auth_device"
    }

    fn openapi_schemes(&self) -> Vec<(String, SecuritySchemeDoc)> {
        let scheme = SecuritySchemeDoc::ApiKey { location: ApiKeyLocation::Header, name: "x-device".into() };
        vec![("deviceKey".into(), scheme)]
    }

    fn authenticate<'a>(
        &'a self,
        _: &'a Services,
        request: &Request<Session>,
    ) -> Step<'a, Result<Authenticated<Session, ()>, PikkuError>> {
        match request.headers().get("x-device").and_then(|value| value.to_str().ok()) {
            Some("device-1") => Step::Ready(Ok(Authenticated::session(Session { user: "device".into() }))),
            Some(_) => Step::Ready(Err(PikkuError::invalid_session("Unknown device"))),
            None => Step::Ready(Ok(Authenticated::none())),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct Pong {
    pong: bool,
}

/// Answers whether the service is up.
///
/// Public, and cheap.
#[pikku_func(auth = false, tags = ["public"])]
async fn ping(_: &Services, _: (), _: &OptionalContext<Session>) -> Result<Pong, PikkuError> {
    Ok(Pong { pong: true })
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewItem {
    display_name: String,
    #[serde(default)]
    labels: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    id: u64,
    display_name: String,
}

#[pikku_func(description = "Creates an item", responses = [201, 409])]
async fn create_item(_: &Services, data: NewItem, _: &Context<Session>) -> Result<Reply<Item>, PikkuError> {
    let item = Item { id: data.labels.len() as u64 + 1, display_name: data.display_name };
    Ok(Reply::created("/api/items/1", item))
}

#[derive(Deserialize, JsonSchema)]
pub struct ItemId {
    id: u64,
}

#[pikku_func]
async fn delete_item(_: &Services, data: ItemId, _: &Context<Session>) -> Result<(), PikkuError> {
    let _ = data.id;
    Ok(())
}

/// No `JsonSchema`: the document describes it as any JSON, and `info openapi` warns.
#[derive(Deserialize)]
pub struct Search {
    #[allow(dead_code)]
    q: String,
}

#[pikku_func]
async fn search(_: &Services, _: Search, _: &Context<Session>) -> Result<HashMap<String, u32>, PikkuError> {
    Ok(HashMap::new())
}

#[pikku_auth]
async fn is_admin(_: &Services, session: &Session) -> bool {
    session.user == "admin"
}

#[pikku_func(permissions = [is_admin])]
async fn admin(_: &Services, _: (), _: &Context<Session>) -> Result<Pong, PikkuError> {
    Ok(Pong { pong: true })
}

#[derive(Deserialize, JsonSchema)]
pub struct Paging {
    page: u32,
    size: Option<u32>,
}

/// Serde's derive does not hand over a flattened input's names; its schema does, so `:page` is checked.
#[derive(Deserialize, JsonSchema)]
pub struct PageQuery {
    #[serde(flatten)]
    paging: Paging,
}

#[pikku_func]
async fn page(_: &Services, data: PageQuery, _: &Context<Session>) -> Result<u32, PikkuError> {
    Ok(data.paging.page + data.paging.size.unwrap_or(0))
}

#[pikku_wiring]
fn wiring(w: &mut Wirings<Services, Session>) {
    w.add_middleware([strategy(DeviceStrategy)]);
    w.add_http_middleware("/api/*", [auth_bearer()]);
    w.get("/ping", ping);
    w.post("/api/items", create_item);
    w.delete("/api/items/:id", delete_item);
    w.get("/api/search", search);
    w.get("/api/admin", admin);
    w.get("/api/pages/:page", page);
    w.openapi(OpenApiOptions::at("/docs/openapi.json").title("Items").version("2.0.0").server("https://api.example"));
}

fn services() -> Services {
    Services { jwt: JwtService::builder().hs256_random_key("k").build().expect("a random key is long enough") }
}

fn document() -> Value {
    App::<Services, Session>::new().registry().expect("the application starts").openapi_document().expect("a document")
}

fn operation<'a>(document: &'a Value, path: &str, method: &str) -> &'a Value {
    let operation = &document["paths"][path][method];
    assert!(operation.is_object(), "no {method} {path} in {document:#}");
    operation
}

fn statuses(operation: &Value) -> Vec<&str> {
    operation["responses"].as_object().expect("responses").keys().map(String::as_str).collect()
}

#[test]
fn the_document_has_the_application_s_title_version_and_servers() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["title"], "Items");
    assert_eq!(document["info"]["version"], "2.0.0");
    // Not overridden: the description of the package the wirings are in (this one's).
    assert_eq!(document["info"]["description"], env!("CARGO_PKG_DESCRIPTION"));
    assert_eq!(document["servers"], json!([{"url": "https://api.example"}]));
    let paths: Vec<&str> = document["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        ["/api/admin", "/api/items", "/api/items/{id}", "/api/pages/{page}", "/api/search", "/ping"],
        "every route but the document's own"
    );
}

#[test]
fn security_lists_the_strategies_of_each_route_and_none_for_a_public_one() {
    let document = document();
    assert_eq!(
        document["components"]["securitySchemes"],
        json!({
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "deviceKey": {"type": "apiKey", "in": "header", "name": "x-device"},
        })
    );
    assert_eq!(
        operation(&document, "/api/items", "post")["security"],
        json!([{"deviceKey": []}, {"bearerAuth": []}]),
        "global strategy first, then the pattern's"
    );
    assert_eq!(operation(&document, "/ping", "get")["security"], json!([]));
    assert!(document.get("security").is_none(), "no document-wide security");
}

#[test]
fn inputs_become_path_query_and_body_with_serde_s_names_and_defaults() {
    let document = document();
    let create = operation(&document, "/api/items", "post");
    let body = &create["requestBody"];
    assert_eq!(body["required"], true);
    let schema_ref = body["content"]["application/json"]["schema"]["$ref"].as_str().expect("a $ref");
    let name = schema_ref.rsplit('/').next().unwrap();
    let schema = &document["components"]["schemas"][name];
    assert_eq!(schema["required"], json!(["displayName"]), "`labels` has a default: {schema:#}");
    assert!(schema["properties"]["labels"].is_object());

    let delete = operation(&document, "/api/items/{id}", "delete");
    assert_eq!(delete["parameters"][0]["name"], "id");
    assert_eq!(delete["parameters"][0]["in"], "path");
    assert_eq!(delete["parameters"][0]["schema"]["type"], "integer");
    assert!(delete.get("requestBody").is_none());

    let page = operation(&document, "/api/pages/{page}", "get");
    let parameters: Vec<(&str, &str)> = page["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap()))
        .collect();
    assert_eq!(parameters, [("page", "path"), ("size", "query")]);
}

#[test]
fn responses_are_the_output_the_declared_statuses_and_the_pipeline_s_errors() {
    let document = document();
    let create = operation(&document, "/api/items", "post");
    // No permission and no cookie strategy (no CSRF check) on this route: no 403.
    assert_eq!(statuses(create), ["200", "201", "401", "408", "409", "413", "415", "422", "default"]);
    for status in ["200", "201"] {
        let schema = &create["responses"][status]["content"]["application/json"]["schema"];
        assert!(schema["$ref"].as_str().is_some_and(|r| r.ends_with("/Item")), "{status}: {schema}");
    }
    for status in ["401", "409", "422", "default"] {
        assert_eq!(
            create["responses"][status]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error"
        );
    }
    assert_eq!(
        document["components"]["schemas"]["Error"]["required"],
        json!(["name", "message", "errorId"]),
        "the one JSON error shape"
    );

    let delete = operation(&document, "/api/items/{id}", "delete");
    assert_eq!(statuses(delete), ["204", "401", "422", "default"]);
    assert!(delete["responses"]["204"].get("content").is_none());

    // A permission can deny; no body is read on a GET; no input, no 422.
    assert_eq!(statuses(operation(&document, "/api/admin", "get")), ["200", "401", "403", "default"]);
    // A public route with a strategy on it still answers 401 to a bad credential.
    assert_eq!(statuses(operation(&document, "/ping", "get")), ["200", "401", "default"]);
}

#[test]
fn summaries_come_from_the_description_option_or_the_doc_comment() {
    let document = document();
    let ping = operation(&document, "/ping", "get");
    assert_eq!(ping["summary"], "Answers whether the service is up.");
    assert_eq!(ping["description"], "Public, and cheap.");
    assert_eq!(ping["tags"], json!(["public"]));
    assert_eq!(ping["operationId"], "ping");
    assert_eq!(operation(&document, "/api/items", "post")["summary"], "Creates an item");
}

#[test]
fn a_type_without_a_schema_is_open_and_named_in_the_warnings() {
    let registry = App::<Services, Session>::new().registry().expect("the application starts");
    let document = registry.openapi_document().unwrap();
    let search = operation(&document, "/api/search", "get");
    assert!(search.get("parameters").is_none(), "an open input is not split into parameters: {search:#}");
    assert_eq!(search["responses"]["200"]["content"]["application/json"]["schema"]["type"], "object");
    let warnings = registry.openapi_missing_schemas();
    assert_eq!(
        warnings,
        ["function `search`: its input `Search` has no JSON schema, so the document describes it as any JSON; derive `JsonSchema` for it"]
    );
}

#[tokio::test]
async fn the_document_is_served_publicly_as_built_at_start_up() {
    let client = TestClient::new(App::<Services, Session>::new().build(services()).expect("the application starts"));
    let response = client.get("/docs/openapi.json").send().await;
    response.assert_status(200).assert_header("content-type", "application/json");
    assert_eq!(response.json_value(), document());
    // The strategies still run on it: a bad credential is refused as on every route.
    client.get("/docs/openapi.json").header("x-device", "nope").send().await.assert_error(401, "InvalidSessionError");
    // It is a GET route like any other.
    client.post("/docs/openapi.json").send().await.assert_error(405, "MethodNotAllowedError");
}
