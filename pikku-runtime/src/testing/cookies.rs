//! A cookie jar that follows `Set-Cookie` across requests, and the client that uses it.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use cookie::time::OffsetDateTime;
use cookie::Cookie;
use http::{header, HeaderValue};

use super::{request_methods, sealed, TestResponse, Transport};
use crate::middleware::BoxFuture;

/// Cookies kept across requests, the way a browser keeps them for one site (RFC 6265): stored by name and
/// path from every `Set-Cookie` a [`CookieClient`] receives, replaced by a later cookie of the same name and
/// path, removed by `Max-Age=0` or an `Expires` in the past, and sent back in one `Cookie` header to the
/// requests whose path they match (the longest path first).
///
/// What it leaves out, because the kit talks to one server on loopback:
/// * `Secure` cookies are sent over plain HTTP too (the [`TestServer`](super::TestServer) is not TLS; a
///   browser would send them to `http://localhost` as well).
/// * `Domain` is ignored: every cookie belongs to the one server.
/// * `SameSite` and `HttpOnly` change nothing: a test is not a cross-site page or a script. A test of the
///   CSRF check sends `Sec-Fetch-Site` or `Origin` itself.
///
/// A clone shares the cookies: give one jar to two clients to carry a login from one transport to another.
///
/// ```
/// use pikku_runtime::testing::{Cookie, CookieJar};
///
/// let jar = CookieJar::new();
/// jar.insert(Cookie::new("theme", "dark"));
/// assert_eq!(jar.value("theme").as_deref(), Some("dark"));
/// assert_eq!(jar.header_for("/any/path").as_deref(), Some("theme=dark"));
/// jar.remove("theme");
/// assert!(jar.is_empty());
/// ```
#[derive(Clone, Default)]
pub struct CookieJar {
    cookies: Arc<Mutex<Vec<Stored>>>,
}

/// One cookie in the jar, with what RFC 6265 keeps beside it.
#[derive(Debug, Clone)]
struct Stored {
    cookie: Cookie<'static>,
    /// The cookie's `Path`, or the default path of the request that set it.
    path: String,
    /// `None` for a session cookie, kept as long as the jar.
    expires: Option<OffsetDateTime>,
}

impl Stored {
    fn live(&self, now: OffsetDateTime) -> bool {
        self.expires.is_none_or(|expires| expires > now)
    }
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> =
            self.cookies().iter().map(|c| format!("{}; Path={}", c.name(), c.path().unwrap_or("/"))).collect();
        f.debug_struct("CookieJar").field("cookies", &names).finish()
    }
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Stored>> {
        // A test that panicked while holding the lock left whole cookies behind: the list is still usable.
        self.cookies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live cookies, longest path first, then in the order they were set. Each has its `Path` set to the
    /// path it is stored under.
    pub fn cookies(&self) -> Vec<Cookie<'static>> {
        let now = OffsetDateTime::now_utc();
        let mut cookies = self.lock();
        cookies.retain(|stored| stored.live(now));
        let mut live: Vec<&Stored> = cookies.iter().collect();
        live.sort_by_key(|stored| std::cmp::Reverse(stored.path.len()));
        live.into_iter()
            .map(|stored| {
                let mut cookie = stored.cookie.clone();
                cookie.set_path(stored.path.clone());
                cookie
            })
            .collect()
    }

    /// The live cookie named `name` (of the longest path, when several paths hold one).
    pub fn get(&self, name: &str) -> Option<Cookie<'static>> {
        self.cookies().into_iter().find(|cookie| cookie.name() == name)
    }

    /// The value of the live cookie named `name`.
    pub fn value(&self, name: &str) -> Option<String> {
        self.get(name).map(|cookie| cookie.value().to_owned())
    }

    /// Whether a live cookie named `name` is in the jar.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Whether the jar holds no live cookie.
    pub fn is_empty(&self) -> bool {
        self.cookies().is_empty()
    }

    /// Puts `cookie` in the jar as if a response had set it (on `/` unless it has a `Path`): to start a test
    /// with a cookie a client already has, or a forged one.
    pub fn insert(&self, cookie: Cookie<'static>) {
        self.store(cookie, "/", OffsetDateTime::now_utc());
    }

    /// Removes every cookie named `name`, whatever its path.
    pub fn remove(&self, name: &str) {
        self.lock().retain(|stored| stored.cookie.name() != name);
    }

    /// Empties the jar.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The `Cookie` header a request for `request_path` carries: the live cookies whose path matches it,
    /// longest path first; `None` when there are none.
    pub fn header_for(&self, request_path: &str) -> Option<String> {
        let now = OffsetDateTime::now_utc();
        let mut cookies = self.lock();
        cookies.retain(|stored| stored.live(now));
        let mut matching: Vec<&Stored> =
            cookies.iter().filter(|stored| path_matches(&stored.path, request_path)).collect();
        // Stable: cookies of one path length stay in the order they were set (RFC 6265 section 5.4).
        matching.sort_by_key(|stored| std::cmp::Reverse(stored.path.len()));
        let pairs: Vec<String> =
            matching.iter().map(|stored| format!("{}={}", stored.cookie.name(), stored.cookie.value())).collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// Stores every cookie `response` sets, as the answer to a request for `request_uri` (its path is the
    /// default path of a cookie without `Path`). A [`CookieClient`] calls it on every response; call it
    /// yourself to feed the jar from a response of another transport.
    ///
    /// # Panics
    /// When a `Set-Cookie` header is not a cookie: the server's mistake.
    pub fn store_from(&self, request_uri: &str, response: &TestResponse) {
        let now = OffsetDateTime::now_utc();
        let default_path = default_path(request_uri);
        for cookie in response.set_cookies() {
            self.store(cookie, &default_path, now);
        }
    }

    fn store(&self, cookie: Cookie<'static>, default_path: &str, now: OffsetDateTime) {
        let path = match cookie.path() {
            Some(path) if path.starts_with('/') => path.to_owned(),
            _ => default_path.to_owned(),
        };
        // Max-Age wins over Expires (RFC 6265 section 5.3, step 3); zero or less removes the cookie.
        let expires = match cookie.max_age() {
            Some(max_age) => Some(now.saturating_add(max_age)),
            None => cookie.expires_datetime(),
        };
        let mut cookies = self.lock();
        let position = cookies.iter().position(|stored| stored.cookie.name() == cookie.name() && stored.path == path);
        let stored = Stored { cookie, path, expires };
        match (position, stored.live(now)) {
            // Replacing in place keeps the first cookie's position, as a browser keeps its creation time.
            (Some(index), true) => cookies[index] = stored,
            (Some(index), false) => {
                cookies.remove(index);
            }
            (None, true) => cookies.push(stored),
            (None, false) => {}
        }
    }
}

/// RFC 6265 section 5.1.4: the path a cookie without `Path` gets, from the URI of the request that set it.
fn default_path(request_uri: &str) -> String {
    let path = request_uri.split(['?', '#']).next().unwrap_or("");
    // An absolute URI (`http://host/path`) keeps only its path.
    let path = match path.find("://") {
        Some(scheme_end) => path[scheme_end + 3..].find('/').map_or("", |start| &path[scheme_end + 3 + start..]),
        None => path,
    };
    if !path.starts_with('/') {
        return "/".into();
    }
    match path.rfind('/') {
        Some(0) | None => "/".into(),
        Some(last) => path[..last].to_owned(),
    }
}

/// RFC 6265 section 5.1.4: whether a cookie of `cookie_path` goes with a request for `request_path`.
fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    let request_path = request_path.split(['?', '#']).next().unwrap_or("");
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}

/// A client that keeps cookies: every request through it carries the [`CookieJar`]'s cookies for its path,
/// and every `Set-Cookie` of a response goes into the jar. Made by any transport's `with_cookies()`, so it
/// works in-process and over a socket alike; it has the same `get`, `post`, … as the transport.
///
/// ```
/// # async fn demo<Sv: Send + Sync + 'static, S: Clone + Send + Sync + 'static>(client: pikku_runtime::testing::TestClient<Sv, S>) {
/// let browser = client.with_cookies();
/// browser.post("/login").json(&serde_json::json!({"email": "a@example.com", "password": "pw"})).send().await;
/// assert!(browser.jar().contains("session"));
/// browser.get("/me").send().await.assert_status(200); // the session cookie goes with it
/// browser.post("/logout").send().await; // answers `Set-Cookie: session=; Max-Age=0`
/// assert!(!browser.jar().contains("session"));
/// # }
/// ```
///
/// A `Cookie` header the test sets on a request itself ([`TestRequest::cookie`](super::TestRequest::cookie))
/// is sent too, first, and a jar cookie of the same name is then left out.
pub struct CookieClient<'t, T: ?Sized> {
    transport: &'t T,
    jar: CookieJar,
}

impl<T: ?Sized> fmt::Debug for CookieClient<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieClient").field("jar", &self.jar).finish_non_exhaustive()
    }
}

impl<'t, T: Transport + Sync + ?Sized> CookieClient<'t, T> {
    /// A client of `transport` with an empty jar.
    pub fn new(transport: &'t T) -> Self {
        Self::with_jar(transport, CookieJar::new())
    }

    /// A client of `transport` using `jar`, which other clients may share.
    pub fn with_jar(transport: &'t T, jar: CookieJar) -> Self {
        Self { transport, jar }
    }

    /// The jar.
    pub fn jar(&self) -> &CookieJar {
        &self.jar
    }

    request_methods!(without_cookies);
}

impl<T: ?Sized> sealed::Sealed for CookieClient<'_, T> {}

impl<T: Transport + Sync + ?Sized> Transport for CookieClient<'_, T> {
    fn exchange(&self, mut request: http::Request<Bytes>) -> BoxFuture<'_, TestResponse> {
        let uri = request.uri().to_string();
        if let Some(from_jar) = self.jar.header_for(request.uri().path()) {
            let line =
                match request.headers().get(header::COOKIE).map(|v| v.to_str().expect("the Cookie header is text")) {
                    None => from_jar,
                    Some(own) => {
                        let own_names: Vec<&str> =
                            own.split(';').filter_map(|pair| pair.split('=').next()).map(str::trim).collect();
                        let rest: Vec<&str> = from_jar
                            .split("; ")
                            .filter(|pair| !own_names.contains(&pair.split('=').next().unwrap_or("")))
                            .collect();
                        if rest.is_empty() {
                            own.to_owned()
                        } else {
                            format!("{own}; {}", rest.join("; "))
                        }
                    }
                };
            let value = HeaderValue::from_str(&line).unwrap_or_else(|e| panic!("Cookie {line:?}: {e}"));
            request.headers_mut().insert(header::COOKIE, value);
        }
        Box::pin(async move {
            let response = self.transport.exchange(request).await;
            self.jar.store_from(&uri, &response);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, StatusCode};

    fn response(set_cookies: &[&str]) -> TestResponse {
        let mut headers = HeaderMap::new();
        for line in set_cookies {
            headers.append(header::SET_COOKIE, HeaderValue::from_str(line).unwrap());
        }
        TestResponse::new(StatusCode::OK, headers, Bytes::new())
    }

    #[test]
    fn the_default_path_is_the_directory_of_the_request_path() {
        assert_eq!(default_path("/login"), "/");
        assert_eq!(default_path("/"), "/");
        assert_eq!(default_path(""), "/");
        assert_eq!(default_path("/api/v1/login?next=/x"), "/api/v1");
        assert_eq!(default_path("http://127.0.0.1:3000/api/login"), "/api");
    }

    #[test]
    fn paths_match_on_segment_boundaries_only() {
        assert!(path_matches("/", "/anything"));
        assert!(path_matches("/api", "/api"));
        assert!(path_matches("/api", "/api/users"));
        assert!(path_matches("/api/", "/api/users"));
        assert!(!path_matches("/api", "/apis"));
        assert!(!path_matches("/api/users", "/api"));
        assert!(path_matches("/api", "/api?x=1"));
    }

    #[test]
    fn set_cookie_stores_replaces_and_removes_by_name_and_path() {
        let jar = CookieJar::new();
        jar.store_from("/login", &response(&["session=one; Path=/; HttpOnly; Secure", "theme=dark"]));
        assert_eq!(jar.value("session").as_deref(), Some("one"));
        assert_eq!(jar.get("theme").unwrap().path(), Some("/"), "the default path of /login");

        jar.store_from("/refresh", &response(&["session=two; Path=/"]));
        assert_eq!(jar.value("session").as_deref(), Some("two"));
        assert_eq!(jar.cookies().len(), 2, "replaced, not added");

        jar.store_from("/logout", &response(&["session=; Max-Age=0; Path=/"]));
        assert!(!jar.contains("session"));
        assert!(jar.contains("theme"));

        jar.store_from("/", &response(&["theme=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"]));
        assert!(jar.is_empty(), "an Expires in the past removes it: {jar:?}");
    }

    #[test]
    fn a_cookie_of_another_path_is_kept_beside_and_sent_only_under_its_path() {
        let jar = CookieJar::new();
        jar.store_from("/", &response(&["id=root; Path=/", "id=api; Path=/api"]));
        assert_eq!(jar.header_for("/api/users").as_deref(), Some("id=api; id=root"), "longest path first");
        assert_eq!(jar.header_for("/home").as_deref(), Some("id=root"));
        jar.store_from("/api/x", &response(&["id=; Path=/api; Max-Age=0"]));
        assert_eq!(jar.header_for("/api/users").as_deref(), Some("id=root"));
    }

    #[test]
    fn max_age_wins_over_expires_and_a_future_expiry_keeps_the_cookie() {
        let jar = CookieJar::new();
        jar.store_from("/", &response(&["a=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT"]));
        assert!(jar.contains("a"), "Max-Age=60 wins");
        jar.store_from("/", &response(&["b=2; Expires=Fri, 01 Jan 2100 00:00:00 GMT"]));
        assert!(jar.contains("b"));
        jar.store_from("/", &response(&["c=3; Max-Age=-1"]));
        assert!(!jar.contains("c"), "a negative Max-Age removes");
    }

    #[test]
    fn a_removal_of_a_cookie_the_jar_does_not_hold_stores_nothing() {
        let jar = CookieJar::new();
        jar.store_from("/", &response(&["gone=; Max-Age=0"]));
        assert!(jar.is_empty());
        assert_eq!(jar.header_for("/"), None);
    }

    #[test]
    fn clones_share_the_cookies() {
        let jar = CookieJar::new();
        let other = jar.clone();
        jar.insert(Cookie::new("a", "1"));
        assert_eq!(other.value("a").as_deref(), Some("1"));
        other.clear();
        assert!(jar.is_empty());
    }
}
