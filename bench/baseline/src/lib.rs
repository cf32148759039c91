//! What a careful author writes by hand for the demo's `GET /health` and `GET /me` (bearer or cookie):
//! HS256 pinned, `exp` required, a revocation check, the same JSON. No framework: the benchmarks
//! measure pikku-rs against this.

use std::collections::HashSet;
use std::sync::RwLock;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

/// Claims of the demo's tokens.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    /// The session's user.
    pub user_id: String,
    /// The session's role.
    pub role: String,
    #[allow(dead_code)]
    exp: i64,
    jti: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Profile<'a> {
    user_id: &'a str,
    role: &'a str,
}

/// Keys and the revocation set, built once.
pub struct Baseline {
    key: DecodingKey,
    validation: Validation,
    revoked: RwLock<HashSet<String>>,
}

impl Baseline {
    /// A baseline verifying HS256 tokens signed with `secret`.
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp"]);
        validation.leeway = 5;
        Self { key: DecodingKey::from_secret(secret), validation, revoked: RwLock::new(HashSet::new()) }
    }

    /// Handles one request.
    pub fn handle<B>(&self, request: &Request<B>) -> Response<Full<Bytes>> {
        match (request.method(), request.uri().path()) {
            (&Method::GET, "/health") => json(StatusCode::OK, Bytes::from_static(br#"{"ok":true}"#)),
            (&Method::GET, "/me") => match self.token(request).and_then(|t| self.verify(t)) {
                Some(claims) => {
                    let body = serde_json::to_vec(&Profile { user_id: &claims.user_id, role: &claims.role })
                        .expect("profile serialises");
                    json(StatusCode::OK, Bytes::from(body))
                }
                None => json(
                    StatusCode::UNAUTHORIZED,
                    Bytes::from_static(br#"{"name":"MissingSessionError","message":"Authentication required"}"#),
                ),
            },
            _ => json(StatusCode::NOT_FOUND, Bytes::from_static(br#"{"name":"NotFoundError","message":"Not found"}"#)),
        }
    }

    fn token<'r, B>(&self, request: &'r Request<B>) -> Option<&'r str> {
        let headers = request.headers();
        if let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            let (scheme, token) = auth.split_once(' ')?;
            return scheme.eq_ignore_ascii_case("bearer").then_some(token);
        }
        Self::session_cookie(headers)
    }

    /// The `session` cookie's value.
    pub fn session_cookie(headers: &http::HeaderMap) -> Option<&str> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| pair.trim().strip_prefix("session="))
    }

    /// Verifies the token's signature and claims (no revocation check).
    pub fn decode(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).ok().map(|data| data.claims)
    }

    /// Verifies the token and checks it against the revocation set.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let claims = self.decode(token)?;
        let revoked = self.revoked.read().unwrap_or_else(|p| p.into_inner());
        match &claims.jti {
            Some(jti) if revoked.contains(jti.split('.').next().unwrap_or(jti)) => None,
            _ => Some(claims),
        }
    }
}

fn json(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
