//! The registry: functions and wirings resolved once at start-up into a router, a fixed middleware chain
//! per route, the CORS policy and what the OpenAPI document needs of each route. It refuses to start, naming
//! both places, on duplicate function ids, two routes with the same method and template, or CORS or the
//! OpenAPI document configured twice; and, naming the wiring line, on a
//! route that names something that is not a `#[pikku_func]` (with the advice its kind needs), a route
//! parameter that neither the function's input nor a permission's view reads, a permission's view that
//! names a route's parameter differently, an invalid CORS configuration, and an application whose wirings
//! declare no route (unless [`App::allow_no_routes`](crate::App::allow_no_routes)).

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};

use bytes::Bytes;
use http::{HeaderValue, Method};

use crate::body::BodyRules;
use crate::cors::{CorsError, CorsPolicy};
use crate::function::{FunctionDef, FunctionSlot};
use crate::input::InputFields;
use crate::middleware::{Endpoint, SharedMiddleware};
use crate::openapi::routes::{DocumentEndpoint, RouteDoc, DOCUMENT_FUNCTION};
use crate::openapi::{ApiInfo, InputDoc, OpenApiOptions};
use crate::permission::{DataView, PermissionDef, SharedPermission};
use crate::server::{ServerConfig, ServerInner};
use crate::service::{DeclaredLayer, RouteRest};
use crate::wiring::{Named, RouteDecl, SourceLocation, WiringDef, Wirings};

/// Why an application refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Two functions share an id.
    #[error("two functions have the id `{id}`: {first} and {second}; function ids must be unique: give one of them another `#[pikku_func(id = \"...\")]`")]
    DuplicateFunction {
        /// The id.
        id: String,
        /// The first definition.
        first: SourceLocation,
        /// The second definition.
        second: SourceLocation,
    },
    /// Two routes share a method and template.
    #[error("route {method} {template} is wired twice: {first} and {second}")]
    DuplicateRoute {
        /// Method.
        method: Method,
        /// Template.
        template: String,
        /// First declaration.
        first: SourceLocation,
        /// Second declaration.
        second: SourceLocation,
    },
    /// Two templates of the same shape name their parameters differently.
    #[error("routes {first_template} ({first}) and {second_template} ({second}) have the same shape but different parameter names; use one name")]
    ConflictingParameters {
        /// First template.
        first_template: String,
        /// First declaration.
        first: SourceLocation,
        /// Second template.
        second_template: String,
        /// Second declaration.
        second: SourceLocation,
    },
    /// A template cannot be routed.
    #[error("route {method} {template} ({location}) has an invalid template: {reason}")]
    InvalidTemplate {
        /// Method.
        method: Method,
        /// Template.
        template: String,
        /// Declaration.
        location: SourceLocation,
        /// Why.
        reason: String,
    },
    /// A route names something that did not register as a function.
    #[error("route {method} {template} ({location}) names `{function}`, {advice}")]
    NotAFunction {
        /// Method.
        method: Method,
        /// Template.
        template: String,
        /// Declaration.
        location: SourceLocation,
        /// What was named: a permission's or middleware's name, else the Rust path of its type.
        function: String,
        /// What it is, and how to use it.
        advice: String,
    },
    /// A route parameter that the function never reads (neither its input nor a permission's view has it).
    #[error("route {route} has the parameter `{parameter}`, which function `{function}` never reads: {reason}")]
    UnreadParameter {
        /// The route: `METHOD template (file:line)`.
        route: String,
        /// The parameter.
        parameter: String,
        /// The function's id.
        function: String,
        /// What the input lacks, and the fix.
        reason: String,
    },
    /// A permission's data view names a field the route or the input gives under another spelling.
    #[error("permission `{permission}` of function `{function}` reads `{field}` through its data view `{view}`, but {given}, so the view never sees that value; {fix}")]
    MisnamedViewField {
        /// The permission.
        permission: &'static str,
        /// The function's id.
        function: String,
        /// The view's type.
        view: &'static str,
        /// The view's field.
        field: &'static str,
        /// Who names it otherwise, and how: `route GET /projects/:projectId (file:line) names it `projectId``.
        given: String,
        /// The fix.
        fix: String,
    },
    /// Functions are registered, but no wiring declares a route.
    #[error("{functions} functions are registered but no wiring declares a route: is the wiring module declared (`mod wirings;`)? (An application without routes on purpose says `App::allow_no_routes()`.)")]
    NoRoutes {
        /// How many functions are registered.
        functions: usize,
    },
    /// Neither a function nor a route is registered.
    #[error("no function and no route is registered: are the modules of functions and wirings declared (`mod functions; mod wirings;`), and, when they live in a library, is the library used by the binary? (An application without routes on purpose says `App::allow_no_routes()`.)")]
    NothingRegistered,
    /// `w.cors(..)` is called more than once.
    #[error("CORS is configured twice: {first} and {second}; an application has one `w.cors(..)`, remove one")]
    DuplicateCors {
        /// The first call.
        first: SourceLocation,
        /// The second call.
        second: SourceLocation,
    },
    /// `w.openapi(..)` is called more than once.
    #[error("the OpenAPI document is served twice: {first} and {second}; an application has one `w.openapi(..)`, remove one")]
    DuplicateOpenApi {
        /// The first call.
        first: SourceLocation,
        /// The second call.
        second: SourceLocation,
    },
    /// The routes cannot be described as a valid OpenAPI document (a method OpenAPI has no field for).
    #[error("the OpenAPI document served by `w.openapi(..)` ({location}) cannot be built: {reason}")]
    InvalidOpenApi {
        /// The `w.openapi(..)` call.
        location: SourceLocation,
        /// Why.
        reason: crate::openapi::OpenApiError,
    },
    /// The CORS configuration is invalid.
    #[error("the CORS configuration of `w.cors(..)` ({location}) is invalid: {reason}")]
    InvalidCors {
        /// The `w.cors(..)` call.
        location: SourceLocation,
        /// What is wrong, and what to change.
        reason: CorsError,
    },
    /// A function or wiring was written for other services or session types.
    #[error("{what} ({location}) is written for services `{found_services}` and session `{found_session}`, but the application runs with `{services}` and `{session}`")]
    TypeMismatch {
        /// What.
        what: String,
        /// Where.
        location: SourceLocation,
        /// Written for.
        found_services: &'static str,
        /// Written for.
        found_session: &'static str,
        /// The application's.
        services: &'static str,
        /// The application's.
        session: &'static str,
    },
}

/// A parsed route template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    /// The template in router syntax (`/users/{userId}/notes`).
    pub(crate) router_path: String,
    /// The shape with parameters anonymised (`/users/{}/notes`), for duplicate detection.
    pub(crate) shape: String,
    pub(crate) params: Vec<Box<str>>,
}

pub(crate) fn parse_template(template: &str) -> Result<Template, String> {
    if !template.starts_with('/') {
        return Err("a template starts with '/'".into());
    }
    let mut router_path = String::with_capacity(template.len());
    let mut shape = String::with_capacity(template.len());
    let mut params: Vec<Box<str>> = Vec::new();
    for segment in template.split('/').skip(1) {
        router_path.push('/');
        shape.push('/');
        let param = segment.strip_prefix(':').or_else(|| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')));
        match param {
            Some(name) => {
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("parameter `{segment}` must be a name of letters, digits and '_'"));
                }
                if params.iter().any(|p| &**p == name) {
                    return Err(format!("parameter `{name}` appears twice"));
                }
                router_path.push('{');
                router_path.push_str(name);
                router_path.push('}');
                shape.push_str("{}");
                params.push(name.into());
            }
            None => {
                if segment.contains(['{', '}', ':', '*']) {
                    return Err(format!("segment `{segment}` mixes text and a parameter"));
                }
                router_path.push_str(segment);
                shape.push_str(segment);
            }
        }
    }
    Ok(Template { router_path, shape, params })
}

/// Whether an `add_http_middleware` pattern applies to a route template.
pub(crate) fn pattern_matches(pattern: &str, template: &Template) -> bool {
    if pattern == "*" {
        return true;
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return template.router_path.starts_with(prefix)
            || parse_template(prefix).is_ok_and(|p| template.shape.starts_with(&p.shape));
    }
    parse_template(pattern).is_ok_and(|p| p.shape == template.shape)
}

pub(crate) struct RouteTarget<Sv, S> {
    pub(crate) chain: Box<[SharedMiddleware<Sv, S>]>,
    pub(crate) endpoint: Arc<dyn Endpoint<Sv, S>>,
}

pub(crate) struct PathEntry<Sv, S> {
    pub(crate) params: Arc<[Box<str>]>,
    pub(crate) methods: Vec<(Method, RouteTarget<Sv, S>)>,
    pub(crate) allow: HeaderValue,
}

impl<Sv, S> PathEntry<Sv, S> {
    pub(crate) fn target(&self, method: &Method) -> Option<&RouteTarget<Sv, S>> {
        let find = |m: &Method| self.methods.iter().find(|(candidate, _)| candidate == m).map(|(_, t)| t);
        find(method).or_else(|| if *method == Method::HEAD { find(&Method::GET) } else { None })
    }
}

/// What `info functions` prints about one function.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    /// The function's id: `#[pikku_func(id = "...")]` when given; otherwise its name (`list`), or, when
    /// another function's id would be that name too, its module path below the crate and its name
    /// (`projects::list`).
    pub id: String,
    /// The registration.
    pub def: &'static FunctionDef,
    /// `METHOD template` of each route wired to it.
    pub routes: Vec<String>,
}

/// A route whose parameters could not be checked against what its function reads, and why.
#[derive(Debug, Clone)]
pub struct UncheckedRoute {
    /// `METHOD template`.
    pub route: String,
    /// The function's id.
    pub function: String,
    /// Which type's fields cannot be known without data.
    pub reason: String,
}

/// What `info middleware` prints about one middleware.
#[derive(Debug, Clone)]
pub struct MiddlewareInfo {
    /// Name.
    pub name: String,
    /// Configuration.
    pub description: String,
    /// Where it applies: `tower layer /api/*`, `tower layer (application)`, `global`, `http *`, `tag admin`,
    /// `route GET /x`, `function f`.
    pub applied: String,
}

/// The resolved application: router, chains, and what `info` prints.
pub struct Registry<Sv, S> {
    pub(crate) router: matchit::Router<usize>,
    pub(crate) paths: Vec<PathEntry<Sv, S>>,
    /// The server this registry belongs to, once it is built: what the innermost service of a route's
    /// layers runs the rest of the route with.
    pub(crate) server: Arc<OnceLock<Weak<ServerInner<Sv, S>>>>,
    /// Functions, sorted by id.
    pub functions: Vec<FunctionInfo>,
    /// Middleware, in onion order of declaration.
    pub middleware: Vec<MiddlewareInfo>,
    /// Names of the global permissions.
    pub global_permissions: Vec<&'static str>,
    /// Routes with parameters whose function's input (or a permission's view) has fields that cannot be
    /// known without data, so start-up could not check them: `info functions` lists them.
    pub unchecked_routes: Vec<UncheckedRoute>,
    /// The CORS policy, when the wirings configure one (boxed: most applications have none).
    pub(crate) cors: Option<Box<CorsPolicy>>,
    /// Every route but the document's own, for the OpenAPI document.
    pub(crate) route_docs: Vec<RouteDoc>,
    /// The document's title, version, description and servers.
    pub(crate) api_info: ApiInfo,
}

impl<Sv, S> std::fmt::Debug for Registry<Sv, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("functions", &self.functions)
            .field("middleware", &self.middleware)
            .field("global_permissions", &self.global_permissions)
            .field("unchecked_routes", &self.unchecked_routes)
            .field("cors", &self.cors.as_ref().map(|policy| policy.describe()))
            .finish_non_exhaustive()
    }
}

impl<Sv, S> Registry<Sv, S> {
    /// Whether a request with this method and path reaches a function (route lookup only; for benchmarks).
    #[doc(hidden)]
    pub fn matches(&self, method: &Method, path: &str) -> bool {
        self.router.at(path).is_ok_and(|m| self.paths[*m.value].target(method).is_some())
    }
}

struct Installed<Sv, S> {
    def: &'static FunctionDef,
    id: Arc<str>,
    endpoint: Arc<dyn Endpoint<Sv, S>>,
    middleware: Vec<SharedMiddleware<Sv, S>>,
    views: Vec<(&'static str, DataView)>,
}

impl<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static> Registry<Sv, S> {
    /// Builds the registry from every function and wiring linked into the binary, with the body settings of
    /// `config` (the limit, and the budget its functions share). An application whose wirings declare no
    /// route refuses to start (see [`App::allow_no_routes`](crate::App::allow_no_routes)).
    ///
    /// # Errors
    /// A [`StartupError`] naming the places at fault.
    pub fn build(config: &ServerConfig) -> Result<Self, StartupError> {
        Self::build_with(config, false)
    }

    /// [`build`](Self::build), allowing an application without routes when `allow_no_routes`.
    #[allow(clippy::missing_panics_doc)] // the `expect`s state invariants, they cannot fail
    pub(crate) fn build_with(config: &ServerConfig, allow_no_routes: bool) -> Result<Self, StartupError> {
        let body = Arc::new(BodyRules::new(config.body_limit, config.body_budget));
        let mismatch =
            |what: String, location: SourceLocation, m: crate::function::TypeMismatch| StartupError::TypeMismatch {
                what,
                location,
                found_services: m.services,
                found_session: m.session,
                services: std::any::type_name::<Sv>(),
                session: std::any::type_name::<S>(),
            };

        let defs: Vec<&'static FunctionDef> = inventory::iter::<FunctionDef>.into_iter().collect();
        let mut functions_by_id: Vec<(String, &'static FunctionDef)> =
            function_ids(&defs).into_iter().zip(defs).collect();
        functions_by_id.sort_by(|(a, a_def), (b, b_def)| (a, a_def.file, a_def.line).cmp(&(b, b_def.file, b_def.line)));
        for pair in functions_by_id.windows(2) {
            if pair[0].0 == pair[1].0 {
                return Err(StartupError::DuplicateFunction {
                    id: pair[0].0.clone(),
                    first: SourceLocation { file: pair[0].1.file, line: pair[0].1.line },
                    second: SourceLocation { file: pair[1].1.file, line: pair[1].1.line },
                });
            }
        }

        let mut wiring_defs: Vec<&'static WiringDef> = inventory::iter::<WiringDef>.into_iter().collect();
        wiring_defs.sort_by_key(|w| (w.file, w.line));
        let mut wirings = Wirings::<Sv, S>::default();
        for wiring in &wiring_defs {
            (wiring.register)(&mut wirings).map_err(|m| {
                mismatch(
                    format!("wiring `{}`", wiring.name),
                    SourceLocation { file: wiring.file, line: wiring.line },
                    m,
                )
            })?;
        }

        let cors = match wirings.cors.as_slice() {
            [] => None,
            [decl] => Some(Box::new(
                decl.options
                    .resolve()
                    .map_err(|reason| StartupError::InvalidCors { location: decl.location, reason })?,
            )),
            [first, second, ..] => {
                return Err(StartupError::DuplicateCors { first: first.location, second: second.location })
            }
        };

        let api_info = api_info(&wiring_defs, wirings.openapi.first().map(|decl| &decl.options));
        let document_route = match wirings.openapi.as_slice() {
            [] => None,
            [decl] => Some((decl.location, decl.options.path.clone())),
            [first, second, ..] => {
                return Err(StartupError::DuplicateOpenApi { first: first.location, second: second.location })
            }
        };

        let global_permissions: Arc<[SharedPermission<Sv, S>]> = wirings.permissions.iter().cloned().collect();
        let mut by_type: HashMap<TypeId, Installed<Sv, S>> = HashMap::with_capacity(functions_by_id.len());
        for (id, def) in &functions_by_id {
            let id: Arc<str> = Arc::from(id.as_str());
            let mut slot = FunctionSlot::<Sv, S> {
                function_id: Arc::clone(&id),
                global_permissions: Arc::clone(&global_permissions),
                body: Arc::clone(&body),
                installed: None,
            };
            (def.install)(&mut slot).map_err(|m| {
                mismatch(format!("function `{id}`"), SourceLocation { file: def.file, line: def.line }, m)
            })?;
            let installed = slot.installed.expect("install fills the slot on success");
            by_type.insert(
                (def.function_type)(),
                Installed {
                    def,
                    id,
                    endpoint: installed.endpoint,
                    middleware: installed.middleware,
                    views: installed.views,
                },
            );
        }
        // The document's route is an ordinary public route (middleware, CORS and layers apply), whose function
        // answers the document built below.
        let document_body = document_route.map(|(location, path)| {
            let body = Arc::new(OnceLock::new());
            let function = &DOCUMENT_FUNCTION;
            by_type.insert(
                (function.function_type)(),
                Installed {
                    def: function,
                    id: Arc::from(function.explicit_id.unwrap_or(function.name)),
                    endpoint: Arc::new(DocumentEndpoint { body: Arc::clone(&body) }),
                    middleware: Vec::new(),
                    views: Vec::new(),
                },
            );
            wirings.routes.push(RouteDecl {
                method: Method::GET,
                template: path,
                function_type: (function.function_type)(),
                function_path: function.name,
                named: None,
                middleware: Vec::new(),
                tags: Vec::new(),
                location,
            });
            (location, body)
        });
        let mut route_docs = Vec::with_capacity(wirings.routes.len());
        let permission_names: HashMap<TypeId, &'static str> =
            inventory::iter::<PermissionDef>.into_iter().map(|p| ((p.permission_type)(), p.name)).collect();

        let server = Arc::new(OnceLock::new());
        let mut router = matchit::Router::new();
        let mut paths: Vec<PathEntry<Sv, S>> = Vec::new();
        // shape -> (index into paths, template, location of its first route)
        let mut shapes: HashMap<String, (usize, String, SourceLocation)> = HashMap::new();
        let mut declared: HashMap<(Method, String), SourceLocation> = HashMap::new();
        let mut routes_of: HashMap<&str, Vec<String>> = HashMap::new();
        let mut unchecked_routes = Vec::new();
        let mut routed = Vec::with_capacity(wirings.routes.len());

        for route in &wirings.routes {
            let template = parse_template(&route.template).map_err(|reason| StartupError::InvalidTemplate {
                method: route.method.clone(),
                template: route.template.clone(),
                location: route.location,
                reason,
            })?;
            let Some(function) = by_type.get(&route.function_type) else {
                return Err(not_a_function(route, &permission_names));
            };
            if let Some(first) = declared.insert((route.method.clone(), template.shape.clone()), route.location) {
                return Err(StartupError::DuplicateRoute {
                    method: route.method.clone(),
                    template: route.template.clone(),
                    first,
                    second: route.location,
                });
            }
            let index = match shapes.get(&template.shape) {
                Some((index, first_template, first)) => {
                    if paths[*index].params[..] != template.params[..] {
                        return Err(StartupError::ConflictingParameters {
                            first_template: first_template.clone(),
                            first: *first,
                            second_template: route.template.clone(),
                            second: route.location,
                        });
                    }
                    *index
                }
                None => {
                    let index = paths.len();
                    router.insert(template.router_path.clone(), index).map_err(|e| StartupError::InvalidTemplate {
                        method: route.method.clone(),
                        template: route.template.clone(),
                        location: route.location,
                        reason: e.to_string(),
                    })?;
                    paths.push(PathEntry {
                        params: template.params.clone().into(),
                        methods: Vec::new(),
                        allow: HeaderValue::from_static(""),
                    });
                    shapes.insert(template.shape.clone(), (index, route.template.clone(), route.location));
                    index
                }
            };

            let mut chain: Vec<SharedMiddleware<Sv, S>> = wirings.global.clone();
            for decl in wirings.http.iter().filter(|d| pattern_matches(&d.pattern, &template)) {
                chain.extend(decl.middleware.iter().cloned());
            }
            for decl in wirings
                .tags
                .iter()
                .filter(|d| function.def.tags.contains(&d.pattern.as_str()) || route.tags.contains(&d.pattern))
            {
                chain.extend(decl.middleware.iter().cloned());
            }
            chain.extend(route.middleware.iter().cloned());
            chain.extend(function.middleware.iter().cloned());
            if !std::ptr::eq(function.def, &DOCUMENT_FUNCTION) {
                let has_permissions = !function.def.permissions.is_empty() || !global_permissions.is_empty();
                route_docs.push(RouteDoc::new(
                    route.method.clone(),
                    &route.template,
                    Arc::clone(&function.id),
                    function.def,
                    &chain,
                    has_permissions,
                ));
            }

            // Tower layers go outside everything else of the route, in declaration order: the route then runs
            // them in place of its chain and function, which they wrap.
            let layers: Vec<&DeclaredLayer> =
                wirings.layers.iter().filter(|d| pattern_matches(&d.pattern, &template)).map(|d| &d.layer).collect();
            let target = match wirings.route_layers.filter(|_| !layers.is_empty()) {
                Some(route_layers) => {
                    let rest = RouteRest {
                        server: Arc::clone(&server),
                        chain: chain.into(),
                        endpoint: Arc::clone(&function.endpoint),
                    };
                    RouteTarget { chain: Box::default(), endpoint: route_layers(rest, &layers) }
                }
                None => RouteTarget { chain: chain.into_boxed_slice(), endpoint: Arc::clone(&function.endpoint) },
            };
            paths[index].methods.push((route.method.clone(), target));
            routes_of.entry(&*function.id).or_default().push(format!("{} {}", route.method, route.template));
            routed.push((route, template, function));
        }

        // Once the routes are known to be consistent: what each function reads from its routes' parameters.
        for (route, template, function) in &routed {
            if let Some(unchecked) = check_parameters(route, template, function)? {
                unchecked_routes.push(unchecked);
            }
        }

        if wirings.routes.is_empty() && !allow_no_routes {
            return Err(if functions_by_id.is_empty() {
                StartupError::NothingRegistered
            } else {
                StartupError::NoRoutes { functions: functions_by_id.len() }
            });
        }

        for entry in &mut paths {
            let mut allowed: Vec<&str> = entry.methods.iter().map(|(m, _)| m.as_str()).collect();
            if allowed.contains(&"GET") && !allowed.contains(&"HEAD") {
                allowed.push("HEAD");
            }
            entry.allow = HeaderValue::from_str(&allowed.join(", ")).expect("method names are valid header text");
        }

        let middleware = describe_middleware(&wirings, &functions_by_id, &by_type);
        let functions: Vec<FunctionInfo> = functions_by_id
            .into_iter()
            .map(|(id, def)| {
                let routes = routes_of.remove(id.as_str()).unwrap_or_default();
                FunctionInfo { id, def, routes }
            })
            .collect();
        let route_count = wirings.routes.len();
        tracing::info!(
            functions = functions.len(),
            routes = route_count,
            "registered {} functions and {} routes",
            functions.len(),
            route_count
        );

        let registry = Self {
            router,
            paths,
            server,
            functions,
            middleware,
            global_permissions: global_permissions.iter().map(SharedPermission::name).collect(),
            unchecked_routes,
            cors,
            route_docs,
            api_info,
        };
        if let Some((location, body)) = document_body {
            let document =
                registry.openapi_document().map_err(|reason| StartupError::InvalidOpenApi { location, reason })?;
            let bytes = serde_json::to_vec(&document).expect("a JSON value serialises");
            body.set(Bytes::from(bytes)).expect("the document is built once");
        }
        Ok(registry)
    }
}

impl<Sv, S> Registry<Sv, S> {
    /// The application's OpenAPI 3.1 document: every route (but the one serving the document) with its
    /// parameters, request body, responses and security, as [`Wirings::openapi`] serves it.
    ///
    /// # Errors
    /// An [`OpenApiError`](crate::openapi::OpenApiError) when a route cannot be described (a method OpenAPI
    /// has no field for, such as `CONNECT`).
    pub fn openapi_document(&self) -> Result<serde_json::Value, crate::openapi::OpenApiError> {
        crate::openapi::routes::document(&self.api_info, &self.route_docs)
    }

    /// One line per function whose input or output type has no JSON schema (`info openapi` prints them): the
    /// document describes such a type as any JSON.
    pub fn openapi_missing_schemas(&self) -> Vec<String> {
        crate::openapi::routes::missing_schemas(&self.route_docs)
    }
}

/// The document's title, version and description: the options', else those of the package whose wirings come
/// first.
fn api_info(wiring_defs: &[&'static WiringDef], options: Option<&OpenApiOptions>) -> ApiInfo {
    let package = wiring_defs.first();
    let named = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    let title = options.and_then(|o| o.title.clone()).or_else(|| package.and_then(|w| named(w.package)));
    let version = options.and_then(|o| o.version.clone()).or_else(|| package.and_then(|w| named(w.package_version)));
    let description =
        options.and_then(|o| o.description.clone()).or_else(|| package.and_then(|w| named(w.package_description)));
    ApiInfo {
        title: title.unwrap_or_else(|| "API".to_owned()),
        version: version.unwrap_or_else(|| "0.0.0".to_owned()),
        description,
        servers: options.map(|o| o.servers.clone()).unwrap_or_default(),
    }
}

/// The id of each function, in the order given: `#[pikku_func(id = "...")]` when set; otherwise the name,
/// unless another function's id would be that name too, then the module path below the crate and the name
/// (`projects::list`), or the whole module path when even that is shared (the same module in two crates).
/// Ids that still collide are for the caller to refuse.
fn function_ids(defs: &[&'static FunctionDef]) -> Vec<String> {
    let mut claims: HashMap<&str, usize> = HashMap::new();
    for def in defs {
        *claims.entry(def.explicit_id.unwrap_or(def.name)).or_default() += 1;
    }
    let qualified = |def: &FunctionDef| match def.module_path.split_once("::") {
        Some((_crate, below)) => format!("{below}::{}", def.name),
        None => def.name.to_owned(),
    };
    let mut qualified_claims: HashMap<String, usize> = HashMap::new();
    for def in defs.iter().filter(|d| d.explicit_id.is_none() && claims[d.name] > 1) {
        *qualified_claims.entry(qualified(def)).or_default() += 1;
    }
    defs.iter()
        .map(|def| match def.explicit_id {
            Some(id) => id.to_owned(),
            None if claims[def.name] == 1 => def.name.to_owned(),
            None => {
                let id = qualified(def);
                if qualified_claims[&id] == 1 {
                    id
                } else {
                    format!("{}::{}", def.module_path, def.name)
                }
            }
        })
        .collect()
}

/// A route that names something other than a function: what it is, and how it is used instead.
fn not_a_function<Sv, S>(route: &RouteDecl<Sv, S>, permissions: &HashMap<TypeId, &'static str>) -> StartupError {
    let named =
        route.named.clone().or_else(|| permissions.get(&route.function_type).map(|name| Named::Permission(name)));
    let (function, advice) = match named {
        Some(Named::Permission(name)) => (
            name.to_owned(),
            format!("which is a permission, not a function: use it in `permissions = [..]` of a function, or `w.add_permission({name})` for every function"),
        ),
        Some(Named::Middleware(name)) => (
            name.clone(),
            format!("which is a middleware, not a function: use it in `middleware = [..]` of a function, or `w.add_http_middleware(\"{}\", [{name}])` (or a route's `.middleware([{name}])`)", route.template),
        ),
        None => (route.function_path.to_owned(), "which is not a #[pikku_func]; mark it with #[pikku_func]".to_owned()),
    };
    StartupError::NotAFunction {
        method: route.method.clone(),
        template: route.template.clone(),
        location: route.location,
        function,
        advice,
    }
}

/// The route's parameters against what its function reads: each must be read by the function's input or by
/// one of its permissions' views, and a view must not name a route's parameter (or an input field) in
/// another case convention. `Ok(Some(..))`: a type's fields cannot be known, the route is left unchecked.
fn check_parameters<Sv, S>(
    route: &RouteDecl<Sv, S>,
    template: &Template,
    function: &Installed<Sv, S>,
) -> Result<Option<UncheckedRoute>, StartupError> {
    let input = (function.def.input_fields)();
    let input_type = function.def.input_type;
    let unchecked = |reason: String| UncheckedRoute {
        route: format!("{} {}", route.method, route.template),
        function: function.id.to_string(),
        reason,
    };
    for (permission, view) in &function.views {
        let Some((field, given_by, given)) = misnamed_view_field(view, &template.params, &input, route, input_type)
        else {
            continue;
        };
        let fix = match rename_all_for(&given) {
            Some(case) => format!("add `#[serde(rename_all = \"{case}\")]` to `{}`", view.type_name),
            None => format!("rename the view's field `{field}` to `{given}`"),
        };
        return Err(StartupError::MisnamedViewField {
            permission,
            function: function.id.to_string(),
            view: view.type_name,
            field,
            given: format!("{given_by} names it `{given}`"),
            fix,
        });
    }
    for parameter in template.params.iter().map(|p| &**p) {
        if input.has(parameter) || function.views.iter().any(|(_, view)| view.fields.has(parameter)) {
            continue;
        }
        if !input.is_known() {
            // Serde's derive did not hand over the names (a `#[serde(flatten)]`); the input's JSON schema may
            // list them.
            let from_schema = match (function.def.input_doc)() {
                InputDoc::Schema(schema) => crate::openapi::input_property_names(schema),
                InputDoc::Nothing | InputDoc::Unknown => None,
            };
            let Some(names) = from_schema else {
                return Ok(Some(unchecked(format!(
                    "the input `{input_type}` reads fields that cannot be listed without data"
                ))));
            };
            if names.iter().any(|name| name == parameter) {
                continue;
            }
            let views_known = function.views.iter().all(|(_, view)| view.fields.is_known());
            if views_known {
                let listed: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
                return Err(StartupError::UnreadParameter {
                    route: format!("{} {} ({})", route.method, route.template, route.location),
                    parameter: parameter.to_owned(),
                    function: function.id.to_string(),
                    reason: format!(
                        "the input `{input_type}` has no field `{parameter}` (its JSON schema lists {}); rename the parameter or add the field",
                        listed.join(", ")
                    ),
                });
            }
        }
        if let Some((permission, view)) = function.views.iter().find(|(_, view)| !view.fields.is_known()) {
            return Ok(Some(unchecked(format!(
                "the data view `{}` of permission `{permission}` reads fields that cannot be listed without data",
                view.type_name
            ))));
        }
        let reason = match input {
            InputFields::Nothing if function.views.is_empty() => format!(
                "its input is `{input_type}`, so the parameter would be dropped; take an input with a field `{parameter}`, or remove the parameter"
            ),
            InputFields::Nothing => format!(
                "its input is `{input_type}` and no permission's data view has a field `{parameter}`; take an input with a field `{parameter}`, or remove the parameter"
            ),
            _ => {
                let views = if function.views.is_empty() { "" } else { ", nor does a permission's data view" };
                let mut reason = format!(
                    "the input `{input_type}` has no field `{parameter}`{views}; rename the parameter or add the field"
                );
                if let Some(field) = input.names().iter().find(|field| same_words(field, parameter)) {
                    reason.push_str(&format!(" (did you mean `{field}`?"));
                    if let Some(case) = rename_all_for(parameter) {
                        reason.push_str(&format!(" add `#[serde(rename_all = \"{case}\")]` to `{input_type}`"));
                    }
                    reason.push(')');
                }
                reason
            }
        };
        return Err(StartupError::UnreadParameter {
            route: format!("{} {} ({})", route.method, route.template, route.location),
            parameter: parameter.to_owned(),
            function: function.id.to_string(),
            reason,
        });
    }
    Ok(None)
}

/// A field of `view` that the route's parameters or the function's input give under another case convention
/// (`project_id` where the route says `projectId`): the view would never see the value. A field given under
/// its own name by either, or by one of its aliases, is fine; one that neither names could come from the
/// query or the body, which start-up cannot know.
fn misnamed_view_field<Sv, S>(
    view: &DataView,
    params: &[Box<str>],
    input: &InputFields,
    route: &RouteDecl<Sv, S>,
    input_type: &str,
) -> Option<(&'static str, String, String)> {
    let given = |name: &str| params.iter().any(|p| &**p == name) || input.has(name);
    for field in view.fields.names() {
        // Its aliases are the view's other names for the same value.
        if view.fields.names().iter().filter(|other| same_words(other, field)).any(|other| given(other)) {
            continue;
        }
        if let Some(param) = params.iter().find(|p| same_words(p, field)) {
            let given_by = format!("route {} {} ({})", route.method, route.template, route.location);
            return Some((field, given_by, param.to_string()));
        }
        if let Some(name) = input.names().iter().find(|name| same_words(name, field)) {
            let given_by =
                format!("the input `{input_type}` (route {} {}, {})", route.method, route.template, route.location);
            return Some((field, given_by, (*name).to_owned()));
        }
    }
    None
}

/// The same words in another case convention: `project_id`, `projectId`, `ProjectId`, `PROJECT_ID`.
fn same_words(a: &str, b: &str) -> bool {
    let words = |s: &str| s.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect::<String>();
    a != b && words(a) == words(b)
}

/// The `rename_all` that turns snake_case field names into names spelled like `name`.
fn rename_all_for(name: &str) -> Option<&'static str> {
    let upper = name.chars().any(|c| c.is_ascii_uppercase());
    let lower = name.chars().any(|c| c.is_ascii_lowercase());
    if name.contains('_') {
        return match (upper, lower) {
            (true, false) => Some("SCREAMING_SNAKE_CASE"),
            (false, true) => Some("snake_case"),
            _ => None,
        };
    }
    if name.contains('-') {
        return (!upper).then_some("kebab-case");
    }
    match name.chars().next() {
        Some(first) if first.is_ascii_uppercase() => Some("PascalCase"),
        Some(_) if upper => Some("camelCase"),
        _ => None,
    }
}

fn describe_middleware<Sv: 'static, S: 'static>(
    wirings: &Wirings<Sv, S>,
    functions: &[(String, &'static FunctionDef)],
    by_type: &HashMap<TypeId, Installed<Sv, S>>,
) -> Vec<MiddlewareInfo> {
    let info = |m: &SharedMiddleware<Sv, S>, applied: String| MiddlewareInfo {
        name: m.name().to_owned(),
        description: m.describe(),
        applied,
    };
    let mut out = Vec::new();
    // Tower layers first: they run outside the onion of the routes they apply to.
    out.extend(wirings.layers.iter().map(|decl| decl.layer.info(format!("tower layer {}", decl.pattern))));
    out.extend(wirings.global.iter().map(|m| info(m, "global".into())));
    for decl in &wirings.http {
        out.extend(decl.middleware.iter().map(|m| info(m, format!("http {}", decl.pattern))));
    }
    for decl in &wirings.tags {
        out.extend(decl.middleware.iter().map(|m| info(m, format!("tag {}", decl.pattern))));
    }
    for route in &wirings.routes {
        out.extend(route.middleware.iter().map(|m| info(m, format!("route {} {}", route.method, route.template))));
    }
    for (id, def) in functions {
        if let Some(installed) = by_type.get(&(def.function_type)()) {
            out.extend(installed.middleware.iter().map(|m| info(m, format!("function {id}"))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_accept_colon_and_brace_parameters_alike() {
        let colon = parse_template("/users/:userId/notes").unwrap();
        let brace = parse_template("/users/{userId}/notes").unwrap();
        assert_eq!(colon, brace);
        assert_eq!(colon.router_path, "/users/{userId}/notes");
        assert_eq!(colon.shape, "/users/{}/notes");
        assert_eq!(&*colon.params[0], "userId");
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(parse_template("users").is_err());
        assert!(parse_template("/a/:").is_err());
        assert!(parse_template("/a/:x/:x").is_err());
        assert!(parse_template("/a/b{x}").is_err());
    }

    fn def(name: &'static str, explicit_id: Option<&'static str>, module_path: &'static str) -> &'static FunctionDef {
        Box::leak(Box::new(FunctionDef {
            name,
            explicit_id,
            module_path,
            auth: false,
            permissions: &[],
            middleware: &[],
            tags: &[],
            description: "",
            docs: "",
            responses: &[],
            input_type: "()",
            output_type: "()",
            input_fields: InputFields::of::<()>,
            input_doc: || crate::openapi::InputDoc::Nothing,
            output_doc: || crate::openapi::OutputDoc::NoContent,
            file: "src/lib.rs",
            line: 1,
            function_type: || TypeId::of::<()>(),
            install: |_| Ok(()),
        }))
    }

    #[test]
    fn ids_are_names_unless_shared_then_module_paths_unless_shared_then_whole_paths() {
        let defs = [
            def("health", None, "app"),
            def("list", None, "app::projects"),
            def("list", None, "app::tasks"),
            def("archive", Some("projects.archive"), "app::projects"),
            def("archive", None, "app::tasks"),
            def("get", None, "app::api"),
            def("get", None, "bin::api"),
        ];
        assert_eq!(
            function_ids(&defs),
            [
                "health",
                "projects::list",
                "tasks::list",
                "projects.archive",
                "archive",
                "app::api::get",
                "bin::api::get"
            ]
        );
    }

    #[test]
    fn an_explicit_id_that_takes_a_name_qualifies_its_namesake() {
        let defs = [def("list", None, "app::tasks"), def("other", Some("list"), "app::projects")];
        assert_eq!(function_ids(&defs), ["tasks::list", "list"]);
    }

    #[test]
    fn a_view_field_given_under_another_spelling_is_found_an_alias_or_an_absent_field_is_not() {
        let route = RouteDecl::<(), ()> {
            method: Method::POST,
            template: "/notes".into(),
            function_type: TypeId::of::<()>(),
            function_path: "add_note",
            named: None,
            middleware: Vec::new(),
            tags: Vec::new(),
            location: SourceLocation { file: "src/http.rs", line: 7 },
        };
        let input = InputFields::Named(&["userId", "text"]);
        let view =
            |fields: &'static [&'static str]| DataView { type_name: "UserScoped", fields: InputFields::Named(fields) };
        assert_eq!(
            misnamed_view_field(&view(&["user_id"]), &[], &input, &route, "NewNote"),
            Some(("user_id", "the input `NewNote` (route POST /notes, src/http.rs:7)".to_owned(), "userId".to_owned()))
        );
        // An alias is the view's other name for the same value.
        assert_eq!(misnamed_view_field(&view(&["user_id", "userId"]), &[], &input, &route, "NewNote"), None);
        // A name nobody gives may come from the query or the body.
        assert_eq!(misnamed_view_field(&view(&["owner"]), &[], &input, &route, "NewNote"), None);
    }

    #[test]
    fn case_conventions_are_recognised_for_the_rename_all_advice() {
        assert!(same_words("projectId", "project_id"));
        assert!(same_words("PROJECT_ID", "ProjectId"));
        assert!(!same_words("project_id", "project_id"));
        assert!(!same_words("project", "projects"));
        assert_eq!(rename_all_for("projectId"), Some("camelCase"));
        assert_eq!(rename_all_for("ProjectId"), Some("PascalCase"));
        assert_eq!(rename_all_for("project_id"), Some("snake_case"));
        assert_eq!(rename_all_for("PROJECT_ID"), Some("SCREAMING_SNAKE_CASE"));
        assert_eq!(rename_all_for("id"), None);
    }

    #[test]
    fn an_application_with_nothing_registered_refuses_to_start_unless_allowed() {
        // This crate's own tests register no function and no wiring.
        let error = Registry::<(), ()>::build(&ServerConfig::default()).expect_err("nothing is registered");
        assert!(matches!(error, StartupError::NothingRegistered), "{error}");
        assert!(error.to_string().starts_with("no function and no route is registered"), "{error}");
        let registry = Registry::<(), ()>::build_with(&ServerConfig::default(), true).expect("allowed");
        assert!(registry.functions.is_empty());
    }

    #[test]
    fn http_patterns_match_all_prefix_and_exact() {
        let t = parse_template("/api/users/:id").unwrap();
        assert!(pattern_matches("*", &t));
        assert!(pattern_matches("/api/*", &t));
        assert!(pattern_matches("/api/users/*", &t));
        assert!(!pattern_matches("/admin/*", &t));
        assert!(pattern_matches("/api/users/{id}", &t));
        assert!(pattern_matches("/api/users/:other", &t));
        assert!(!pattern_matches("/api/users", &t));
    }
}
