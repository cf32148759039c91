//! The OpenAPI 3.1 document of an application, built from plain descriptions of its operations.
//!
//! [`build_document`] takes the API's [`ApiInfo`], its security schemes and one [`OperationDoc`] per route,
//! and returns the document as JSON. Schemas come from [`schemars`] (JSON Schema 2020-12, the dialect of
//! OpenAPI 3.1): a type that derives `JsonSchema` is described exactly, any other type by an open schema. The
//! [`probe`] asks whether a concrete type has a schema without requiring it.
//!
//! What the document says about an operation:
//! * **Parameters.** The route's parameters (`/users/:userId`) are `in: path`, required, with the schema of the
//!   input's property of that name (a string when the input does not declare it). For methods that read no
//!   body (`GET`, `HEAD`, `DELETE`, `OPTIONS`) every other top-level property of the input is an `in: query`
//!   parameter, required when the input requires it.
//! * **Request body.** For the other methods the remaining properties form the `application/json` body,
//!   required when one of them is. An input whose schema has no plain list of `properties` (no schema at all,
//!   an enum, a `#[serde(flatten)]` of an enum) gets an open, optional body: splitting it would drop its
//!   constraints.
//! * **Responses.** `200` with the output's JSON schema (`204` without content for `()`; the content type of a
//!   byte stream or `text/event-stream`), each extra success status (a `3xx` with a `Location` header and no
//!   content), each error status the pipeline can produce for the route, and `default`, all errors with the
//!   framework's error body (`#/components/schemas/Error`).
//! * **Security.** `security` lists the route's schemes as alternatives, or is empty for a public route.
//!
//! Inputs are described as they deserialize and outputs as they serialize, so a `#[serde(default)]` field is an
//! optional input and a `skip_serializing_if` field an optional output; a type whose two descriptions differ
//! appears twice (`Note`, `NoteOutput`).
//!
//! An application's types derive the schema through the runtime's re-export, telling the derive where
//! `schemars` is (it otherwise looks for a `schemars` crate of the application's own):
//!
//! ```
//! use pikku::JsonSchema;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, JsonSchema)]
//! #[schemars(crate = "pikku::schemars")]
//! #[serde(rename_all = "camelCase")]
//! pub struct ListNotes {
//!     /// The owner of the notes.
//!     user_id: String,
//!     limit: Option<u32>,
//! }
//! ```
//!
//! Without the attribute the derive needs a `schemars` in scope: `use pikku::schemars;` in the module, or
//! `schemars = "1"` in the application's own `Cargo.toml` (the same major version as the runtime's, so the
//! trait is the same).

use std::collections::BTreeSet;

use http::Method;
use schemars::{Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

pub mod probe;
pub(crate) mod routes;
mod schemas;

#[cfg(test)]
mod tests;

/// Writes a type's schema into the document's generator and returns it (a `$ref` for a named type); what
/// [`schema_fn_of!`](crate::schema_fn_of) finds for a type that implements `JsonSchema`.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The name of the component that describes every error body.
pub const ERROR_SCHEMA: &str = "Error";

/// The document's `info` and `servers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiInfo {
    /// The API's title.
    pub title: String,
    /// The API's version (not the OpenAPI version).
    pub version: String,
    /// A description (CommonMark).
    pub description: Option<String>,
    /// Server URLs (`https://api.example.com`); none lets clients use the document's own origin.
    pub servers: Vec<String>,
}

/// What an operation's input is.
#[derive(Debug, Clone, Copy)]
pub enum InputDoc {
    /// `()`: the function reads nothing from the request.
    Nothing,
    /// A type with a schema.
    Schema(SchemaFn),
    /// A type without a schema: described as open.
    Unknown,
}

impl InputDoc {
    /// The description of a (non-`()`) input from what [`schema_fn_of!`](crate::schema_fn_of) found.
    #[must_use]
    pub fn from_schema_fn(schema: Option<SchemaFn>) -> Self {
        schema.map_or(Self::Unknown, Self::Schema)
    }
}

/// Where an application serves its OpenAPI document, and what the document says about the API:
/// `w.openapi(OpenApiOptions::at("/openapi.json"))` in a wiring. The route is public (`GET`, no session
/// needed; the global and pattern middleware still run, CORS applies) and answers the document built once at
/// start-up. The title, version and description default to the application's Cargo package (`name`,
/// `version`, `description` of the crate whose wirings declare the routes).
#[derive(Debug, Clone)]
pub struct OpenApiOptions {
    pub(crate) path: String,
    pub(crate) title: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) servers: Vec<String>,
}

impl OpenApiOptions {
    /// Serves the document at `path` (`/openapi.json`).
    pub fn at(path: impl Into<String>) -> Self {
        Self { path: path.into(), title: None, version: None, description: None, servers: Vec::new() }
    }

    /// The API's title, instead of the package name.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The API's version, instead of the package version.
    #[must_use]
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// The API's description (CommonMark), instead of the package description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// A server URL the API is reached at (`https://api.example.com`); may be given more than once. Without
    /// any, clients resolve paths against the URL they fetched the document from.
    #[must_use]
    pub fn server(mut self, url: impl Into<String>) -> Self {
        self.servers.push(url.into());
        self
    }
}

/// The description of a function's input type `I`: [`InputDoc::Nothing`] for `()` (a function that reads
/// nothing from the request), else what [`schema_fn_of!`](crate::schema_fn_of) found. Generated code calls it.
#[doc(hidden)]
#[must_use]
pub fn input_doc<I: 'static>(schema: Option<SchemaFn>) -> InputDoc {
    if std::any::TypeId::of::<I>() == std::any::TypeId::of::<()>() {
        InputDoc::Nothing
    } else {
        InputDoc::from_schema_fn(schema)
    }
}

/// The description of function `F`'s output, given its type's JSON schema when it has one. Generated code
/// calls it.
#[doc(hidden)]
#[must_use]
pub fn output_doc<F: crate::function::PikkuFunction>(schema: Option<SchemaFn>) -> OutputDoc {
    <F::Output as crate::stream::FunctionOutput>::output_doc(schema)
}

/// What an operation answers on success.
#[derive(Debug, Clone)]
pub enum OutputDoc {
    /// `()`: `204 No Content`.
    NoContent,
    /// JSON, with the type's schema, or an open schema for a type without one.
    Json(Option<SchemaFn>),
    /// A byte stream of this content type.
    Bytes {
        /// The response's `Content-Type` (`application/octet-stream` unless the function says otherwise).
        content_type: String,
    },
    /// Server-sent events (`text/event-stream`).
    EventStream,
}

/// One route: a method and a template wired to a function.
#[derive(Debug, Clone)]
pub struct OperationDoc {
    /// The route's method.
    pub method: Method,
    /// The route's template in wiring syntax: `/users/:userId/notes` (or `/users/{userId}/notes`).
    pub template: String,
    /// The operation's id, unique in the document (a function wired to two routes needs two).
    pub operation_id: String,
    /// A one-line summary.
    pub summary: Option<String>,
    /// A longer description (CommonMark).
    pub description: Option<String>,
    /// Tags, to group operations.
    pub tags: Vec<String>,
    /// The input.
    pub input: InputDoc,
    /// The output.
    pub output: OutputDoc,
    /// Success statuses the function may answer besides its usual one (`201`, `303`), 200 to 399.
    pub success_statuses: Vec<u16>,
    /// Error statuses the pipeline can produce for this route, 400 to 599; each is documented with the error body.
    pub error_statuses: Vec<u16>,
    /// The names of the security schemes that can authenticate the route, as alternatives; empty for a route
    /// that needs no session (`auth = false`).
    pub security: Vec<String>,
}

impl OperationDoc {
    /// An operation with no summary, description, tags, extra statuses or security.
    #[must_use]
    pub fn new(
        method: Method,
        template: impl Into<String>,
        operation_id: impl Into<String>,
        input: InputDoc,
        output: OutputDoc,
    ) -> Self {
        Self {
            method,
            template: template.into(),
            operation_id: operation_id.into(),
            summary: None,
            description: None,
            tags: Vec::new(),
            input,
            output,
            success_statuses: Vec::new(),
            error_statuses: Vec::new(),
            security: Vec::new(),
        }
    }
}

/// Where an API key is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyLocation {
    /// A request header.
    Header,
    /// A query parameter.
    Query,
    /// A cookie.
    Cookie,
}

/// A security scheme of `components.securitySchemes`.
#[derive(Debug, Clone, PartialEq)]
pub enum SecuritySchemeDoc {
    /// `Authorization: Bearer <token>`.
    HttpBearer {
        /// What the token is (`JWT`).
        bearer_format: Option<String>,
    },
    /// An API key in a header, the query or a cookie.
    ApiKey {
        /// Where the key is.
        location: ApiKeyLocation,
        /// The header, parameter or cookie name.
        name: String,
    },
    /// Any other scheme, as its Security Scheme Object (a custom strategy describes itself).
    Raw(Value),
}

/// Why the descriptions do not make a valid document; each names the operation or scheme at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenApiError {
    /// Two operations share an `operationId`.
    #[error("two operations have the id `{operation_id}`")]
    DuplicateOperationId {
        /// The id.
        operation_id: String,
    },
    /// Two operations share a method and a path.
    #[error("two operations are `{method} {path}`")]
    DuplicateOperation {
        /// The method.
        method: String,
        /// The path, in OpenAPI syntax.
        path: String,
    },
    /// OpenAPI 3.1 has no field for the method (`CONNECT`, an extension method).
    #[error("operation `{operation_id}`: OpenAPI 3.1 cannot describe the method `{method}`")]
    UnsupportedMethod {
        /// The operation.
        operation_id: String,
        /// The method.
        method: String,
    },
    /// The template is not one the router accepts.
    #[error("operation `{operation_id}`: template `{template}`: {reason}")]
    InvalidTemplate {
        /// The operation.
        operation_id: String,
        /// The template.
        template: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A status outside the range its list allows.
    #[error("operation `{operation_id}`: {status} is not a {expected} status")]
    InvalidStatus {
        /// The operation.
        operation_id: String,
        /// The status.
        status: u16,
        /// `success (200 to 399)` or `error (400 to 599)`.
        expected: &'static str,
    },
    /// An operation names a scheme that is not declared.
    #[error("operation `{operation_id}` names the undeclared security scheme `{scheme}`")]
    UnknownSecurityScheme {
        /// The operation.
        operation_id: String,
        /// The scheme's name.
        scheme: String,
    },
    /// Two security schemes share a name.
    #[error("two security schemes are named `{name}`")]
    DuplicateSecurityScheme {
        /// The name.
        name: String,
    },
}

/// The OpenAPI 3.1 document for `operations`, authenticated by `schemes`.
///
/// The output is deterministic: paths, methods, components and parameters come in a fixed order, so two builds
/// of the same descriptions are equal.
///
/// ```
/// use pikku_runtime::openapi::{build_document, ApiInfo, InputDoc, OperationDoc, OutputDoc};
/// use pikku_runtime::{schema_fn_of, Method};
///
/// let info = ApiInfo { title: "Notes".into(), version: "1.0.0".into(), description: None, servers: vec![] };
/// let health = OperationDoc::new(Method::GET, "/health", "health", InputDoc::Nothing, OutputDoc::Json(schema_fn_of!(bool)));
/// let document = build_document(&info, &[], &[health])?;
/// assert_eq!(document["openapi"], "3.1.0");
/// assert_eq!(document["paths"]["/health"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["type"], "boolean");
/// # Ok::<(), pikku_runtime::openapi::OpenApiError>(())
/// ```
///
/// # Errors
/// [`OpenApiError`] when two operations share an id or a method and path, a method or template cannot be
/// described, a status is out of its range, or an operation names an undeclared scheme, or two schemes share
/// a name.
pub fn build_document(
    info: &ApiInfo,
    schemes: &[(String, SecuritySchemeDoc)],
    operations: &[OperationDoc],
) -> Result<Value, OpenApiError> {
    let mut security_schemes = Map::new();
    for (name, scheme) in schemes {
        if security_schemes.insert(name.clone(), security_scheme(scheme)).is_some() {
            return Err(OpenApiError::DuplicateSecurityScheme { name: name.clone() });
        }
    }

    let mut checked = Vec::with_capacity(operations.len());
    let mut ids = BTreeSet::new();
    let mut routes = BTreeSet::new();
    for operation in operations {
        let checked_operation = check(operation, &security_schemes)?;
        if !ids.insert(operation.operation_id.as_str()) {
            return Err(OpenApiError::DuplicateOperationId { operation_id: operation.operation_id.clone() });
        }
        if !routes.insert((checked_operation.path.clone(), checked_operation.method)) {
            return Err(OpenApiError::DuplicateOperation {
                method: operation.method.to_string(),
                path: checked_operation.path,
            });
        }
        checked.push(checked_operation);
    }

    // Every schema function runs before any `$ref` is read: the merge of the two directions renames
    // components, and the references written so far with them.
    let mut input_generator = schemas::generator(false);
    let mut output_generator = schemas::generator(true);
    let mut input_schemas: Vec<Option<Value>> = operations
        .iter()
        .map(|operation| match operation.input {
            InputDoc::Schema(schema_fn) => Some(schema_fn(&mut input_generator).to_value()),
            InputDoc::Nothing | InputDoc::Unknown => None,
        })
        .collect();
    let mut output_schemas: Vec<Option<Value>> = operations
        .iter()
        .map(|operation| match operation.output {
            OutputDoc::Json(Some(schema_fn)) => Some(schema_fn(&mut output_generator).to_value()),
            _ => None,
        })
        .collect();
    let merged = schemas::merge(
        input_generator.take_definitions(true),
        output_generator.take_definitions(true),
        &[ERROR_SCHEMA],
    );
    for schema in input_schemas.iter_mut().flatten() {
        schemas::rewrite_refs(schema, &merged.input_renames);
    }
    for schema in output_schemas.iter_mut().flatten() {
        schemas::rewrite_refs(schema, &merged.output_renames);
    }
    let mut components = merged.components;
    for schema in
        components.values_mut().chain(input_schemas.iter_mut().flatten()).chain(output_schemas.iter_mut().flatten())
    {
        if let Value::Object(object) = schema {
            object.remove("$schema");
        }
    }

    let mut paths = Map::new();
    let mut tags = BTreeSet::new();
    for (((operation, checked), input_schema), output_schema) in
        operations.iter().zip(&checked).zip(&input_schemas).zip(output_schemas)
    {
        tags.extend(operation.tags.iter().cloned());
        let described = describe(operation, checked, input_schema.as_ref(), output_schema, &components);
        let path_item = paths.entry(checked.path.clone()).or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(path_item) = path_item {
            path_item.insert(checked.method.to_owned(), described);
        }
    }
    components.insert(ERROR_SCHEMA.to_owned(), error_schema());

    let mut info_object = json!({ "title": info.title, "version": info.version });
    if let Some(description) = &info.description {
        info_object["description"] = json!(description);
    }
    let mut document = json!({
        "openapi": "3.1.0",
        "info": info_object,
        "paths": paths,
        "components": { "schemas": components },
    });
    if !security_schemes.is_empty() {
        document["components"]["securitySchemes"] = Value::Object(security_schemes);
    }
    if !info.servers.is_empty() {
        document["servers"] = info.servers.iter().map(|url| json!({ "url": url })).collect();
    }
    if !tags.is_empty() {
        document["tags"] = tags.into_iter().map(|name| json!({ "name": name })).collect();
    }
    Ok(document)
}

/// What [`check`] learned about an operation.
#[derive(Debug)]
struct Checked {
    /// The path in OpenAPI syntax (`/users/{userId}`).
    path: String,
    /// The path item's field for the method (`get`).
    method: &'static str,
    /// The route's parameters, in template order.
    params: Vec<String>,
}

fn check(operation: &OperationDoc, security_schemes: &Map<String, Value>) -> Result<Checked, OpenApiError> {
    let operation_id = &operation.operation_id;
    let method = path_item_field(&operation.method).ok_or_else(|| OpenApiError::UnsupportedMethod {
        operation_id: operation_id.clone(),
        method: operation.method.to_string(),
    })?;
    let (path, params) = openapi_path(&operation.template).map_err(|reason| OpenApiError::InvalidTemplate {
        operation_id: operation_id.clone(),
        template: operation.template.clone(),
        reason,
    })?;
    let out_of_range =
        |status: u16, expected| OpenApiError::InvalidStatus { operation_id: operation_id.clone(), status, expected };
    if let Some(&status) = operation.success_statuses.iter().find(|status| !(200..400).contains(*status)) {
        return Err(out_of_range(status, "success (200 to 399)"));
    }
    if let Some(&status) = operation.error_statuses.iter().find(|status| !(400..600).contains(*status)) {
        return Err(out_of_range(status, "error (400 to 599)"));
    }
    if let Some(scheme) = operation.security.iter().find(|scheme| !security_schemes.contains_key(*scheme)) {
        return Err(OpenApiError::UnknownSecurityScheme { operation_id: operation_id.clone(), scheme: scheme.clone() });
    }
    Ok(Checked { path, method, params })
}

/// The Path Item Object's field for `method`; `None` for the methods OpenAPI 3.1 has no field for.
fn path_item_field(method: &Method) -> Option<&'static str> {
    Some(match *method {
        Method::GET => "get",
        Method::PUT => "put",
        Method::POST => "post",
        Method::DELETE => "delete",
        Method::OPTIONS => "options",
        Method::HEAD => "head",
        Method::PATCH => "patch",
        Method::TRACE => "trace",
        _ => return None,
    })
}

/// The template in OpenAPI syntax and its parameters: `/users/:userId` is `/users/{userId}`, `[userId]`. The
/// rules are the router's: a parameter is a whole segment, named with letters, digits and `_`, at most once.
fn openapi_path(template: &str) -> Result<(String, Vec<String>), String> {
    if !template.starts_with('/') {
        return Err("a template starts with '/'".into());
    }
    let mut path = String::with_capacity(template.len());
    let mut params: Vec<String> = Vec::new();
    for segment in template.split('/').skip(1) {
        path.push('/');
        let param = segment.strip_prefix(':').or_else(|| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')));
        match param {
            Some(name) => {
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("parameter `{segment}` must be a name of letters, digits and '_'"));
                }
                if params.iter().any(|p| p == name) {
                    return Err(format!("parameter `{name}` appears twice"));
                }
                path.push('{');
                path.push_str(name);
                path.push('}');
                params.push(name.to_owned());
            }
            None if segment.contains(['{', '}', ':', '*']) => {
                return Err(format!("segment `{segment}` mixes text and a parameter"));
            }
            None => path.push_str(segment),
        }
    }
    Ok((path, params))
}

/// The Operation Object.
fn describe(
    operation: &OperationDoc,
    checked: &Checked,
    input_schema: Option<&Value>,
    output_schema: Option<Value>,
    components: &Map<String, Value>,
) -> Value {
    let mut described = Map::new();
    described.insert("operationId".into(), json!(operation.operation_id));
    if let Some(summary) = &operation.summary {
        described.insert("summary".into(), json!(summary));
    }
    if let Some(description) = &operation.description {
        described.insert("description".into(), json!(description));
    }
    if !operation.tags.is_empty() {
        described.insert("tags".into(), json!(operation.tags));
    }
    let (parameters, request_body) = describe_input(operation, checked, input_schema, components);
    if !parameters.is_empty() {
        described.insert("parameters".into(), Value::Array(parameters));
    }
    if let Some(request_body) = request_body {
        described.insert("requestBody".into(), request_body);
    }
    described.insert("responses".into(), describe_responses(operation, output_schema));
    let security: Vec<Value> = operation.security.iter().map(|scheme| json!({ scheme.as_str(): [] })).collect();
    described.insert("security".into(), Value::Array(security));
    Value::Object(described)
}

/// The top-level shape of an input whose properties can be split between parameters and body.
struct ObjectShape<'a> {
    properties: &'a Map<String, Value>,
    required: Vec<&'a str>,
    additional_properties: Option<&'a Value>,
}

/// Keywords beside `properties` that constrain the object as a whole: an input that has one cannot be split
/// into parameters and a body without losing it.
const WHOLE_OBJECT_KEYWORDS: [&str; 10] = [
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentSchemas",
    "patternProperties",
    "unevaluatedProperties",
];

fn object_shape<'a>(schema: &'a Value, components: &'a Map<String, Value>) -> Option<ObjectShape<'a>> {
    let resolved = resolve(schema, components)?;
    if WHOLE_OBJECT_KEYWORDS.iter().any(|keyword| resolved.contains_key(*keyword)) {
        return None;
    }
    let properties = resolved.get("properties")?.as_object()?;
    let required = resolved
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    Some(ObjectShape { properties, required, additional_properties: resolved.get("additionalProperties") })
}

/// The names an input's JSON schema says it reads, when the schema lists them all: a plain object whose
/// properties are every key it accepts (no `additionalProperties` other than `false`, nothing composed).
/// `None` when its keys cannot be listed (a map, a flattened map, an enum). The start-up check of route
/// parameters uses it for inputs whose names serde's derive does not hand over (a `#[serde(flatten)]`).
pub(crate) fn input_property_names(schema: SchemaFn) -> Option<Vec<String>> {
    let mut generator = schemas::generator(false);
    let top = serde_json::to_value(schema(&mut generator)).ok()?;
    let components: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    let shape = object_shape(&top, &components)?;
    if shape.additional_properties.is_some_and(|additional| additional != &Value::Bool(false)) {
        return None;
    }
    Some(shape.properties.keys().cloned().collect())
}

/// The schema object behind any `$ref`s to components at the top of `schema`.
fn resolve<'a>(mut schema: &'a Value, components: &'a Map<String, Value>) -> Option<&'a Map<String, Value>> {
    // A chain of references longer than this is a cycle.
    for _ in 0..16 {
        let object = schema.as_object()?;
        let Some(reference) = object.get("$ref").and_then(Value::as_str) else {
            return Some(object);
        };
        schema = components.iter().find(|(name, _)| schemas::component_ref(name) == reference)?.1;
    }
    None
}

/// The parameters and the request body.
fn describe_input(
    operation: &OperationDoc,
    checked: &Checked,
    input_schema: Option<&Value>,
    components: &Map<String, Value>,
) -> (Vec<Value>, Option<Value>) {
    let has_body = crate::body::method_has_body(&operation.method);
    let shape = match (&operation.input, input_schema) {
        (InputDoc::Schema(_), Some(schema)) => object_shape(schema, components),
        _ => None,
    };
    let path_parameter = |name: &str| {
        let schema =
            shape.as_ref().and_then(|shape| shape.properties.get(name)).cloned().unwrap_or(json!({"type": "string"}));
        json!({ "name": name, "in": "path", "required": true, "schema": schema })
    };
    let mut parameters: Vec<Value> = checked.params.iter().map(|name| path_parameter(name)).collect();

    let Some(shape) = shape else {
        let open_body = has_body && !matches!(operation.input, InputDoc::Nothing);
        return (parameters, open_body.then(|| request_body(json!({}), false)));
    };
    let rest = shape.properties.iter().filter(|(name, _)| !checked.params.contains(name));
    if !has_body {
        parameters.extend(rest.map(|(name, schema)| {
            json!({ "name": name, "in": "query", "required": shape.required.contains(&name.as_str()), "schema": schema })
        }));
        return (parameters, None);
    }
    let rest: Map<String, Value> = rest.map(|(name, schema)| (name.clone(), schema.clone())).collect();
    if rest.is_empty() {
        return (parameters, None);
    }
    let rest_required: Vec<&str> = shape.required.iter().copied().filter(|name| rest.contains_key(*name)).collect();
    let required = !rest_required.is_empty();
    let body_schema = if rest.len() == shape.properties.len() {
        // Nothing went to the path: the input's own schema, `$ref` and all.
        input_schema.cloned().unwrap_or_default()
    } else {
        let mut object = json!({ "type": "object", "properties": rest });
        if required {
            object["required"] = json!(rest_required);
        }
        if let Some(additional_properties) = shape.additional_properties {
            object["additionalProperties"] = additional_properties.clone();
        }
        object
    };
    (parameters, Some(request_body(body_schema, required)))
}

fn request_body(schema: Value, required: bool) -> Value {
    json!({ "required": required, "content": { "application/json": { "schema": schema } } })
}

/// The Responses Object.
fn describe_responses(operation: &OperationDoc, output_schema: Option<Value>) -> Value {
    let content = match &operation.output {
        OutputDoc::NoContent => None,
        OutputDoc::Json(_) => Some(json!({ "application/json": { "schema": output_schema.unwrap_or(json!({})) } })),
        OutputDoc::Bytes { content_type } => Some(json!({ content_type.as_str(): {} })),
        OutputDoc::EventStream => Some(json!({ "text/event-stream": {} })),
    };
    let mut responses = Map::new();
    let usual = if content.is_some() { 200 } else { 204 };
    for status in std::iter::once(usual).chain(operation.success_statuses.iter().copied()) {
        let mut response = json!({ "description": reason(status) });
        if (300..400).contains(&status) {
            if status != 304 {
                response["headers"] = json!({ "Location": {
                    "description": "Where the client is sent",
                    "schema": { "type": "string" },
                }});
            }
        } else if let (Some(content), false) = (&content, matches!(status, 204 | 205)) {
            response["content"] = content.clone();
        }
        responses.insert(status.to_string(), response);
    }
    for &status in &operation.error_statuses {
        let mut response = error_response(&error_description(status));
        let header = match status {
            405 => Some(("Allow", "The methods the path accepts")),
            429 | 503 => Some(("Retry-After", "Seconds to wait before trying again")),
            _ => None,
        };
        if let Some((name, description)) = header {
            response["headers"] = json!({ name: { "description": description, "schema": { "type": "string" } } });
        }
        responses.insert(status.to_string(), response);
    }
    responses.insert("default".into(), error_response("Any other error"));
    Value::Object(responses)
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": schemas::component_ref(ERROR_SCHEMA) } } },
    })
}

/// The error body `PikkuError` writes (error.rs, `ErrorBody`): `payload` only when there is one, `errorId`
/// always.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "Every error response's body.",
        "properties": {
            "name": { "type": "string", "description": "The error's stable name, such as `NotFoundError`." },
            "message": { "type": "string", "description": "A message for the client (generic for a 5xx)." },
            "payload": { "description": "Details, such as the `field` an input error concerns (never for a 5xx)." },
            "errorId": { "type": "string", "description": "The request's id, also in the `x-request-id` header." },
        },
        "required": ["name", "message", "errorId"],
    })
}

/// The description of a success status.
fn reason(status: u16) -> String {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("Response")
        .to_owned()
}

/// What the pipeline means by each error status (docs/request-pipeline.md); the status's reason phrase for any
/// other.
fn error_description(status: u16) -> String {
    let description = match status {
        400 => "Bad request",
        401 => "Authentication required, or the credential is not valid",
        403 => "Permission denied",
        404 => "Not found",
        405 => "Method not allowed",
        408 => "The request body did not arrive in time",
        409 => "Conflict",
        413 => "The request body is over the limit",
        415 => "The request body is not JSON",
        422 => "The input does not fit: the message and `payload.field` name the field",
        429 => "Too many requests",
        500 => "The server could not complete the request",
        503 => "The server is out of room for now",
        504 => "The request took too long",
        _ => return reason(status),
    };
    description.to_owned()
}

fn security_scheme(scheme: &SecuritySchemeDoc) -> Value {
    match scheme {
        SecuritySchemeDoc::HttpBearer { bearer_format } => {
            let mut object = json!({ "type": "http", "scheme": "bearer" });
            if let Some(bearer_format) = bearer_format {
                object["bearerFormat"] = json!(bearer_format);
            }
            object
        }
        SecuritySchemeDoc::ApiKey { location, name } => {
            let location = match location {
                ApiKeyLocation::Header => "header",
                ApiKeyLocation::Query => "query",
                ApiKeyLocation::Cookie => "cookie",
            };
            json!({ "type": "apiKey", "in": location, "name": name })
        }
        SecuritySchemeDoc::Raw(object) => object.clone(),
    }
}
