//! The document's content, pinned operation by operation.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::*;
use crate::schema_fn_of;

#[derive(Deserialize, crate::JsonSchema)]
#[schemars(crate = "crate::schemars")]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct ListNotes {
    user_id: String,
    limit: Option<u32>,
    #[serde(default)]
    include_archived: bool,
    search_text: String,
}

#[derive(Deserialize, crate::JsonSchema)]
#[schemars(crate = "crate::schemars")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct AddNote {
    user_id: String,
    text: String,
    #[serde(default)]
    pinned: bool,
}

#[derive(Serialize, Deserialize, crate::JsonSchema)]
#[schemars(crate = "crate::schemars")]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Note {
    id: u64,
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    archived_at: Option<String>,
    #[serde(skip_serializing)]
    owner_secret: Option<String>,
}

#[derive(Serialize, crate::JsonSchema)]
#[schemars(crate = "crate::schemars")]
#[allow(dead_code)]
struct NoteList {
    notes: Vec<Note>,
}

#[derive(Deserialize, crate::JsonSchema)]
#[schemars(crate = "crate::schemars")]
#[allow(dead_code)]
struct Login {
    email: String,
    password: String,
}

#[derive(Deserialize, crate::JsonSchema)]
#[schemars(crate = "crate::schemars")]
#[serde(tag = "kind")]
#[allow(dead_code)]
enum Command {
    Archive { id: u64 },
    Restore { id: u64 },
}

/// An application type with the name the framework keeps for its error body.
#[derive(Serialize, crate::JsonSchema)]
#[schemars(crate = "crate::schemars")]
#[allow(dead_code)]
struct Error {
    code: u32,
}

fn info() -> ApiInfo {
    ApiInfo {
        title: "Notes".into(),
        version: "1.2.3".into(),
        description: Some("The notes API.".into()),
        servers: vec!["http://127.0.0.1:3000".into()],
    }
}

fn schemes() -> Vec<(String, SecuritySchemeDoc)> {
    vec![
        ("bearer".into(), SecuritySchemeDoc::HttpBearer { bearer_format: Some("JWT".into()) }),
        ("apiKey".into(), SecuritySchemeDoc::ApiKey { location: ApiKeyLocation::Header, name: "x-api-key".into() }),
        ("cookie".into(), SecuritySchemeDoc::ApiKey { location: ApiKeyLocation::Cookie, name: "session".into() }),
        ("custom".into(), SecuritySchemeDoc::Raw(json!({"type": "http", "scheme": "digest"}))),
    ]
}

const PIPELINE_ERRORS: [u16; 5] = [401, 403, 413, 415, 422];

/// The operations of a small notes API, one of each kind the tests look at.
fn operations() -> Vec<OperationDoc> {
    let mut list = OperationDoc::new(
        Method::GET,
        "/users/:userId/notes",
        "listNotes",
        InputDoc::from_schema_fn(schema_fn_of!(ListNotes)),
        OutputDoc::Json(schema_fn_of!(NoteList)),
    );
    list.summary = Some("List a user's notes".into());
    list.description = Some("Newest first.".into());
    list.tags = vec!["notes".into()];
    list.security = vec!["bearer".into(), "apiKey".into()];
    list.error_statuses = vec![401, 403, 422];

    let mut add = OperationDoc::new(
        Method::POST,
        "/users/{userId}/notes",
        "addNote",
        InputDoc::from_schema_fn(schema_fn_of!(AddNote)),
        OutputDoc::Json(schema_fn_of!(Note)),
    );
    add.tags = vec!["notes".into()];
    add.security = vec!["bearer".into()];
    add.success_statuses = vec![201];
    add.error_statuses = PIPELINE_ERRORS.to_vec();

    let mut login = OperationDoc::new(
        Method::POST,
        "/login",
        "login",
        InputDoc::from_schema_fn(schema_fn_of!(Login)),
        OutputDoc::NoContent,
    );
    login.success_statuses = vec![303];
    login.error_statuses = vec![401, 415, 422, 429];

    let mut logout = OperationDoc::new(Method::POST, "/logout", "logout", InputDoc::Nothing, OutputDoc::NoContent);
    logout.security = vec!["bearer".into(), "cookie".into()];
    logout.error_statuses = vec![401];

    let health = OperationDoc::new(Method::GET, "/health", "health", InputDoc::Nothing, OutputDoc::Json(None));
    let mut export = OperationDoc::new(
        Method::GET,
        "/users/:userId/export",
        "exportNotes",
        InputDoc::Unknown,
        OutputDoc::Bytes { content_type: "text/csv".into() },
    );
    export.security = vec!["custom".into()];
    let events = OperationDoc::new(Method::GET, "/events", "events", InputDoc::Nothing, OutputDoc::EventStream);
    let import = OperationDoc::new(
        Method::PUT,
        "/users/:userId/notes",
        "importNotes",
        InputDoc::Unknown,
        OutputDoc::Json(schema_fn_of!(Error)),
    );
    let command = OperationDoc::new(
        Method::POST,
        "/commands/:id",
        "runCommand",
        InputDoc::from_schema_fn(schema_fn_of!(Command)),
        OutputDoc::NoContent,
    );
    let mut update = OperationDoc::new(
        Method::PATCH,
        "/notes/:id",
        "updateNote",
        InputDoc::from_schema_fn(schema_fn_of!(Note)),
        OutputDoc::Json(schema_fn_of!(Note)),
    );
    update.security = vec!["bearer".into()];
    vec![list, add, login, logout, health, export, events, import, command, update]
}

fn document() -> Value {
    build_document(&info(), &schemes(), &operations()).expect("the descriptions are valid")
}

fn error_ref() -> Value {
    json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}})
}

#[test]
fn the_document_is_openapi_3_1_with_info_servers_and_tags() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"], json!({"title": "Notes", "version": "1.2.3", "description": "The notes API."}));
    assert_eq!(document["servers"], json!([{"url": "http://127.0.0.1:3000"}]));
    assert_eq!(document["tags"], json!([{"name": "notes"}]));
    assert!(document.get("security").is_none(), "no document-wide security");
    let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
    assert_eq!(
        paths,
        [
            "/commands/{id}",
            "/events",
            "/health",
            "/login",
            "/logout",
            "/notes/{id}",
            "/users/{userId}/export",
            "/users/{userId}/notes"
        ]
    );
    let methods: Vec<&String> = document["paths"]["/users/{userId}/notes"].as_object().unwrap().keys().collect();
    assert_eq!(methods, ["get", "post", "put"]);
}

#[test]
fn a_get_splits_its_input_into_path_and_query_parameters() {
    let document = document();
    let list = &document["paths"]["/users/{userId}/notes"]["get"];
    assert_eq!(list["operationId"], "listNotes");
    assert_eq!(list["summary"], "List a user's notes");
    assert_eq!(list["description"], "Newest first.");
    assert_eq!(list["tags"], json!(["notes"]));
    assert_eq!(
        list["parameters"],
        json!([
            {"name": "userId", "in": "path", "required": true, "schema": {"type": "string"}},
            {"name": "includeArchived", "in": "query", "required": false, "schema": {"type": "boolean", "default": false}},
            {"name": "limit", "in": "query", "required": false, "schema": {"type": ["integer", "null"], "format": "uint32", "minimum": 0}},
            {"name": "searchText", "in": "query", "required": true, "schema": {"type": "string"}},
        ])
    );
    assert!(list.get("requestBody").is_none(), "a GET reads no body");
}

#[test]
fn a_post_takes_path_parameters_out_of_its_body() {
    let document = document();
    let add = &document["paths"]["/users/{userId}/notes"]["post"];
    assert_eq!(
        add["parameters"],
        json!([{"name": "userId", "in": "path", "required": true, "schema": {"type": "string"}}])
    );
    assert_eq!(
        add["requestBody"],
        json!({"required": true, "content": {"application/json": {"schema": {
            "type": "object",
            "properties": {"text": {"type": "string"}, "pinned": {"type": "boolean", "default": false}},
            "required": ["text"],
            "additionalProperties": false,
        }}}})
    );
}

#[test]
fn a_body_with_nothing_from_the_path_is_the_inputs_own_schema() {
    let document = document();
    let login = &document["paths"]["/login"]["post"];
    assert!(login.get("parameters").is_none());
    assert_eq!(
        login["requestBody"],
        json!({"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Login"}}}})
    );
    assert_eq!(document["components"]["schemas"]["Login"]["required"], json!(["email", "password"]));
}

#[test]
fn a_path_parameter_takes_the_schema_of_the_inputs_property() {
    let document = document();
    let update = &document["paths"]["/notes/{id}"]["patch"];
    assert_eq!(
        update["parameters"],
        json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "uint64", "minimum": 0}}])
    );
    let body = &update["requestBody"];
    assert_eq!(body["required"], true);
    let schema = &body["content"]["application/json"]["schema"];
    assert_eq!(schema["required"], json!(["text"]));
    let properties: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    assert_eq!(properties, ["archivedAt", "ownerSecret", "text"]);
    assert!(schema.get("additionalProperties").is_none(), "unknown fields are ignored, so allowed");
    assert_eq!(
        update["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/NoteOutput"
    );
}

#[test]
fn serde_attributes_decide_what_is_required() {
    let document = document();
    let list_notes = &document["components"]["schemas"]["ListNotes"];
    // camelCase names; `Option` and `#[serde(default)]` fields are optional on input.
    assert_eq!(list_notes["required"], json!(["userId", "searchText"]));
    let note = &document["components"]["schemas"]["Note"];
    assert_eq!(note["required"], json!(["id", "text"]), "the input side: `Option`s may be left out");
    assert!(note["properties"].get("ownerSecret").is_some(), "deserialized, so described on input");
    let note_output = &document["components"]["schemas"]["NoteOutput"];
    assert_eq!(note_output["required"], json!(["id", "text"]), "skip_serializing_if makes `archivedAt` optional");
    assert!(note_output["properties"].get("archivedAt").is_some());
    assert!(note_output["properties"].get("ownerSecret").is_none(), "never serialized, so never described on output");
}

#[test]
fn responses_reference_the_output_schema_as_it_serializes() {
    let document = document();
    let list = &document["paths"]["/users/{userId}/notes"]["get"];
    assert_eq!(
        list["responses"]["200"],
        json!({"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NoteList"}}}})
    );
    let note_list = &document["components"]["schemas"]["NoteList"];
    assert_eq!(
        note_list["properties"]["notes"],
        json!({"type": "array", "items": {"$ref": "#/components/schemas/NoteOutput"}})
    );
    let add = &document["paths"]["/users/{userId}/notes"]["post"];
    let note_output = json!({"application/json": {"schema": {"$ref": "#/components/schemas/NoteOutput"}}});
    assert_eq!(add["responses"]["200"]["content"], note_output);
    assert_eq!(add["responses"]["201"], json!({"description": "Created", "content": note_output}));
}

#[test]
fn no_content_is_a_204_and_a_redirect_has_a_location_and_no_body() {
    let document = document();
    let login = &document["paths"]["/login"]["post"]["responses"];
    assert_eq!(login["204"], json!({"description": "No Content"}));
    assert!(login.get("200").is_none());
    assert_eq!(
        login["303"],
        json!({"description": "See Other", "headers": {"Location": {"description": "Where the client is sent", "schema": {"type": "string"}}}})
    );
    assert_eq!(login["429"]["headers"]["Retry-After"]["schema"], json!({"type": "string"}));
    let logout = &document["paths"]["/logout"]["post"];
    assert_eq!(logout["responses"]["204"], json!({"description": "No Content"}));
    assert!(logout.get("requestBody").is_none(), "a `()` input reads no body");
    assert!(logout.get("parameters").is_none());
}

#[test]
fn an_output_without_a_schema_is_open_and_streams_have_their_content_types() {
    let document = document();
    let health = &document["paths"]["/health"]["get"];
    assert_eq!(
        health["responses"]["200"],
        json!({"description": "OK", "content": {"application/json": {"schema": {}}}})
    );
    let export = &document["paths"]["/users/{userId}/export"]["get"];
    assert_eq!(export["responses"]["200"]["content"], json!({"text/csv": {}}));
    let events = &document["paths"]["/events"]["get"];
    assert_eq!(events["responses"]["200"]["content"], json!({"text/event-stream": {}}));
}

#[test]
fn an_input_without_a_schema_has_string_path_parameters_and_an_open_optional_body() {
    let document = document();
    let export = &document["paths"]["/users/{userId}/export"]["get"];
    assert_eq!(
        export["parameters"],
        json!([{"name": "userId", "in": "path", "required": true, "schema": {"type": "string"}}])
    );
    assert!(export.get("requestBody").is_none());
    let import = &document["paths"]["/users/{userId}/notes"]["put"];
    assert_eq!(
        import["parameters"],
        json!([{"name": "userId", "in": "path", "required": true, "schema": {"type": "string"}}])
    );
    assert_eq!(import["requestBody"], json!({"required": false, "content": {"application/json": {"schema": {}}}}));
}

#[test]
fn an_input_that_is_not_a_plain_object_is_not_split() {
    let document = document();
    let command = &document["paths"]["/commands/{id}"]["post"];
    assert_eq!(
        command["parameters"],
        json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}])
    );
    assert_eq!(command["requestBody"], json!({"required": false, "content": {"application/json": {"schema": {}}}}));
    assert!(document["components"]["schemas"]["Command"]["oneOf"].is_array());
}

#[test]
fn errors_share_the_framework_error_body_and_default_covers_the_rest() {
    let document = document();
    assert_eq!(
        document["components"]["schemas"]["Error"],
        json!({
            "type": "object",
            "description": "Every error response's body.",
            "properties": {
                "name": {"type": "string", "description": "The error's stable name, such as `NotFoundError`."},
                "message": {"type": "string", "description": "A message for the client (generic for a 5xx)."},
                "payload": {"description": "Details, such as the `field` an input error concerns (never for a 5xx)."},
                "errorId": {"type": "string", "description": "The request's id, also in the `x-request-id` header."},
            },
            "required": ["name", "message", "errorId"],
        })
    );
    let add = &document["paths"]["/users/{userId}/notes"]["post"]["responses"];
    let statuses: Vec<&String> = add.as_object().unwrap().keys().collect();
    assert_eq!(statuses, ["200", "201", "401", "403", "413", "415", "422", "default"]);
    for status in PIPELINE_ERRORS {
        assert_eq!(add[status.to_string()]["content"], error_ref(), "{status}");
    }
    assert_eq!(add["415"]["description"], "The request body is not JSON");
    assert_eq!(add["default"], json!({"description": "Any other error", "content": error_ref()}));
    let health = &document["paths"]["/health"]["get"]["responses"];
    assert_eq!(health["default"]["content"], error_ref(), "every operation has the default");
}

#[test]
fn an_application_type_named_error_is_renamed() {
    let document = document();
    let import = &document["paths"]["/users/{userId}/notes"]["put"];
    assert_eq!(
        import["responses"]["200"]["content"]["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/Error2"})
    );
    assert_eq!(document["components"]["schemas"]["Error2"]["required"], json!(["code"]));
}

#[test]
fn security_lists_alternatives_or_nothing_and_schemes_are_components() {
    let document = document();
    assert_eq!(
        document["components"]["securitySchemes"],
        json!({
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": "session"},
            "custom": {"type": "http", "scheme": "digest"},
        })
    );
    let paths = &document["paths"];
    assert_eq!(paths["/users/{userId}/notes"]["get"]["security"], json!([{"bearer": []}, {"apiKey": []}]));
    assert_eq!(paths["/logout"]["post"]["security"], json!([{"bearer": []}, {"cookie": []}]));
    assert_eq!(paths["/users/{userId}/notes"]["post"]["security"], json!([{"bearer": []}]));
    assert_eq!(paths["/health"]["get"]["security"], json!([]), "a public route says so");
    assert_eq!(paths["/login"]["post"]["security"], json!([]));
}

#[test]
fn the_document_has_no_schema_keywords_and_only_refs_into_its_components() {
    fn walk(value: &Value, components: &Map<String, Value>, refs: &mut usize) {
        match value {
            Value::Object(object) => {
                assert!(!object.contains_key("$schema"));
                assert!(!object.contains_key("$defs"));
                if let Some(Value::String(reference)) = object.get("$ref") {
                    let name = reference.strip_prefix("#/components/schemas/").expect("refs point into the components");
                    assert!(components.contains_key(name), "{reference} exists");
                    *refs += 1;
                }
                object.values().for_each(|member| walk(member, components, refs));
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, components, refs)),
            _ => {}
        }
    }
    let document = document();
    let mut refs = 0;
    walk(&document, document["components"]["schemas"].as_object().unwrap(), &mut refs);
    assert!(refs > 20, "{refs} references checked");
}

#[test]
fn two_builds_are_equal_byte_for_byte() {
    let first = serde_json::to_string_pretty(&document()).unwrap();
    let second = serde_json::to_string_pretty(&document()).unwrap();
    assert_eq!(first, second);
    let mut reversed = operations();
    reversed.reverse();
    let third = build_document(&info(), &schemes(), &reversed).unwrap();
    assert_eq!(third["paths"], document()["paths"], "the order operations are given in does not matter");
}

/// Writes the document when `PIKKU_OPENAPI_SAMPLE` names a file, for `.ci/openapi-check.sh --validate <file>`.
#[test]
fn sample_document_for_the_validator() {
    let document = document();
    if let Some(path) = std::env::var_os("PIKKU_OPENAPI_SAMPLE") {
        std::fs::write(path, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
    }
    assert_eq!(document["paths"].as_object().unwrap().len(), 8);
}

#[test]
fn invalid_descriptions_are_errors_naming_the_culprit() {
    let build = |operations: &[OperationDoc]| build_document(&info(), &schemes(), operations).unwrap_err();
    let health = || OperationDoc::new(Method::GET, "/health", "health", InputDoc::Nothing, OutputDoc::NoContent);

    let mut same_id = health();
    same_id.template = "/status".into();
    assert_eq!(build(&[health(), same_id]), OpenApiError::DuplicateOperationId { operation_id: "health".into() });

    let mut same_route = health();
    same_route.operation_id = "health2".into();
    assert_eq!(
        build(&[health(), same_route]),
        OpenApiError::DuplicateOperation { method: "GET".into(), path: "/health".into() }
    );
    let colon_and_braces = [
        OperationDoc::new(Method::GET, "/a/:id", "one", InputDoc::Nothing, OutputDoc::NoContent),
        OperationDoc::new(Method::GET, "/a/{id}", "two", InputDoc::Nothing, OutputDoc::NoContent),
    ];
    assert!(matches!(build(&colon_and_braces), OpenApiError::DuplicateOperation { .. }));

    let mut unknown_scheme = health();
    unknown_scheme.security = vec!["bearer".into(), "oauth".into()];
    assert_eq!(
        build(&[unknown_scheme]),
        OpenApiError::UnknownSecurityScheme { operation_id: "health".into(), scheme: "oauth".into() }
    );

    let mut bad_success = health();
    bad_success.success_statuses = vec![404];
    assert!(matches!(build(&[bad_success]), OpenApiError::InvalidStatus { status: 404, .. }));
    let mut bad_error = health();
    bad_error.error_statuses = vec![302];
    assert!(matches!(build(&[bad_error]), OpenApiError::InvalidStatus { status: 302, .. }));

    for template in ["health", "/files/*rest", "/a/:b-c", "/a/x{id}", "/a/:id/:id"] {
        let mut bad_template = health();
        bad_template.template = template.into();
        assert!(matches!(build(&[bad_template]), OpenApiError::InvalidTemplate { .. }), "{template}");
    }

    let mut connect = health();
    connect.method = Method::CONNECT;
    assert!(matches!(build(&[connect]), OpenApiError::UnsupportedMethod { .. }));

    let twice = [
        ("bearer".to_owned(), SecuritySchemeDoc::HttpBearer { bearer_format: None }),
        ("bearer".to_owned(), SecuritySchemeDoc::HttpBearer { bearer_format: None }),
    ];
    assert_eq!(
        build_document(&info(), &twice, &[]).unwrap_err(),
        OpenApiError::DuplicateSecurityScheme { name: "bearer".into() }
    );
    assert_eq!(
        OpenApiError::UnknownSecurityScheme { operation_id: "me".into(), scheme: "oauth".into() }.to_string(),
        "operation `me` names the undeclared security scheme `oauth`"
    );
}

#[test]
fn an_empty_api_is_a_valid_minimal_document() {
    let info = ApiInfo { title: "Empty".into(), version: "0".into(), description: None, servers: Vec::new() };
    let document = build_document(&info, &[], &[]).unwrap();
    assert_eq!(
        document,
        json!({
            "openapi": "3.1.0",
            "info": {"title": "Empty", "version": "0"},
            "paths": {},
            "components": {"schemas": {"Error": error_schema()}},
        })
    );
}
