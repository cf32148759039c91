//! CORS (the Fetch standard's cross-origin protocol): which pages of other origins may call the application
//! from a browser. Configured once in a wiring file with [`Wirings::cors`](crate::Wirings::cors), resolved at
//! start-up into pre-rendered header values, and answered by the pipeline before routing: a preflight never
//! reaches routing, middleware or authentication, and every response to a request from an allowed origin
//! carries the CORS headers, errors included.

use std::fmt::{self, Write as _};
use std::time::Duration;

use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use crate::response::{Body, Response};

/// The methods a preflight allows unless [`CorsOptions::methods`] says otherwise (the `cors` npm package's,
/// which Pikku's `cors()` follows).
const DEFAULT_METHODS: [&str; 6] = ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"];

/// Which origins may call the application.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OriginRule {
    /// Any origin, answered with `Access-Control-Allow-Origin: *`.
    Any,
    /// Any origin, mirrored in `Access-Control-Allow-Origin`.
    Reflect,
    /// These origins (as configured; validated and normalised at start-up).
    List(Vec<String>),
}

/// The CORS configuration of an application: Pikku's `cors()` options, with the defaults of the `cors` npm
/// package that Pikku follows. Give it to [`Wirings::cors`](crate::Wirings::cors) in a wiring file; it is
/// checked at start-up, where a mistake refuses to start naming the wiring line.
///
/// ```
/// use std::time::Duration;
/// use pikku::prelude::*;
/// use pikku::CorsOptions;
///
/// # #[derive(Clone)] pub struct Session;
/// # pub struct Services;
/// #[pikku_wiring]
/// fn cors(w: &mut Wirings<Services, Session>) {
///     w.cors(
///         CorsOptions::new()
///             .origins(["https://app.example", "http://localhost:5173"])
///             .credentials(true)
///             .allowed_headers(["Content-Type", "Authorization"])
///             .expose_headers(["x-request-id"])
///             .max_age(Duration::from_secs(600)),
///     );
/// }
/// # fn main() {
/// # App::<Services, Session>::new().allow_no_routes().build(Services).expect("the CORS configuration is valid");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CorsOptions {
    origins: OriginRule,
    methods: Vec<String>,
    /// `None`: reflect the request's `Access-Control-Request-Headers`.
    allowed_headers: Option<Vec<String>>,
    credentials: bool,
    max_age: Option<Duration>,
    expose_headers: Vec<String>,
}

impl Default for CorsOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl CorsOptions {
    /// The defaults: any origin (`*`), methods `GET, HEAD, PUT, PATCH, POST, DELETE`, the allowed headers
    /// mirrored from the preflight's `Access-Control-Request-Headers`, no credentials, no `max-age`, no
    /// exposed headers.
    pub fn new() -> Self {
        Self {
            origins: OriginRule::Any,
            methods: DEFAULT_METHODS.iter().map(|m| (*m).to_owned()).collect(),
            allowed_headers: None,
            credentials: false,
            max_age: None,
            expose_headers: Vec::new(),
        }
    }

    /// Only these origins, each `scheme://host[:port]` (`https://app.example`, `http://localhost:5173`): an
    /// allowed request gets its own `Origin` back in `Access-Control-Allow-Origin`. Compared
    /// case-insensitively, a default port (`:443` for `https`, `:80` for `http`) ignored, a trailing `/`
    /// tolerated. With [`credentials(true)`](Self::credentials), these origins also pass the CSRF check of
    /// cookie sessions. By default any origin is allowed (`*`).
    #[must_use]
    pub fn origins<I>(mut self, origins: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.origins = OriginRule::List(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Any origin, answered with `Access-Control-Allow-Origin: *` (the default). Refused at start-up together
    /// with [`credentials(true)`](Self::credentials).
    #[must_use]
    pub fn any_origin(mut self) -> Self {
        self.origins = OriginRule::Any;
        self
    }

    /// Any origin, mirrored in `Access-Control-Allow-Origin` (an `Origin` that is not `scheme://host[:port]`,
    /// such as `null`, is not). With credentials, every site can then call the application as the signed-in
    /// user, so these origins do **not** pass the CSRF check of cookie sessions: list them with
    /// [`origins`](Self::origins) for that. By default any origin is allowed with `*` instead.
    #[must_use]
    pub fn reflect_origin(mut self) -> Self {
        self.origins = OriginRule::Reflect;
        self
    }

    /// The methods a preflight allows (`Access-Control-Allow-Methods`). By default `GET, HEAD, PUT, PATCH,
    /// POST, DELETE`.
    #[must_use]
    pub fn methods<I>(mut self, methods: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.methods = methods.into_iter().map(|m| m.as_ref().to_owned()).collect();
        self
    }

    /// The request headers a preflight allows (`Access-Control-Allow-Headers`); an empty list allows only
    /// the headers browsers send without asking. By default the headers the preflight asks for
    /// (`Access-Control-Request-Headers`) are mirrored.
    #[must_use]
    pub fn allowed_headers<I>(mut self, headers: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.allowed_headers = Some(headers.into_iter().map(|h| h.as_ref().to_owned()).collect());
        self
    }

    /// Whether browsers may send cookies and `Authorization` and read the answer
    /// (`Access-Control-Allow-Credentials: true`). By default `false`.
    #[must_use]
    pub fn credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// How long a browser may cache a preflight's answer (`Access-Control-Max-Age`, whole seconds, rounded
    /// down). By default none is sent, and browsers use their own (5 seconds in Chromium and Firefox).
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// The response headers a page may read beyond the safelisted ones (`Access-Control-Expose-Headers`).
    /// By default none.
    #[must_use]
    pub fn expose_headers<I>(mut self, headers: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.expose_headers = headers.into_iter().map(|h| h.as_ref().to_owned()).collect();
        self
    }

    /// Checks the configuration as start-up does, for a value that comes from outside the code (an
    /// environment variable) and deserves a message of its own.
    ///
    /// # Errors
    /// A [`CorsError`] saying what to change.
    pub fn validate(&self) -> Result<(), CorsError> {
        self.resolve().map(drop)
    }

    /// The configuration as the pipeline uses it: validated, header values rendered once.
    pub(crate) fn resolve(&self) -> Result<CorsPolicy, CorsError> {
        let origins = match &self.origins {
            OriginRule::Any if self.credentials => return Err(CorsError::AnyOriginWithCredentials),
            OriginRule::Any => AllowedOrigins::Any,
            OriginRule::Reflect => AllowedOrigins::Reflect,
            OriginRule::List(list) => AllowedOrigins::List(
                list.iter()
                    .map(|origin| ListedOrigin::parse(origin).ok_or_else(|| CorsError::InvalidOrigin(origin.clone())))
                    .collect::<Result<_, _>>()?,
            ),
        };
        for method in &self.methods {
            if Method::from_bytes(method.as_bytes()).is_err() {
                return Err(CorsError::InvalidMethod(method.clone()));
            }
        }
        let check_headers = |setting: &'static str, names: &[String]| {
            names.iter().try_for_each(|name| match HeaderName::from_bytes(name.as_bytes()) {
                Ok(_) => Ok(()),
                Err(_) => Err(CorsError::InvalidHeader { setting, name: name.clone() }),
            })
        };
        if let Some(allowed) = &self.allowed_headers {
            check_headers("allowed header", allowed)?;
        }
        check_headers("exposed header", &self.expose_headers)?;

        // Tokens and header names are valid header text, so rendering them cannot fail.
        let list = |items: &[String]| {
            (!items.is_empty()).then(|| HeaderValue::from_str(&items.join(", ")).expect("validated tokens"))
        };
        Ok(CorsPolicy {
            origins,
            credentials: self.credentials,
            allow_methods: HeaderValue::from_str(&self.methods.join(", ")).expect("validated method names"),
            allow_headers: match &self.allowed_headers {
                Some(allowed) => AllowHeaders::Listed(list(allowed)),
                None => AllowHeaders::Reflect,
            },
            max_age: self.max_age.map(|age| HeaderValue::from(age.as_secs())),
            expose_headers: list(&self.expose_headers),
            description: self.describe(),
        })
    }

    /// One line for `info middleware --verbose`.
    fn describe(&self) -> String {
        let mut out = String::from("origins=");
        match &self.origins {
            OriginRule::Any => out.push('*'),
            OriginRule::Reflect => out.push_str("reflect"),
            OriginRule::List(list) => out.push_str(&list.join(" ")),
        }
        let _ = write!(out, ", methods={}", self.methods.join(" "));
        match &self.allowed_headers {
            Some(allowed) => {
                let _ = write!(out, ", headers={}", if allowed.is_empty() { "-".into() } else { allowed.join(" ") });
            }
            None => out.push_str(", headers=reflect"),
        }
        let _ = write!(out, ", credentials={}", self.credentials);
        if let Some(age) = self.max_age {
            let _ = write!(out, ", max_age={}s", age.as_secs());
        }
        if !self.expose_headers.is_empty() {
            let _ = write!(out, ", expose={}", self.expose_headers.join(" "));
        }
        out
    }
}

/// What is wrong with a [`CorsOptions`], and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorsError {
    /// Any origin (`*`) with credentials.
    #[error(
        "any origin (`*`) with `credentials(true)` is unsafe and browsers refuse it; list the origins with \
         `.origins([..])`, or use reflect (`.reflect_origin()`) to let every site call the API as the \
         signed-in user"
    )]
    AnyOriginWithCredentials,
    /// An origin that is not `scheme://host[:port]`.
    #[error(
        "origin `{0}` is not `scheme://host[:port]`; write it like `https://app.example` or \
         `http://localhost:5173`, without a path"
    )]
    InvalidOrigin(String),
    /// A method that is not an HTTP method name.
    #[error("method `{0}` is not an HTTP method name; write a token such as `GET` or `PATCH`")]
    InvalidMethod(String),
    /// A header name that is not one.
    #[error("{setting} `{name}` is not a header name; write a token such as `Content-Type` or `x-api-key`")]
    InvalidHeader {
        /// Which list: `allowed header` or `exposed header`.
        setting: &'static str,
        /// The name as given.
        name: String,
    },
}

/// An origin of an explicit list, normalised: lower-case, without its default port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ListedOrigin {
    scheme: Box<str>,
    authority: Box<str>,
}

impl ListedOrigin {
    fn parse(origin: &str) -> Option<Self> {
        let origin = origin.trim().strip_suffix('/').unwrap_or(origin.trim());
        let (scheme, authority) = split_origin(origin)?;
        Some(Self { scheme: scheme.to_ascii_lowercase().into(), authority: authority.to_ascii_lowercase().into() })
    }

    /// Whether `origin` (a request's `Origin`) is this one. No allocation: the request's side is compared
    /// ignoring case.
    fn matches(&self, scheme: &str, authority: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme) && self.authority.eq_ignore_ascii_case(authority)
    }
}

impl fmt::Display for ListedOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

/// `scheme://host[:port]` into its scheme and its authority without a default port; `None` for anything
/// else (a path, a query, user information, `null`).
fn split_origin(origin: &str) -> Option<(&str, &str)> {
    let (scheme, authority) = origin.split_once("://")?;
    let mut scheme_bytes = scheme.bytes();
    let scheme_ok = scheme_bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme_bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return None;
    }
    let (host, port) = if let Some(literal) = authority.strip_prefix('[') {
        // An IPv6 literal: `[::1]` or `[::1]:8080`.
        let (address, rest) = literal.split_once(']')?;
        let address_ok =
            !address.is_empty() && address.bytes().all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'));
        if !address_ok {
            return None;
        }
        (&authority[..address.len() + 2], if rest.is_empty() { None } else { Some(rest.strip_prefix(':')?) })
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let host_ok = host.starts_with('[')
        || (!host.is_empty()
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok());
    (host_ok && port_ok).then(|| (scheme, without_default_port(scheme, authority)))
}

fn without_default_port<'a>(scheme: &str, authority: &'a str) -> &'a str {
    let default = if scheme.eq_ignore_ascii_case("https") {
        ":443"
    } else if scheme.eq_ignore_ascii_case("http") {
        ":80"
    } else {
        return authority;
    };
    authority.strip_suffix(default).unwrap_or(authority)
}

#[derive(Debug)]
enum AllowedOrigins {
    Any,
    Reflect,
    List(Box<[ListedOrigin]>),
}

#[derive(Debug)]
enum AllowHeaders {
    /// Mirror the preflight's `Access-Control-Request-Headers`.
    Reflect,
    /// The configured list (`None`: an empty list, no header).
    Listed(Option<HeaderValue>),
}

/// [`CorsOptions`] resolved at start-up: what a request costs is header lookups and clones of values
/// rendered here.
#[derive(Debug)]
pub(crate) struct CorsPolicy {
    origins: AllowedOrigins,
    credentials: bool,
    allow_methods: HeaderValue,
    allow_headers: AllowHeaders,
    max_age: Option<HeaderValue>,
    expose_headers: Option<HeaderValue>,
    description: String,
}

/// `Vary` on every answer to a request with an `Origin`: the answer depends on it.
const VARY_ORIGIN: HeaderValue = HeaderValue::from_static("Origin");
/// `Vary` on a preflight whose allowed headers mirror the request's.
const VARY_PREFLIGHT_REFLECTED: HeaderValue = HeaderValue::from_static("Origin, Access-Control-Request-Headers");
const ANY_ORIGIN: HeaderValue = HeaderValue::from_static("*");
const TRUE: HeaderValue = HeaderValue::from_static("true");

/// The CORS headers an actual request's response gets, decided before routing.
#[derive(Debug)]
pub(crate) struct ActualRequest<'p> {
    policy: &'p CorsPolicy,
    /// `Access-Control-Allow-Origin`, when the origin is allowed.
    allow_origin: Option<HeaderValue>,
    /// See [`Request::origin_listed_for_credentials`](crate::Request::origin_listed_for_credentials).
    pub(crate) listed_with_credentials: bool,
}

impl ActualRequest<'_> {
    /// Adds the headers to the response, whatever its status.
    pub(crate) fn apply(self, headers: &mut HeaderMap) {
        if let Some(origin) = self.allow_origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            if self.policy.credentials {
                headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
            }
            if let Some(expose) = &self.policy.expose_headers {
                headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
            }
        }
        append_vary_origin(headers);
    }
}

/// Adds `Origin` to `Vary`, keeping what the response already varies on.
fn append_vary_origin(headers: &mut HeaderMap) {
    let covered = headers.get_all(header::VARY).iter().any(|value| {
        value.as_bytes().split(|&b| b == b',').any(|item| {
            let item = item.trim_ascii();
            item == b"*" || item.eq_ignore_ascii_case(b"origin")
        })
    });
    if !covered {
        headers.append(header::VARY, VARY_ORIGIN);
    }
}

/// What CORS makes of a request before routing.
pub(crate) enum BeforeRouting<'p> {
    /// No `Origin`: not a CORS request.
    Nothing,
    /// A preflight, answered here (boxed, like the next: a request without `Origin` moves neither).
    Preflight(Box<Response>),
    /// Any other request with an `Origin`: what its response gets.
    Actual(Box<ActualRequest<'p>>),
}

impl CorsPolicy {
    /// What to do with a request before routing. A request without `Origin` costs one header lookup.
    #[inline]
    pub(crate) fn before_routing(&self, method: &Method, headers: &HeaderMap) -> BeforeRouting<'_> {
        match headers.get(header::ORIGIN) {
            None => BeforeRouting::Nothing,
            Some(origin) => self.classify(origin, method, headers),
        }
    }

    // Out of line: a request without `Origin` carries none of this in its code path.
    #[inline(never)]
    fn classify(&self, origin: &HeaderValue, method: &Method, headers: &HeaderMap) -> BeforeRouting<'_> {
        let (allow_origin, listed) = self.allow(origin);
        if *method == Method::OPTIONS && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
            return BeforeRouting::Preflight(Box::new(self.preflight(allow_origin, headers)));
        }
        // A request carrying two `Origin`s is not a browser's: it does not get past the CSRF check on CORS's
        // word.
        let single_origin = listed && headers.get_all(header::ORIGIN).iter().nth(1).is_none();
        BeforeRouting::Actual(Box::new(ActualRequest {
            policy: self,
            allow_origin,
            listed_with_credentials: single_origin && self.credentials,
        }))
    }

    /// `Access-Control-Allow-Origin` for `origin` (`None`: not allowed), and whether it is on the explicit
    /// list.
    fn allow(&self, origin: &HeaderValue) -> (Option<HeaderValue>, bool) {
        match &self.origins {
            AllowedOrigins::Any => (Some(ANY_ORIGIN), false),
            AllowedOrigins::Reflect => {
                let valid = origin.to_str().ok().and_then(split_origin).is_some();
                (valid.then(|| origin.clone()), false)
            }
            AllowedOrigins::List(list) => {
                let listed = origin
                    .to_str()
                    .ok()
                    .and_then(|text| text.split_once("://"))
                    .map(|(scheme, authority)| (scheme, without_default_port(scheme, authority)))
                    .is_some_and(|(scheme, authority)| list.iter().any(|o| o.matches(scheme, authority)));
                (listed.then(|| origin.clone()), listed)
            }
        }
    }

    /// The answer to a preflight: 204, with the `Access-Control-Allow-*` headers when the origin is allowed.
    fn preflight(&self, allow_origin: Option<HeaderValue>, request: &HeaderMap) -> Response {
        let mut response = Response::new(Body::default());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        let Some(origin) = allow_origin else {
            headers.insert(header::VARY, VARY_ORIGIN);
            return response;
        };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if self.credentials {
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
        }
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, self.allow_methods.clone());
        let vary = match &self.allow_headers {
            AllowHeaders::Listed(listed) => {
                if let Some(listed) = listed {
                    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, listed.clone());
                }
                VARY_ORIGIN
            }
            AllowHeaders::Reflect => {
                if let Some(requested) = reflected_headers(request) {
                    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
                }
                VARY_PREFLIGHT_REFLECTED
            }
        };
        if let Some(max_age) = &self.max_age {
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, max_age.clone());
        }
        headers.insert(header::VARY, vary);
        response
    }

    /// One line for `info middleware --verbose`.
    pub(crate) fn describe(&self) -> &str {
        &self.description
    }
}

/// The preflight's `Access-Control-Request-Headers`, all of them when a client repeats the header.
fn reflected_headers(request: &HeaderMap) -> Option<HeaderValue> {
    let mut values = request.get_all(header::ACCESS_CONTROL_REQUEST_HEADERS).iter();
    let first = values.next()?;
    let Some(second) = values.next() else { return Some(first.clone()) };
    let mut joined = first.as_bytes().to_vec();
    for value in std::iter::once(second).chain(values) {
        joined.extend_from_slice(b", ");
        joined.extend_from_slice(value.as_bytes());
    }
    // Joined valid values with ", " form a valid value.
    HeaderValue::from_bytes(&joined).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn policy(options: CorsOptions) -> CorsPolicy {
        options.resolve().expect("valid options")
    }

    fn actual<'p>(policy: &'p CorsPolicy, pairs: &[(&str, &str)]) -> Box<ActualRequest<'p>> {
        match policy.before_routing(&Method::GET, &headers(pairs)) {
            BeforeRouting::Actual(actual) => actual,
            BeforeRouting::Preflight(_) => panic!("a GET is not a preflight"),
            BeforeRouting::Nothing => panic!("the request has an Origin"),
        }
    }

    fn preflight(policy: &CorsPolicy, pairs: &[(&str, &str)]) -> HeaderMap {
        let mut all = vec![("access-control-request-method", "POST")];
        all.extend_from_slice(pairs);
        match policy.before_routing(&Method::OPTIONS, &headers(&all)) {
            BeforeRouting::Preflight(response) => {
                assert_eq!(response.status(), StatusCode::NO_CONTENT);
                response.headers().clone()
            }
            _ => panic!("an OPTIONS with Origin and Access-Control-Request-Method is a preflight"),
        }
    }

    fn value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
        headers.get(name).map(|v| v.to_str().unwrap())
    }

    #[test]
    fn listed_origins_match_ignoring_case_default_port_and_a_configured_trailing_slash() {
        let p =
            policy(CorsOptions::new().origins(["https://App.Example/", "http://localhost:5173", "http://[::1]:8080"]));
        for origin in [
            "https://app.example",
            "HTTPS://APP.EXAMPLE",
            "https://app.example:443",
            "http://localhost:5173",
            "http://[::1]:8080",
        ] {
            let decision = actual(&p, &[("origin", origin)]);
            assert_eq!(decision.allow_origin.as_ref().map(|v| v.to_str().unwrap()), Some(origin), "{origin}");
        }
        for origin in [
            "http://app.example",
            "https://app.example:8443",
            "https://app.example.evil",
            "https://evil.app.example",
            "http://localhost:5174",
            "http://localhost",
            "null",
            "app.example",
            "",
        ] {
            assert!(actual(&p, &[("origin", origin)]).allow_origin.is_none(), "{origin}");
        }
    }

    #[test]
    fn a_request_without_origin_is_not_a_cors_request() {
        let p = policy(CorsOptions::new());
        assert!(matches!(p.before_routing(&Method::GET, &headers(&[])), BeforeRouting::Nothing));
        let no_origin = headers(&[("access-control-request-method", "GET")]);
        assert!(matches!(p.before_routing(&Method::OPTIONS, &no_origin), BeforeRouting::Nothing));
    }

    #[test]
    fn only_an_options_with_access_control_request_method_is_a_preflight() {
        let p = policy(CorsOptions::new());
        let origin_only = headers(&[("origin", "https://a.example")]);
        assert!(matches!(p.before_routing(&Method::OPTIONS, &origin_only), BeforeRouting::Actual(_)));
        let both = headers(&[("origin", "https://a.example"), ("access-control-request-method", "GET")]);
        assert!(matches!(p.before_routing(&Method::GET, &both), BeforeRouting::Actual(_)));
        assert!(matches!(p.before_routing(&Method::OPTIONS, &both), BeforeRouting::Preflight(_)));
    }

    #[test]
    fn defaults_answer_any_origin_with_a_star_and_mirror_the_requested_headers() {
        let p = policy(CorsOptions::default());
        let h = preflight(
            &p,
            &[("origin", "https://a.example"), ("access-control-request-headers", "x-one, content-type")],
        );
        assert_eq!(value(&h, "access-control-allow-origin"), Some("*"));
        assert_eq!(value(&h, "access-control-allow-methods"), Some("GET, HEAD, PUT, PATCH, POST, DELETE"));
        assert_eq!(value(&h, "access-control-allow-headers"), Some("x-one, content-type"));
        assert_eq!(value(&h, "vary"), Some("Origin, Access-Control-Request-Headers"));
        for absent in ["access-control-allow-credentials", "access-control-max-age", "access-control-expose-headers"] {
            assert!(!h.contains_key(absent), "{absent}");
        }
        // Nothing requested, nothing mirrored.
        let h = preflight(&p, &[("origin", "https://a.example")]);
        assert!(!h.contains_key("access-control-allow-headers"));
    }

    #[test]
    fn repeated_requested_headers_are_all_mirrored() {
        let p = policy(CorsOptions::new());
        let h = preflight(
            &p,
            &[
                ("origin", "https://a.example"),
                ("access-control-request-headers", "x-one"),
                ("access-control-request-headers", "x-two"),
            ],
        );
        assert_eq!(value(&h, "access-control-allow-headers"), Some("x-one, x-two"));
    }

    #[test]
    fn configured_values_are_rendered_once() {
        let p = policy(
            CorsOptions::new()
                .origins(["https://app.example"])
                .methods(["GET", "POST"])
                .allowed_headers(["Content-Type", "Authorization"])
                .credentials(true)
                .max_age(Duration::from_millis(600_900))
                .expose_headers(["x-request-id", "ETag"]),
        );
        let h = preflight(&p, &[("origin", "https://app.example"), ("access-control-request-headers", "x-other")]);
        assert_eq!(value(&h, "access-control-allow-origin"), Some("https://app.example"));
        assert_eq!(value(&h, "access-control-allow-credentials"), Some("true"));
        assert_eq!(value(&h, "access-control-allow-methods"), Some("GET, POST"));
        assert_eq!(value(&h, "access-control-allow-headers"), Some("Content-Type, Authorization"));
        assert_eq!(value(&h, "access-control-max-age"), Some("600"));
        assert_eq!(value(&h, "vary"), Some("Origin"));
        // Exposed headers concern actual responses only.
        assert!(!h.contains_key("access-control-expose-headers"));

        let mut response = HeaderMap::new();
        actual(&p, &[("origin", "https://app.example")]).apply(&mut response);
        assert_eq!(value(&response, "access-control-allow-origin"), Some("https://app.example"));
        assert_eq!(value(&response, "access-control-allow-credentials"), Some("true"));
        assert_eq!(value(&response, "access-control-expose-headers"), Some("x-request-id, ETag"));
        assert_eq!(value(&response, "vary"), Some("Origin"));
        assert!(!response.contains_key("access-control-allow-methods"));
    }

    #[test]
    fn an_empty_allowed_header_list_sends_no_header() {
        let p = policy(CorsOptions::new().allowed_headers(Vec::<String>::new()));
        let h = preflight(&p, &[("origin", "https://a.example"), ("access-control-request-headers", "x-one")]);
        assert!(!h.contains_key("access-control-allow-headers"));
        assert_eq!(value(&h, "vary"), Some("Origin"));
    }

    #[test]
    fn a_disallowed_origin_gets_only_vary() {
        let p = policy(
            CorsOptions::new().origins(["https://app.example"]).credentials(true).max_age(Duration::from_secs(5)),
        );
        let h = preflight(&p, &[("origin", "https://evil.example"), ("access-control-request-headers", "x-one")]);
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!(value(&h, "vary"), Some("Origin"));

        let mut response = HeaderMap::new();
        let decision = actual(&p, &[("origin", "https://evil.example")]);
        assert!(!decision.listed_with_credentials);
        decision.apply(&mut response);
        assert_eq!(response.len(), 1, "{response:?}");
        assert_eq!(value(&response, "vary"), Some("Origin"));
    }

    #[test]
    fn vary_is_appended_to_an_existing_one_and_not_repeated() {
        let p = policy(CorsOptions::new());
        let mut response = headers(&[("vary", "Accept-Encoding")]);
        actual(&p, &[("origin", "https://a.example")]).apply(&mut response);
        let vary: Vec<&str> = response.get_all("vary").iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(vary, ["Accept-Encoding", "Origin"]);

        for already in ["accept, origin", "*"] {
            let mut response = headers(&[("vary", already)]);
            actual(&p, &[("origin", "https://a.example")]).apply(&mut response);
            assert_eq!(response.get_all("vary").iter().count(), 1, "{already}");
        }
    }

    #[test]
    fn reflect_mirrors_any_origin_but_null_and_garbage() {
        let p = policy(CorsOptions::new().reflect_origin().credentials(true));
        for origin in ["https://anything.example", "http://localhost:3000", "https://[2001:db8::1]"] {
            let decision = actual(&p, &[("origin", origin)]);
            assert_eq!(decision.allow_origin.as_ref().map(|v| v.to_str().unwrap()), Some(origin));
            assert!(!decision.listed_with_credentials, "reflect never counts for CSRF");
        }
        for origin in ["null", "https://a.example/path", "https://user@a.example", "file://"] {
            assert!(actual(&p, &[("origin", origin)]).allow_origin.is_none(), "{origin}");
        }
    }

    #[test]
    fn only_a_single_listed_origin_with_credentials_counts_for_csrf() {
        let listed = |p: &CorsPolicy, pairs: &[(&str, &str)]| match p.before_routing(&Method::GET, &headers(pairs)) {
            BeforeRouting::Actual(actual) => actual.listed_with_credentials,
            _ => false,
        };
        let with = policy(CorsOptions::new().origins(["https://app.example"]).credentials(true));
        assert!(listed(&with, &[("origin", "https://app.example")]));
        assert!(listed(&with, &[("origin", "HTTPS://app.example:443")]));
        assert!(!listed(&with, &[("origin", "https://app.example"), ("origin", "https://evil.example")]));
        assert!(!listed(&with, &[("origin", "https://evil.example")]));
        assert!(!listed(&with, &[]));
        let without = policy(CorsOptions::new().origins(["https://app.example"]));
        assert!(!listed(&without, &[("origin", "https://app.example")]));
        let any = policy(CorsOptions::new());
        assert!(!listed(&any, &[("origin", "https://app.example")]));
    }

    #[test]
    fn invalid_configurations_are_refused_saying_what_to_change() {
        let error = CorsOptions::new().credentials(true).validate().unwrap_err();
        assert_eq!(error, CorsError::AnyOriginWithCredentials);
        assert!(error.to_string().contains("list the origins"), "{error}");
        assert!(error.to_string().contains("reflect"), "{error}");

        for origin in [
            "app.example",
            "https://app.example/path",
            "https://app.example?q",
            "https://user@app.example",
            "https://",
            "https://app.example:99999",
            "https://app.example:",
            "https://app example",
            "1http://app.example",
            "*",
            "null",
            "https://[zz]",
        ] {
            let error = CorsOptions::new().origins([origin]).validate().unwrap_err();
            assert_eq!(error, CorsError::InvalidOrigin(origin.to_owned()));
            assert!(error.to_string().contains("scheme://host[:port]"), "{error}");
        }
        assert_eq!(
            CorsOptions::new().methods(["GET", "BAD METHOD"]).validate(),
            Err(CorsError::InvalidMethod("BAD METHOD".into()))
        );
        assert_eq!(
            CorsOptions::new().allowed_headers(["Content-Type", "bad header"]).validate(),
            Err(CorsError::InvalidHeader { setting: "allowed header", name: "bad header".into() })
        );
        assert_eq!(
            CorsOptions::new().expose_headers(["x:y"]).validate(),
            Err(CorsError::InvalidHeader { setting: "exposed header", name: "x:y".into() })
        );
        // Reflect with credentials is allowed: it is the explicit way to open the API to every site.
        assert!(CorsOptions::new().reflect_origin().credentials(true).validate().is_ok());
    }

    #[test]
    fn the_description_names_every_setting() {
        let p = policy(
            CorsOptions::new()
                .origins(["https://app.example"])
                .methods(["GET"])
                .allowed_headers(["Content-Type"])
                .credentials(true)
                .max_age(Duration::from_secs(60))
                .expose_headers(["x-request-id"]),
        );
        assert_eq!(
            p.describe(),
            "origins=https://app.example, methods=GET, headers=Content-Type, credentials=true, max_age=60s, \
             expose=x-request-id"
        );
        assert_eq!(
            policy(CorsOptions::new()).describe(),
            "origins=*, methods=GET HEAD PUT PATCH POST DELETE, headers=reflect, credentials=false"
        );
    }
}
