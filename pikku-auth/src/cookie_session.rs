//! The session cookie: a JWT in an `HttpOnly`, `Secure`, `SameSite=Lax` cookie, re-issued on session
//! change, refreshed once past its refresh point (a sliding session), removed on logout.

use std::fmt::{self, Write as _};
use std::marker::PhantomData;
use std::time::Duration;

pub use ::cookie::SameSite;
use pikku_runtime::{header, HeaderMap, HeaderValue, PikkuError, Request, Response, SessionChange, SharedMiddleware};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::credential::{check_revocation, decode, now_secs, verify, TokenMeta};
use crate::csrf::CsrfOptions;
use crate::revocation::revoke;
use crate::strategy::{strategy, AuthStrategy, Authenticated, Step};
use crate::AuthServices;
use pikku_runtime::openapi::{ApiKeyLocation, SecuritySchemeDoc};

const NAME: &str = "auth_cookie";

/// The `Expires` of a removal cookie: the epoch, so every browser drops the cookie at once.
const EPOCH_HTTP_DATE: &str = "Thu, 01 Jan 1970 00:00:00 GMT";

/// Default absolute lifetime of a session: 90 days from the login, however active the user.
pub const DEFAULT_ABSOLUTE_LIFETIME: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// Options of [`auth_cookie`]. Every attribute has the secure default; an option overrides it.
///
/// ```
/// use std::time::Duration;
/// use pikku_auth::{CookieOptions, CsrfOptions, SameSite};
///
/// const THIRTY_DAYS: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// let options = CookieOptions::new("session", THIRTY_DAYS)
///     .same_site(SameSite::Strict)
///     .csrf(CsrfOptions::default().allow_origin("https://app.example"));
/// ```
#[derive(Debug, Clone)]
pub struct CookieOptions {
    name: String,
    expires_in: Duration,
    refresh_after: Option<Duration>,
    absolute_lifetime: Duration,
    http_only: bool,
    secure: bool,
    same_site: SameSite,
    path: String,
    domain: Option<String>,
    csrf: CsrfOptions,
}

impl CookieOptions {
    /// A cookie called `name` whose token (and `Max-Age`) lives `expires_in`.
    pub fn new(name: impl Into<String>, expires_in: Duration) -> Self {
        Self {
            name: name.into(),
            expires_in,
            refresh_after: None,
            absolute_lifetime: DEFAULT_ABSOLUTE_LIFETIME,
            http_only: true,
            secure: true,
            same_site: SameSite::Lax,
            path: "/".to_owned(),
            domain: None,
            csrf: CsrfOptions::default(),
        }
    }

    /// Age of the token after which a successful response re-issues it with a fresh lifetime (a sliding
    /// session that keeps its session id). By default, half of `expires_in`: an active user is never
    /// logged out, an idle one is after `expires_in`, and at most one refresh happens per half-lifetime.
    #[must_use]
    pub fn refresh_after(mut self, after: Duration) -> Self {
        self.refresh_after = Some(after);
        self
    }

    /// The longest a session lasts from its login, however often it is refreshed. By default
    /// [`DEFAULT_ABSOLUTE_LIFETIME`] (90 days): a stolen cookie kept alive by a thief's requests dies anyway,
    /// and the user logs in again (OWASP Session Management Cheat Sheet, "Absolute Timeout"). The login time
    /// travels in the token (`auth_time`, or `iat` of the first token); a token without `iat` is never
    /// refreshed.
    #[must_use]
    pub fn absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.absolute_lifetime = lifetime;
        self
    }

    /// The `HttpOnly` attribute. By default set: page scripts (and so an XSS) cannot read the session
    /// (OWASP Session Management Cheat Sheet, "HttpOnly Attribute").
    #[must_use]
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }

    /// The `Secure` attribute. By default set: the cookie never travels over plain HTTP (RFC 6265bis
    /// §4.1.2.5). Browsers treat `localhost` as secure, so development over `http://localhost` works.
    #[must_use]
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The `SameSite` attribute. By default `Lax`: the cookie is not sent on cross-site subrequests or
    /// cross-site `POST`s (CSRF), but is sent when a user follows a link to the site, so arriving from an
    /// e-mail or another site does not look logged out, as it would with `Strict` (RFC 6265bis §8.8.2).
    /// `None` requires `Secure`.
    #[must_use]
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// The `Path` attribute. By default `/`: the session covers the whole site.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The `Domain` attribute. By default none: a host-only cookie, not shared with subdomains (the
    /// narrowest scope, RFC 6265bis §4.1.2.3).
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// CSRF protection for cookie-authenticated unsafe requests. By default on ([`CsrfOptions::default`]).
    #[must_use]
    pub fn csrf(mut self, csrf: CsrfOptions) -> Self {
        self.csrf = csrf;
        self
    }
}

/// The cookie strategy; build it with [`auth_cookie`]. Header values are prepared at construction.
pub(crate) struct CookieStrategy<S> {
    name: Box<str>,
    expires_in: Duration,
    /// `Max-Age`, whole seconds (rounded up like the token's `exp`).
    max_age: u64,
    refresh_after: Duration,
    /// Whole seconds.
    absolute_lifetime: i64,
    /// `; HttpOnly; Secure; SameSite=Lax; Path=/[; Domain=d]`.
    attributes: Box<str>,
    /// `name=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT<attributes>`.
    removal: HeaderValue,
    describe: String,
    csrf: CsrfOptions,
    _session: PhantomData<fn() -> S>,
}

impl<S> fmt::Debug for CookieStrategy<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieStrategy").field("config", &self.describe).finish_non_exhaustive()
    }
}

/// Session cookies: `Cookie: <name>=<jwt>`, verified by `services.jwt()` and, with a store, checked for
/// revocation.
///
/// * A valid cookie establishes the session.
/// * An invalid, expired, tampered or revoked cookie is treated as absent (never a 500, never in the way
///   of an `auth = false` function such as login) and the response removes it, whatever its status.
/// * On a successful response, after `set_session(s)`: a token for a **new** session id is issued in
///   `Set-Cookie: name=<jwt>; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=<s>; Expires=<date>`.
///   Cycling the id on login (and on any change) defeats session fixation (OWASP Session Management Cheat
///   Sheet, "Renew the Session ID After Any Privilege Level Change"); with a store, the session the cookie
///   arrived with is revoked.
/// * After `clear_session()`: the cookie is removed (`name=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00
///   GMT` with the same attributes) and, with a store, the cookie's session is revoked.
/// * Otherwise, once the cookie's token is older than `refresh_after`, a successful response re-issues it
///   with a fresh lifetime and the same session id, so a later logout revokes the refreshed token too.
/// * CSRF: see [`CsrfOptions`]; a cross-site unsafe request authenticated by the cookie gets 403, unless its
///   `Origin` is on the CSRF allow-list or listed by the application's CORS configuration with credentials.
///
/// * Several cookies of the name in one `Cookie` header (a stale one set for another path or a parent
///   domain, or one planted by a sibling subdomain): the first that verifies is used, and a bad one beside it
///   is not answered with a removal (which would delete the good one). Bytes that are not ASCII elsewhere in
///   the header do not stop the cookie being found.
/// * Every response that writes or removes the cookie carries `Cache-Control: no-store`.
///
/// # Panics
/// At construction, if the name is not a cookie name (RFC 6265 `token`), the path or domain contain `;` or
/// control characters, `SameSite=None` is asked for without `Secure` (browsers drop such a cookie), or the
/// name's prefix is broken by the options: `__Host-` requires `Secure`, `Path=/` and no `Domain`, and
/// `__Secure-` requires `Secure` (RFC 6265bis §4.1.3; browsers refuse such a cookie).
pub fn auth_cookie<Sv, S>(options: CookieOptions) -> SharedMiddleware<Sv, S>
where
    Sv: AuthServices,
    S: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    strategy(CookieStrategy::<S>::new(options))
}

impl<S> CookieStrategy<S> {
    fn new(options: CookieOptions) -> Self {
        let CookieOptions {
            name,
            expires_in,
            refresh_after,
            absolute_lifetime,
            http_only,
            secure,
            same_site,
            path,
            domain,
            csrf,
        } = options;
        let name_ok =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
        assert!(name_ok, "auth_cookie: {name:?} is not a valid cookie name");
        let attribute_ok = |v: &str| v.bytes().all(|b| (b.is_ascii_graphic() || b == b' ') && b != b';');
        assert!(attribute_ok(&path), "auth_cookie: invalid Path {path:?}");
        if let Some(domain) = &domain {
            assert!(!domain.is_empty() && attribute_ok(domain), "auth_cookie: invalid Domain {domain:?}");
        }
        assert!(
            secure || same_site != SameSite::None,
            "auth_cookie: SameSite=None requires Secure (RFC 6265bis §4.1.2.7); browsers drop the cookie otherwise"
        );
        // Browsers match the prefixes case-insensitively (RFC 6265bis §5.7, step 21).
        let prefix = |p: &str| name.get(..p.len()).is_some_and(|n| n.eq_ignore_ascii_case(p));
        if prefix("__Host-") {
            assert!(
                secure && path == "/" && domain.is_none(),
                "auth_cookie: a `__Host-` cookie requires Secure, Path=/ and no Domain (RFC 6265bis §4.1.3.2); \
                 browsers refuse it otherwise"
            );
        }
        if prefix("__Secure-") {
            assert!(secure, "auth_cookie: a `__Secure-` cookie requires Secure (RFC 6265bis §4.1.3.1)");
        }

        let mut attributes = String::new();
        if http_only {
            attributes.push_str("; HttpOnly");
        }
        if secure {
            attributes.push_str("; Secure");
        }
        let _ = write!(attributes, "; SameSite={same_site}; Path={path}");
        if let Some(domain) = &domain {
            let _ = write!(attributes, "; Domain={domain}");
        }
        let removal = format!("{name}=; Max-Age=0; Expires={EPOCH_HTTP_DATE}{attributes}");
        let removal = HeaderValue::try_from(removal).expect("validated cookie attributes form a header value");

        let refresh_after = refresh_after.unwrap_or(expires_in / 2);
        let mut describe = format!(
            "name={name}, expires_in={}, refresh_after={}, absolute_lifetime={}",
            human_duration(expires_in),
            human_duration(refresh_after),
            human_duration(absolute_lifetime)
        );
        if http_only {
            describe.push_str(", HttpOnly");
        }
        if secure {
            describe.push_str(", Secure");
        }
        let _ = write!(describe, ", SameSite={same_site}, Path={path}");
        if let Some(domain) = &domain {
            let _ = write!(describe, ", Domain={domain}");
        }
        let _ = write!(describe, ", {}", csrf.describe());

        Self {
            name: name.into(),
            expires_in,
            max_age: expires_in.as_secs() + u64::from(expires_in.subsec_nanos() > 0),
            refresh_after,
            absolute_lifetime: i64::try_from(absolute_lifetime.as_secs()).unwrap_or(i64::MAX),
            attributes: attributes.into(),
            removal,
            describe,
            csrf,
            _session: PhantomData,
        }
    }

    /// `Set-Cookie` carrying `token`, with `Max-Age` and `Expires` `max_age` seconds from now.
    fn issue(&self, token: &str, max_age: u64) -> Result<HeaderValue, PikkuError> {
        let expires = now_secs().saturating_add(i64::try_from(max_age).unwrap_or(i64::MAX));
        let mut value = String::with_capacity(self.name.len() + token.len() + self.attributes.len() + 64);
        value.push_str(&self.name);
        value.push('=');
        value.push_str(token);
        value.push_str(&self.attributes);
        let _ = write!(value, "; Max-Age={max_age}; Expires=");
        write_http_date(&mut value, expires);
        HeaderValue::try_from(value).map_err(|_| PikkuError::internal("session cookie is not a valid header value"))
    }

    /// The values of this strategy's cookie in the request, in order (a name may repeat).
    ///
    /// A `Cookie` header is `name=value` pairs separated by `;` (RFC 6265 §4.2.1; a value may be quoted).
    /// Read as bytes, so a byte that is not ASCII in another cookie does not hide this one (browsers send
    /// what servers set, UTF-8 included); a value of ours that is not UTF-8 cannot be a token and is skipped.
    /// Read directly rather than through `cookie::Cookie::split_parse`, which parses every cookie of the
    /// header in full: measured at about 3,000 instructions per request for a three-cookie header, ten
    /// times this.
    fn candidates<'a>(&'a self, headers: &'a HeaderMap) -> impl Iterator<Item = &'a str> + 'a {
        let name = self.name.as_bytes();
        headers.get_all(header::COOKIE).iter().flat_map(|value| value.as_bytes().split(|&b| b == b';')).filter_map(
            move |pair| {
                let eq = pair.iter().position(|&b| b == b'=')?;
                if pair[..eq].trim_ascii() != name {
                    return None;
                }
                let value = pair[eq + 1..].trim_ascii();
                let value = value.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")).unwrap_or(value);
                std::str::from_utf8(value).ok().filter(|v| !v.is_empty())
            },
        )
    }
}

/// What the cookie strategy keeps for the way back.
#[derive(Debug)]
pub(crate) enum CookieState<S> {
    /// The cookie was present but none of its values verified: the response removes it.
    Invalid,
    /// The cookie authenticated the request.
    Valid {
        /// The verified token, to revoke its session on logout or re-login.
        meta: TokenMeta,
        /// The session, when the token is past its refresh point.
        refresh: Option<S>,
    },
    /// Another strategy authenticated the request, which carries the cookie as well: its values, verified
    /// (and their sessions revoked) only if the function logs out or in.
    Alongside(Vec<Box<str>>),
}

/// What the response gets.
enum Write {
    Nothing,
    Remove,
    Issue { token: String, max_age: u64 },
}

impl<Sv, S> AuthStrategy<Sv, S> for CookieStrategy<S>
where
    Sv: AuthServices,
    S: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    type State = CookieState<S>;

    fn name(&self) -> &str {
        NAME
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn openapi_schemes(&self) -> Vec<(String, SecuritySchemeDoc)> {
        let scheme = SecuritySchemeDoc::ApiKey { location: ApiKeyLocation::Cookie, name: self.name.to_string() };
        vec![("cookieAuth".to_owned(), scheme)]
    }

    fn openapi_statuses(&self, method: &pikku_runtime::Method) -> Vec<u16> {
        // 403: the CSRF check of a cookie-authenticated unsafe request.
        if self.csrf.applies_to(method) {
            vec![401, 403]
        } else {
            vec![401]
        }
    }

    fn authenticate<'a>(
        &'a self,
        services: &'a Sv,
        request: &Request<S>,
    ) -> Step<'a, Result<Authenticated<S, CookieState<S>>, PikkuError>> {
        let mut candidates = self.candidates(request.headers());
        let Some(first) = candidates.next() else { return Step::Ready(Ok(Authenticated::none())) };
        // Decided now (it reads the request), applied only if the cookie authenticates the request: an
        // invalid cookie is no session, and a request without a session is no CSRF risk.
        let csrf = self.csrf.check(
            request.method(),
            request.headers(),
            request.uri().authority().map(|a| a.as_str()),
            request.origin_listed_for_credentials(),
        );
        let accept = move |(session, meta): (S, TokenMeta)| {
            csrf?;
            let refresh = self.refresh_due(&meta).then(|| session.clone());
            Ok(Authenticated::session_with_state(session, CookieState::Valid { meta, refresh }))
        };
        // The first value that verifies wins; one cookie (the usual case) allocates nothing here.
        let mut pending = Some(first);
        loop {
            let Some(token) = pending.take().or_else(|| candidates.next()) else {
                return Step::Ready(Ok(Authenticated::absent(CookieState::Invalid)));
            };
            let (session, meta) = match decode::<Sv, S>(services, token) {
                Ok(decoded) => decoded,
                Err(rejection) => {
                    rejection.log(NAME);
                    continue;
                }
            };
            match check_revocation(services, NAME, session, meta) {
                Step::Ready(Err(store_failed)) => return Step::Ready(Err(store_failed)),
                Step::Ready(Ok(Ok(verified))) => return Step::Ready(accept(verified)),
                Step::Ready(Ok(Err(rejection))) => rejection.log(NAME),
                Step::Wait(answer) => {
                    // A remote store: the rest of the values must outlive the request's borrow.
                    let rest: Vec<String> = candidates.map(str::to_owned).collect();
                    return Step::Wait(Box::pin(async move {
                        match answer.await? {
                            Ok(verified) => return accept(verified),
                            Err(rejection) => rejection.log(NAME),
                        }
                        for token in rest {
                            match verify::<Sv, S>(services, NAME, &token).await? {
                                Ok(verified) => return accept(verified),
                                Err(rejection) => rejection.log(NAME),
                            }
                        }
                        Ok(Authenticated::absent(CookieState::Invalid))
                    }));
                }
            }
        }
    }

    fn alongside(&self, _services: &Sv, request: &Request<S>) -> Option<CookieState<S>> {
        let values: Vec<Box<str>> = self.candidates(request.headers()).map(Box::from).collect();
        (!values.is_empty()).then_some(CookieState::Alongside(values))
    }

    fn respond<'a>(
        &'a self,
        services: &'a Sv,
        state: Option<CookieState<S>>,
        change: Option<&SessionChange<S>>,
        response: &mut Response,
    ) -> Step<'a, Result<(), PikkuError>> {
        match self.write_back(services, state, change, response) {
            Err(e) => Step::Ready(Err(e)),
            Ok(to_revoke) if to_revoke.is_empty() => Step::Ready(Ok(())),
            Ok(to_revoke) => Step::Wait(Box::pin(async move {
                for meta in &to_revoke {
                    revoke(services, NAME, meta).await?;
                }
                Ok(())
            })),
        }
    }
}

impl<S: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> CookieStrategy<S> {
    /// Whether a valid cookie's token has lived past the refresh point, and its session may still be
    /// extended: a token without `iat` (possible in a foreign token) is never refreshed, nor one whose
    /// session has reached its absolute lifetime.
    fn refresh_due(&self, meta: &TokenMeta) -> bool {
        let (Some(issued_at), Some(auth_time)) = (meta.issued_at, meta.auth_time) else { return false };
        let now = now_secs();
        let age = now.saturating_sub(issued_at);
        u64::try_from(age).is_ok_and(|age| Duration::from_secs(age) >= self.refresh_after)
            && now < auth_time.saturating_add(self.absolute_lifetime)
    }

    /// Writes the cookie the response calls for (issue, refresh, remove) and returns the sessions to
    /// revoke. Synchronous: only the revocation may need the (possibly remote) store.
    fn write_back<Sv: AuthServices>(
        &self,
        services: &Sv,
        state: Option<CookieState<S>>,
        change: Option<&SessionChange<S>>,
        response: &mut Response,
    ) -> Result<Vec<TokenMeta>, PikkuError> {
        let jwt = services.jwt();
        let mint_error =
            |e: crate::jwt::JwtError| PikkuError::internal(format!("could not mint the session cookie: {e}"));
        let (write, revoke_old) = match (change, state) {
            (Some(SessionChange::Set { session, id }), state) => {
                // The id `set_session` chose: new on every change (login), so session fixation is impossible,
                // and shared with the bearer token the function may mint for it.
                let token = jwt.encode_for_session(self.expires_in, session, id).map_err(mint_error)?;
                (Write::Issue { token, max_age: self.max_age }, presented::<Sv, S>(services, state))
            }
            (Some(SessionChange::Cleared), state) => (Write::Remove, presented::<Sv, S>(services, state)),
            (None, Some(CookieState::Invalid)) => (Write::Remove, Vec::new()),
            (None, Some(CookieState::Valid { meta, refresh: Some(session) })) if response.status().is_success() => {
                // `refresh_due` saw both.
                let auth_time = meta.auth_time.unwrap_or(meta.expires_at);
                let not_after = auth_time.saturating_add(self.absolute_lifetime);
                let token = jwt
                    .refresh(self.expires_in, &session, meta.session_id(), auth_time, not_after)
                    .map_err(mint_error)?;
                let left = u64::try_from(not_after.saturating_sub(now_secs())).unwrap_or(0);
                (Write::Issue { token, max_age: self.max_age.min(left) }, Vec::new())
            }
            (None, _) => (Write::Nothing, Vec::new()),
        };
        let value = match write {
            Write::Nothing => return Ok(revoke_old),
            Write::Remove => self.removal.clone(),
            Write::Issue { token, max_age } => self.issue(&token, max_age)?,
        };
        let headers = response.headers_mut();
        headers.append(header::SET_COOKIE, value);
        // A response that carries a session must not be kept by a shared cache (OWASP Session Management
        // Cheat Sheet, "Web Content Caching").
        headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
        Ok(revoke_old)
    }
}

/// The sessions of the cookie values the request presented: the one that authenticated it, or, when
/// another strategy did, every value that verifies (revocation needs no store check: revoking a revoked
/// session again is harmless).
fn presented<Sv: AuthServices, S: DeserializeOwned>(services: &Sv, state: Option<CookieState<S>>) -> Vec<TokenMeta> {
    match state {
        Some(CookieState::Valid { meta, .. }) => vec![meta],
        Some(CookieState::Alongside(values)) => values
            .iter()
            .filter_map(|token| match decode::<Sv, S>(services, token) {
                Ok((_, meta)) => Some(meta),
                Err(rejection) => {
                    rejection.log(NAME);
                    None
                }
            })
            .collect(),
        Some(CookieState::Invalid) | None => Vec::new(),
    }
}

/// `30d`, `12h`, `15m` or `90s`: the largest unit that divides the duration.
fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => "0s".to_owned(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Appends an IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
fn write_http_date(out: &mut String, epoch_secs: i64) {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    // Beyond year 9999 an HTTP date cannot be written; the cookie expires then at the latest anyway.
    const MAX_HTTP_DATE: i64 = 253_402_300_799;
    let t = time::OffsetDateTime::from_unix_timestamp(epoch_secs.clamp(0, MAX_HTTP_DATE))
        .expect("clamped to the representable range");
    let _ = write!(
        out,
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[usize::from(t.weekday().number_days_from_monday())],
        t.day(),
        MONTHS[usize::from(u8::from(t.month()) - 1)],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    );
}

#[cfg(test)]
mod tests;
