//! The application's document: what the registry knows of each route, turned into [`OperationDoc`]s, and the
//! route that serves the document.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{header, HeaderValue, Method};
use serde_json::Value;

use super::{build_document, ApiInfo, InputDoc, OpenApiError, OperationDoc, OutputDoc, SecuritySchemeDoc};
use crate::body::method_has_body;
use crate::function::FunctionDef;
use crate::input::InputFields;
use crate::middleware::{BoxFuture, Endpoint, Reply, Request, SharedMiddleware};
use crate::response::{Body, Response};

/// What one strategy on a route's chain tells the document.
pub(crate) struct StrategyDoc {
    pub(crate) schemes: Vec<(String, SecuritySchemeDoc)>,
    /// What it may refuse a request to this route with (a bad credential's 401, the cookie's CSRF 403).
    pub(crate) statuses: Vec<u16>,
}

/// What the document needs of one route, taken while the registry resolves it.
pub(crate) struct RouteDoc {
    method: Method,
    template: String,
    function_id: Arc<str>,
    def: &'static FunctionDef,
    /// The schemes of every strategy on the route's chain, in chain order.
    schemes: Vec<(String, SecuritySchemeDoc)>,
    /// The statuses the strategies on the chain may refuse a request with, even where no session is required.
    strategy_statuses: BTreeSet<u16>,
    has_permissions: bool,
}

impl RouteDoc {
    pub(crate) fn new<Sv: 'static, S: 'static>(
        method: Method,
        template: &str,
        function_id: Arc<str>,
        def: &'static FunctionDef,
        chain: &[SharedMiddleware<Sv, S>],
        has_permissions: bool,
    ) -> Self {
        let mut schemes = Vec::new();
        let mut strategy_statuses = BTreeSet::new();
        for strategy in chain.iter().filter_map(|middleware| middleware.openapi_strategy(&method)) {
            schemes.extend(strategy.schemes);
            strategy_statuses.extend(strategy.statuses);
        }
        Self { method, template: template.to_owned(), function_id, def, schemes, strategy_statuses, has_permissions }
    }

    /// The error statuses the pipeline (and the function, by its `responses = [..]`) can answer on this route.
    /// Anything else (a 500, a 503 from a session store, a 504 from a timeout layer) is the `default` response.
    fn error_statuses(&self, input: &InputDoc) -> Vec<u16> {
        let mut statuses = self.strategy_statuses.clone();
        if self.def.auth {
            statuses.insert(401);
        }
        if self.has_permissions {
            statuses.insert(403);
        }
        if method_has_body(&self.method) {
            statuses.extend([408, 413, 415]);
        }
        if !matches!(input, InputDoc::Nothing) || method_has_body(&self.method) {
            statuses.insert(422);
        }
        statuses.extend(self.def.responses.iter().copied().filter(|status| *status >= 400));
        statuses.into_iter().collect()
    }

    fn operation(&self, schemes: &mut Vec<(String, SecuritySchemeDoc)>) -> OperationDoc {
        let input = (self.def.input_doc)();
        let mut operation = OperationDoc::new(
            self.method.clone(),
            self.template.clone(),
            self.function_id.to_string(),
            input,
            (self.def.output_doc)(),
        );
        let (summary, description) = summary_and_description(self.def.description, self.def.docs);
        operation.summary = summary;
        operation.description = description;
        operation.tags = self.def.tags.iter().map(|tag| (*tag).to_owned()).collect();
        operation.success_statuses = self.def.responses.iter().copied().filter(|status| *status < 400).collect();
        operation.error_statuses = self.error_statuses(&input);
        if self.def.auth {
            for (name, scheme) in &self.schemes {
                let name = intern(schemes, name, scheme);
                if !operation.security.contains(&name) {
                    operation.security.push(name);
                }
            }
        }
        operation
    }
}

/// The name `scheme` has in the document: the one an equal scheme already has, else `name`, made unique
/// (`cookieAuth2` for a second cookie of another name).
fn intern(schemes: &mut Vec<(String, SecuritySchemeDoc)>, name: &str, scheme: &SecuritySchemeDoc) -> String {
    if let Some((existing, _)) = schemes.iter().find(|(_, known)| known == scheme) {
        return existing.clone();
    }
    let taken = |candidate: &str| schemes.iter().any(|(known, _)| known == candidate);
    let unique = if taken(name) {
        (2..).map(|n| format!("{name}{n}")).find(|candidate| !taken(candidate)).expect("an unused name exists")
    } else {
        name.to_owned()
    };
    schemes.push((unique.clone(), scheme.clone()));
    unique
}

/// `description = ".."` is the summary and the doc comment the description; without the option, the doc
/// comment's first paragraph is the summary and the rest the description.
fn summary_and_description(option: &str, docs: &str) -> (Option<String>, Option<String>) {
    let non_empty = |text: &str| (!text.trim().is_empty()).then(|| text.trim().to_owned());
    if !option.is_empty() {
        return (Some(option.to_owned()), non_empty(docs));
    }
    match docs.split_once("\n\n") {
        Some((first, rest)) => (non_empty(&first.replace('\n', " ")), non_empty(rest)),
        None => (non_empty(&docs.replace('\n', " ")), None),
    }
}

/// The document of `routes`.
pub(crate) fn document(info: &ApiInfo, routes: &[RouteDoc]) -> Result<Value, OpenApiError> {
    let mut schemes = Vec::new();
    let operations: Vec<OperationDoc> = routes.iter().map(|route| route.operation(&mut schemes)).collect();
    build_document(info, &schemes, &operations)
}

/// One line per function whose input or output has no schema, so the document describes it as open.
pub(crate) fn missing_schemas(routes: &[RouteDoc]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut lines = Vec::new();
    for route in routes {
        if !seen.insert(&*route.function_id) {
            continue;
        }
        let def = route.def;
        if matches!((def.input_doc)(), InputDoc::Unknown) {
            lines.push(format!(
                "function `{}`: its input `{}` has no JSON schema, so the document describes it as any JSON; derive `JsonSchema` for it",
                route.function_id, def.input_type
            ));
        }
        if matches!((def.output_doc)(), OutputDoc::Json(None)) {
            lines.push(format!(
                "function `{}`: its output `{}` has no JSON schema, so the document describes it as any JSON; derive `JsonSchema` for it",
                route.function_id, def.output_type
            ));
        }
    }
    lines
}

/// What the route serving the document names as its function: a type for the router's lookup.
pub(crate) struct DocumentFunction;

/// The serving route's function, for the registry (it is listed by no `info` table and has no operation).
pub(crate) static DOCUMENT_FUNCTION: FunctionDef = FunctionDef {
    name: "openapi_document",
    explicit_id: Some("pikku.openapi"),
    module_path: "pikku_runtime::openapi",
    auth: false,
    permissions: &[],
    middleware: &[],
    tags: &[],
    description: "The OpenAPI document",
    docs: "",
    responses: &[],
    input_type: "()",
    output_type: "serde_json::Value",
    input_fields: InputFields::of::<()>,
    input_doc: || InputDoc::Nothing,
    output_doc: || OutputDoc::Json(None),
    file: file!(),
    line: line!(),
    function_type: std::any::TypeId::of::<DocumentFunction>,
    install: |_| Ok(()),
};

/// Answers the document, serialised once when the registry is built.
pub(crate) struct DocumentEndpoint {
    pub(crate) body: Arc<OnceLock<Bytes>>,
}

impl<Sv: Send + Sync + 'static, S: Send + 'static> Endpoint<Sv, S> for DocumentEndpoint {
    fn call<'a>(&'a self, _: &'a Sv, _: Request<S>) -> BoxFuture<'a, Reply<S>> {
        let body = self.body.get().cloned().unwrap_or_default();
        let mut response = Response::new(Body::new(body));
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Box::pin(std::future::ready(Reply { response, change: None }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::ApiKeyLocation;

    #[test]
    fn the_description_option_is_the_summary_else_the_first_paragraph_of_the_doc_comment() {
        assert_eq!(
            summary_and_description("", "Lists the notes\nof a user.\n\nNewest last."),
            (Some("Lists the notes of a user.".into()), Some("Newest last.".into()))
        );
        assert_eq!(summary_and_description("", "One line."), (Some("One line.".into()), None));
        assert_eq!(summary_and_description("", ""), (None, None));
        assert_eq!(
            summary_and_description("Lists notes", "Longer text."),
            (Some("Lists notes".into()), Some("Longer text.".into()))
        );
    }

    #[test]
    fn equal_schemes_share_a_name_and_different_ones_with_one_name_are_numbered() {
        let cookie = |name: &str| SecuritySchemeDoc::ApiKey { location: ApiKeyLocation::Cookie, name: name.into() };
        let mut schemes = Vec::new();
        assert_eq!(intern(&mut schemes, "cookieAuth", &cookie("session")), "cookieAuth");
        assert_eq!(intern(&mut schemes, "cookieAuth", &cookie("session")), "cookieAuth");
        assert_eq!(intern(&mut schemes, "cookieAuth", &cookie("admin")), "cookieAuth2");
        assert_eq!(intern(&mut schemes, "other", &cookie("admin")), "cookieAuth2", "an equal scheme keeps its name");
        assert_eq!(schemes.len(), 2);
    }
}
