//! The registry: functions and wirings resolved once at start-up into a router, a fixed middleware chain
//! per route and the CORS policy. It refuses to start, naming both places, on duplicate function ids, two
//! routes with the same method and template, a route that names something that is not a `#[pikku_func]`,
//! or CORS configured twice; and, naming the wiring line, on an invalid CORS configuration.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};

use http::{HeaderValue, Method};

use crate::body::BodyRules;
use crate::cors::{CorsError, CorsPolicy};
use crate::function::{FunctionDef, FunctionSlot};
use crate::middleware::{Endpoint, SharedMiddleware};
use crate::permission::SharedPermission;
use crate::server::{ServerConfig, ServerInner};
use crate::service::{DeclaredLayer, RouteRest};
use crate::wiring::{SourceLocation, WiringDef, Wirings};

/// Why an application refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Two functions share an id.
    #[error("two functions have the id `{id}`: {first} and {second}; function ids must be unique, rename one")]
    DuplicateFunction {
        /// The id.
        id: &'static str,
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
    #[error("route {method} {template} ({location}) names `{function}`, which is not a #[pikku_func]; mark it with #[pikku_func]")]
    NotAFunction {
        /// Method.
        method: Method,
        /// Template.
        template: String,
        /// Declaration.
        location: SourceLocation,
        /// The path of what was named.
        function: &'static str,
    },
    /// `w.cors(..)` is called more than once.
    #[error("CORS is configured twice: {first} and {second}; an application has one `w.cors(..)`, remove one")]
    DuplicateCors {
        /// The first call.
        first: SourceLocation,
        /// The second call.
        second: SourceLocation,
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
    /// The registration.
    pub def: &'static FunctionDef,
    /// `METHOD template` of each route wired to it.
    pub routes: Vec<String>,
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
    /// The CORS policy, when the wirings configure one (boxed: most applications have none).
    pub(crate) cors: Option<Box<CorsPolicy>>,
}

impl<Sv, S> std::fmt::Debug for Registry<Sv, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("functions", &self.functions)
            .field("middleware", &self.middleware)
            .field("global_permissions", &self.global_permissions)
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
    endpoint: Arc<dyn Endpoint<Sv, S>>,
    middleware: Vec<SharedMiddleware<Sv, S>>,
}

impl<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static> Registry<Sv, S> {
    /// Builds the registry from every function and wiring linked into the binary, with the body settings of
    /// `config` (the limit, and the budget its functions share).
    ///
    /// # Errors
    /// A [`StartupError`] naming the places at fault.
    #[allow(clippy::missing_panics_doc)] // the `expect`s state invariants, they cannot fail
    pub fn build(config: &ServerConfig) -> Result<Self, StartupError> {
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

        let mut defs: Vec<&'static FunctionDef> = inventory::iter::<FunctionDef>.into_iter().collect();
        defs.sort_by(|a, b| (a.id, a.file, a.line).cmp(&(b.id, b.file, b.line)));
        for pair in defs.windows(2) {
            if pair[0].id == pair[1].id {
                return Err(StartupError::DuplicateFunction {
                    id: pair[0].id,
                    first: SourceLocation { file: pair[0].file, line: pair[0].line },
                    second: SourceLocation { file: pair[1].file, line: pair[1].line },
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

        let global_permissions: Arc<[SharedPermission<Sv, S>]> = wirings.permissions.iter().cloned().collect();
        let mut by_type: HashMap<TypeId, Installed<Sv, S>> = HashMap::with_capacity(defs.len());
        for def in &defs {
            let mut slot = FunctionSlot::<Sv, S> {
                global_permissions: Arc::clone(&global_permissions),
                body: Arc::clone(&body),
                installed: None,
            };
            (def.install)(&mut slot).map_err(|m| {
                mismatch(format!("function `{}`", def.id), SourceLocation { file: def.file, line: def.line }, m)
            })?;
            let installed = slot.installed.expect("install fills the slot on success");
            by_type.insert(
                (def.function_type)(),
                Installed { def, endpoint: installed.endpoint, middleware: installed.middleware },
            );
        }

        let server = Arc::new(OnceLock::new());
        let mut router = matchit::Router::new();
        let mut paths: Vec<PathEntry<Sv, S>> = Vec::new();
        // shape -> (index into paths, template, location of its first route)
        let mut shapes: HashMap<String, (usize, String, SourceLocation)> = HashMap::new();
        let mut declared: HashMap<(Method, String), SourceLocation> = HashMap::new();
        let mut routes_of: HashMap<&'static str, Vec<String>> = HashMap::new();

        for route in &wirings.routes {
            let template = parse_template(&route.template).map_err(|reason| StartupError::InvalidTemplate {
                method: route.method.clone(),
                template: route.template.clone(),
                location: route.location,
                reason,
            })?;
            let function = by_type.get(&route.function_type).ok_or(StartupError::NotAFunction {
                method: route.method.clone(),
                template: route.template.clone(),
                location: route.location,
                function: route.function_path,
            })?;
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
            routes_of.entry(function.def.id).or_default().push(format!("{} {}", route.method, route.template));
        }

        for entry in &mut paths {
            let mut allowed: Vec<&str> = entry.methods.iter().map(|(m, _)| m.as_str()).collect();
            if allowed.contains(&"GET") && !allowed.contains(&"HEAD") {
                allowed.push("HEAD");
            }
            entry.allow = HeaderValue::from_str(&allowed.join(", ")).expect("method names are valid header text");
        }

        let functions: Vec<FunctionInfo> =
            defs.iter().map(|def| FunctionInfo { def, routes: routes_of.remove(def.id).unwrap_or_default() }).collect();
        let middleware = describe_middleware(&wirings, &defs, &by_type);
        let route_count = wirings.routes.len();
        tracing::info!(
            functions = functions.len(),
            routes = route_count,
            "registered {} functions and {} routes",
            functions.len(),
            route_count
        );

        Ok(Self {
            router,
            paths,
            server,
            functions,
            middleware,
            global_permissions: global_permissions.iter().map(SharedPermission::name).collect(),
            cors,
        })
    }
}

fn describe_middleware<Sv: 'static, S: 'static>(
    wirings: &Wirings<Sv, S>,
    defs: &[&'static FunctionDef],
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
    for def in defs {
        if let Some(installed) = by_type.get(&(def.function_type)()) {
            out.extend(installed.middleware.iter().map(|m| info(m, format!("function {}", def.id))));
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
