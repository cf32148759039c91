//! Cross-site request forgery protection for cookie sessions.
//!
//! A browser attaches the session cookie to requests that other sites trigger. `SameSite=Lax` already
//! keeps it off cross-site subresource and `POST` requests in current browsers (RFC 6265bis §8.8), but
//! not on older ones, nor between sibling sites, so unsafe methods are also checked against the headers
//! browsers set and pages cannot forge: `Sec-Fetch-Site` (Fetch Metadata) and `Origin` (OWASP CSRF
//! Prevention Cheat Sheet, "Fetch Metadata headers" and "Verifying Origin with standard headers").
//! Requests without either header come from non-browser clients, which carry no ambient cookie risk, and
//! pass. A front-end on another site is marked cross-site by the browser; its origin passes when the
//! application names it: on the allow-list here, or in its CORS configuration with credentials.

use pikku_runtime::{header, HeaderMap, Method, PikkuError};

/// CSRF settings of [`auth_cookie`](crate::auth_cookie). On by default, with no extra allowed origin.
///
/// ```
/// use pikku_auth::CsrfOptions;
///
/// let csrf = CsrfOptions::default().allow_origin("https://app.example");
/// let off = CsrfOptions::disabled(); // only for an API that no browser reaches
/// ```
#[derive(Debug, Clone)]
pub struct CsrfOptions {
    enabled: bool,
    /// Allowed origins as (scheme, host[:port]), lower-case, default port removed.
    allowed: Vec<(Box<str>, Box<str>)>,
}

impl Default for CsrfOptions {
    /// Enabled; the request's own origin (its `Host`) is the only one allowed.
    fn default() -> Self {
        Self { enabled: true, allowed: Vec::new() }
    }
}

impl CsrfOptions {
    /// No CSRF check at all. By default the check is on.
    pub fn disabled() -> Self {
        Self { enabled: false, allowed: Vec::new() }
    }

    /// Also accepts unsafe requests whose `Origin` is `origin` (`scheme://host[:port]`, compared
    /// case-insensitively, a default port ignored), for a front-end served from another origin, even when the
    /// browser marks them `Sec-Fetch-Site: cross-site`. By default no other origin is allowed, except those
    /// the application's CORS configuration lists with credentials (`CorsOptions::origins` with
    /// `credentials(true)`), which need not be repeated here.
    ///
    /// # Panics
    /// If `origin` is not of the form `scheme://host[:port]` (a configuration mistake, caught at start-up).
    #[must_use]
    pub fn allow_origin(mut self, origin: impl AsRef<str>) -> Self {
        let origin = origin.as_ref().trim_end_matches('/');
        let (scheme, authority) = split_origin(origin)
            .unwrap_or_else(|| panic!("CsrfOptions::allow_origin: {origin:?} is not scheme://host[:port]"));
        self.allowed.push((scheme.to_ascii_lowercase().into(), authority.to_ascii_lowercase().into()));
        self
    }

    /// For `describe`.
    pub(crate) fn describe(&self) -> String {
        match (self.enabled, self.allowed.len()) {
            (false, _) => "csrf=off".to_owned(),
            (true, 0) => "csrf=on".to_owned(),
            (true, _) => {
                let origins: Vec<String> = self.allowed.iter().map(|(s, a)| format!("{s}://{a}")).collect();
                format!("csrf=on (allow {})", origins.join(" "))
            }
        }
    }

    /// Refuses a cookie-authenticated unsafe request that the browser marks cross-site, unless its `Origin`
    /// is one the application allows: this allow-list, or (`origin_listed_by_cors`, see
    /// `Request::origin_listed_for_credentials`) an origin its CORS configuration lists with credentials.
    ///
    /// # Errors
    /// 403 `ForbiddenError`.
    /// Whether requests of `method` are checked (and so may be refused with 403).
    pub(crate) fn applies_to(&self, method: &Method) -> bool {
        self.enabled && !is_safe(method)
    }

    pub(crate) fn check(
        &self,
        method: &Method,
        headers: &HeaderMap,
        uri_authority: Option<&str>,
        origin_listed_by_cors: bool,
    ) -> Result<(), PikkuError> {
        if !self.applies_to(method) {
            return Ok(());
        }
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).or(uri_authority);
        let mut origins = 0_usize;
        let mut foreign_origin = false;
        // Every `Origin` is one the application allows by name: a cross-site mark is then expected.
        let mut all_allowed = true;
        for origin in headers.get_all(header::ORIGIN) {
            origins += 1;
            match self.origin_standing(origin.as_bytes(), host) {
                Standing::Allowed => {}
                Standing::SameOrigin => all_allowed = false,
                Standing::Foreign if origin_listed_by_cors => {}
                Standing::Foreign => {
                    foreign_origin = true;
                    all_allowed = false;
                }
            }
        }
        let allowed_origin = origins > 0 && all_allowed;
        // A browser sends each of these once; repeated, any one that marks the request cross-site counts, so
        // no benign first copy can hide it.
        let cross_site_fetch =
            headers.get_all("sec-fetch-site").iter().any(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
        if foreign_origin || (cross_site_fetch && !allowed_origin) {
            tracing::debug!(strategy = "auth_cookie", reason = "cross-site request", "request refused (CSRF)");
            return Err(PikkuError::forbidden("Cross-site request refused"));
        }
        Ok(())
    }

    fn origin_standing(&self, origin: &[u8], host: Option<&str>) -> Standing {
        // `Origin: null` (sandboxed frames, some redirects, file: pages) names no site at all.
        let Some((scheme, authority)) = std::str::from_utf8(origin).ok().and_then(split_origin) else {
            return Standing::Foreign;
        };
        if self.allowed.iter().any(|(s, a)| s.eq_ignore_ascii_case(scheme) && a.eq_ignore_ascii_case(authority)) {
            return Standing::Allowed;
        }
        // Same origin: the page's host[:port] is the one the request was sent to. The scheme is not
        // compared: behind a TLS-terminating proxy the server cannot know its public scheme.
        if host.is_some_and(|host| without_default_port(scheme, host).eq_ignore_ascii_case(authority)) {
            Standing::SameOrigin
        } else {
            Standing::Foreign
        }
    }
}

/// What the CSRF check makes of one `Origin`.
enum Standing {
    /// On the allow-list: a page of another site the application trusts.
    Allowed,
    /// The request's own origin. A browser never marks such a request cross-site, so a request that says both
    /// is refused.
    SameOrigin,
    /// Any other origin (or `null`).
    Foreign,
}

/// Safe methods (RFC 9110 §9.2.1) change nothing, so a forged one does no harm.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

/// `scheme://host[:port]` into its scheme and its authority without a default port.
fn split_origin(origin: &str) -> Option<(&str, &str)> {
    let (scheme, authority) = origin.split_once("://")?;
    let valid = !scheme.is_empty()
        && !authority.is_empty()
        && !authority.bytes().any(|b| matches!(b, b'/' | b'?' | b'#' | b'@') || !b.is_ascii_graphic());
    valid.then(|| (scheme, without_default_port(scheme, authority)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::headers;

    fn check(csrf: &CsrfOptions, method: Method, pairs: &[(&str, &str)]) -> bool {
        csrf.check(&method, &headers(pairs), None, false).is_ok()
    }

    fn check_listed_by_cors(csrf: &CsrfOptions, pairs: &[(&str, &str)]) -> bool {
        csrf.check(&Method::POST, &headers(pairs), None, true).is_ok()
    }

    #[test]
    fn cross_site_fetch_metadata_or_foreign_origin_is_refused_for_unsafe_methods() {
        let csrf = CsrfOptions::default();
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(!check(&csrf, method.clone(), &[("sec-fetch-site", "cross-site")]));
            assert!(!check(&csrf, method.clone(), &[("host", "api.example"), ("origin", "https://evil.example")]));
            assert!(!check(&csrf, method, &[("host", "api.example"), ("origin", "null")]));
        }
        assert!(check(&csrf, Method::GET, &[("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")]));
    }

    #[test]
    fn same_origin_allowed_origin_and_headerless_requests_pass() {
        let csrf = CsrfOptions::default().allow_origin("https://App.Example/");
        assert!(check(&csrf, Method::POST, &[]));
        assert!(check(
            &csrf,
            Method::POST,
            &[("sec-fetch-site", "same-origin"), ("host", "api.example:8443"), ("origin", "https://api.example:8443")]
        ));
        assert!(check(&csrf, Method::POST, &[("host", "api.example"), ("origin", "https://api.example:443")]));
        assert!(check(&csrf, Method::POST, &[("host", "api.example"), ("origin", "https://app.example")]));
        assert!(!check(&csrf, Method::POST, &[("host", "api.example"), ("origin", "http://app.example")]));
        assert!(!check(&csrf, Method::POST, &[("host", "api.example"), ("origin", "https://api.example.evil")]));
    }

    /// Predicted by the `pipeline` fuzz target's CSRF rule (any `Sec-Fetch-Site: cross-site`, any foreign
    /// `Origin`): only the first of repeated headers was read.
    #[test]
    fn a_cross_site_mark_in_any_of_repeated_headers_is_refused() {
        let csrf = CsrfOptions::default();
        assert!(!check(&csrf, Method::POST, &[("sec-fetch-site", "same-origin"), ("sec-fetch-site", "cross-site")]));
        let own_then_foreign =
            [("host", "api.example"), ("origin", "https://api.example"), ("origin", "https://evil.example")];
        assert!(!check(&csrf, Method::POST, &own_then_foreign));
        let twice_own = [("host", "api.example"), ("origin", "https://api.example"), ("origin", "https://api.example")];
        assert!(check(&csrf, Method::POST, &twice_own));
    }

    /// A page on an allowed origin of another site is marked cross-site by the browser: that is what the
    /// allow-list is for.
    #[test]
    fn an_allowed_origin_passes_although_marked_cross_site() {
        let csrf = CsrfOptions::default().allow_origin("https://app.example");
        let allowed = [("host", "api.example"), ("origin", "https://app.example"), ("sec-fetch-site", "cross-site")];
        assert!(check(&csrf, Method::POST, &allowed));
        // The mark still counts without an Origin, with another origin, and with the request's own origin
        // (no browser sends that pair).
        assert!(!check(&csrf, Method::POST, &[("host", "api.example"), ("sec-fetch-site", "cross-site")]));
        let own = [("host", "api.example"), ("origin", "https://api.example"), ("sec-fetch-site", "cross-site")];
        assert!(!check(&csrf, Method::POST, &own));
        let both = [
            ("host", "api.example"),
            ("origin", "https://app.example"),
            ("origin", "https://api.example"),
            ("sec-fetch-site", "cross-site"),
        ];
        assert!(!check(&csrf, Method::POST, &both));
    }

    #[test]
    fn an_origin_listed_by_cors_with_credentials_passes() {
        let csrf = CsrfOptions::default();
        let from_app = [("host", "api.example"), ("origin", "https://app.example"), ("sec-fetch-site", "cross-site")];
        assert!(!check(&csrf, Method::POST, &from_app), "not without CORS's word");
        assert!(check_listed_by_cors(&csrf, &from_app));
        // CORS's word is about an Origin: without one, a cross-site mark is still refused.
        assert!(!check_listed_by_cors(&csrf, &[("host", "api.example"), ("sec-fetch-site", "cross-site")]));
    }

    #[test]
    fn disabled_csrf_checks_nothing() {
        assert!(check(&CsrfOptions::disabled(), Method::POST, &[("sec-fetch-site", "cross-site")]));
    }
}
