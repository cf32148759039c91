//! The session cookie: a JWT in an `HttpOnly`, `Secure`, `SameSite=Lax` cookie, re-issued on session
//! change, refreshed once past its refresh point (a sliding session), removed on logout.

use std::fmt::{self, Write as _};
use std::marker::PhantomData;
use std::time::Duration;

pub use ::cookie::SameSite;
use pikku_runtime::{header, HeaderMap, HeaderValue, PikkuError, Request, Response, SessionChange, SharedMiddleware};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::credential::{now_secs, verify, TokenMeta};
use crate::csrf::CsrfOptions;
use crate::revocation::revoke;
use crate::strategy::{strategy, AuthStrategy, Authenticated, Step};
use crate::AuthServices;

const NAME: &str = "auth_cookie";

/// The `Expires` of a removal cookie: the epoch, so every browser drops the cookie at once.
const EPOCH_HTTP_DATE: &str = "Thu, 01 Jan 1970 00:00:00 GMT";

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
/// * CSRF: see [`CsrfOptions`]; a cross-site unsafe request authenticated by the cookie gets 403.
///
/// # Panics
/// At construction, if the name is not a cookie name (RFC 6265 `token`), the path or domain contain `;` or
/// control characters, or `SameSite=None` is asked for without `Secure` (browsers drop such a cookie).
pub fn auth_cookie<Sv, S>(options: CookieOptions) -> SharedMiddleware<Sv, S>
where
    Sv: AuthServices,
    S: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    strategy(CookieStrategy::<S>::new(options))
}

impl<S> CookieStrategy<S> {
    fn new(options: CookieOptions) -> Self {
        let CookieOptions { name, expires_in, refresh_after, http_only, secure, same_site, path, domain, csrf } =
            options;
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
            "name={name}, expires_in={}, refresh_after={}",
            human_duration(expires_in),
            human_duration(refresh_after)
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
            attributes: attributes.into(),
            removal,
            describe,
            csrf,
            _session: PhantomData,
        }
    }

    /// `Set-Cookie` carrying `token`, with a fresh `Max-Age` and `Expires`.
    fn issue(&self, token: &str) -> Result<HeaderValue, PikkuError> {
        let expires = now_secs().saturating_add(i64::try_from(self.max_age).unwrap_or(i64::MAX));
        let mut value = String::with_capacity(self.name.len() + token.len() + self.attributes.len() + 64);
        value.push_str(&self.name);
        value.push('=');
        value.push_str(token);
        value.push_str(&self.attributes);
        let _ = write!(value, "; Max-Age={}; Expires=", self.max_age);
        write_http_date(&mut value, expires);
        HeaderValue::try_from(value).map_err(|_| PikkuError::internal("session cookie is not a valid header value"))
    }

    /// The value of this strategy's cookie, if the request carries it (the first one when repeated).
    ///
    /// A `Cookie` header is `name=value` pairs separated by `;` (RFC 6265 §4.2.1; a value may be quoted).
    /// Read directly rather than through `cookie::Cookie::split_parse`, which parses every cookie of the
    /// header in full: measured at about 3,000 instructions per request for a three-cookie header, ten
    /// times this.
    fn find<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|cookies| cookies.split(';'))
            .find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                (name.trim() == &*self.name).then(|| {
                    let value = value.trim();
                    value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value)
                })
            })
    }
}

/// What the cookie strategy keeps for the way back.
#[derive(Debug)]
pub(crate) enum CookieState<S> {
    /// The cookie was present but invalid: the response removes it.
    Invalid,
    /// The cookie authenticated the request.
    Valid {
        /// The verified token, to revoke its session on logout or re-login.
        meta: TokenMeta,
        /// The session, when the token is past its refresh point.
        refresh: Option<S>,
    },
}

/// What the response gets.
enum Write {
    Nothing,
    Remove,
    Issue(String),
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

    fn authenticate<'a>(
        &'a self,
        services: &'a Sv,
        request: &Request<S>,
    ) -> Step<'a, Result<Authenticated<S, CookieState<S>>, PikkuError>> {
        let Some(cookie) = self.find(request.headers()) else { return Step::Ready(Ok(Authenticated::none())) };
        if cookie.is_empty() {
            return Step::Ready(Ok(Authenticated::none()));
        }
        // Decided now (it reads the request), applied only if the cookie authenticates the request: an
        // invalid cookie is no session, and a request without a session is no CSRF risk.
        let csrf = self.csrf.check(request.method(), request.headers(), request.uri().authority().map(|a| a.as_str()));
        verify::<Sv, S>(services, NAME, cookie).map(move |verified| {
            let (session, meta) = match verified? {
                Ok(verified) => verified,
                Err(rejection) => {
                    rejection.log(NAME);
                    return Ok(Authenticated::absent(CookieState::Invalid));
                }
            };
            csrf?;
            let refresh = self.refresh_due(&meta).then(|| session.clone());
            Ok(Authenticated::session_with_state(session, CookieState::Valid { meta, refresh }))
        })
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
            Ok(None) => Step::Ready(Ok(())),
            Ok(Some(meta)) => Step::Wait(Box::pin(async move { revoke(services, NAME, &meta).await })),
        }
    }
}

impl<S: Serialize + Clone + Send + Sync + 'static> CookieStrategy<S> {
    /// Whether a valid cookie's token has lived past the refresh point. Without `iat` (possible in a
    /// foreign token), the age is inferred from the expiry.
    fn refresh_due(&self, meta: &TokenMeta) -> bool {
        let issued_at = meta.issued_at.unwrap_or_else(|| {
            meta.expires_at.saturating_sub(i64::try_from(self.expires_in.as_secs()).unwrap_or(i64::MAX))
        });
        let age = now_secs().saturating_sub(issued_at);
        u64::try_from(age).is_ok_and(|age| Duration::from_secs(age) >= self.refresh_after)
    }

    /// Writes the cookie the response calls for (issue, refresh, remove) and returns the session to
    /// revoke, if any. Synchronous: only the revocation may need the (possibly remote) store.
    fn write_back<Sv: AuthServices>(
        &self,
        services: &Sv,
        state: Option<CookieState<S>>,
        change: Option<&SessionChange<S>>,
        response: &mut Response,
    ) -> Result<Option<TokenMeta>, PikkuError> {
        let jwt = services.jwt();
        let mint_error =
            |e: crate::jwt::JwtError| PikkuError::internal(format!("could not mint the session cookie: {e}"));
        let (write, revoke_old) = match (change, state) {
            (Some(SessionChange::Set(session)), state) => {
                // A new session id on every change (login): session fixation is impossible.
                let token = jwt.encode(self.expires_in, session).map_err(mint_error)?;
                (Write::Issue(token), valid_meta(state))
            }
            (Some(SessionChange::Cleared), state) => (Write::Remove, valid_meta(state)),
            (None, Some(CookieState::Invalid)) => (Write::Remove, None),
            (None, Some(CookieState::Valid { meta, refresh: Some(session) })) if response.status().is_success() => {
                let token = match meta.session_id() {
                    Some(sid) => jwt.encode_for_session(self.expires_in, &session, sid),
                    // A token without `jti` (minted by a Pikku TypeScript service) has no session id to keep.
                    None => jwt.encode(self.expires_in, &session),
                };
                (Write::Issue(token.map_err(mint_error)?), None)
            }
            (None, _) => (Write::Nothing, None),
        };
        let value = match write {
            Write::Nothing => return Ok(revoke_old),
            Write::Remove => self.removal.clone(),
            Write::Issue(token) => self.issue(&token)?,
        };
        response.headers_mut().append(header::SET_COOKIE, value);
        Ok(revoke_old)
    }
}

fn valid_meta<S>(state: Option<CookieState<S>>) -> Option<TokenMeta> {
    match state {
        Some(CookieState::Valid { meta, .. }) => Some(meta),
        _ => None,
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
