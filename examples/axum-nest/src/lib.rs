//! A pikku-rs application nested in an axum application: axum keeps its own routes and mounts the pikku-rs
//! application under `/api` with `nest_service`; tower-http's gzip compression and a timeout wrap the whole
//! axum application, and the pikku-rs application wires a tower timeout of its own around its reports
//! (`add_http_layer`). docs/tower.md explains each piece.
//!
//! `cargo run -p axum-nest`, then:
//!
//! ```sh
//! curl -s localhost:3000/                                   # axum's own route
//! curl -s localhost:3000/api/health                         # pikku-rs, through axum
//! curl -s -c jar -X POST localhost:3000/api/login -H 'content-type: application/json' -d '{"name":"ada"}'
//! curl -s -b jar localhost:3000/api/me
//! curl -s --compressed localhost:3000/api/reports/daily
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use pikku::auth::{auth_cookie, AuthServices, CookieOptions, JwtService};
use pikku::prelude::*;
use pikku::{PeerAddr, Server};
use serde::{Deserialize, Serialize};

/// How long a report may take before the client gets 504 `GatewayTimeoutError` (the tower layer wired
/// around `/reports/*`).
pub const REPORT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long any request to the axum application may take before tower-http answers 504 (an empty body:
/// this one is axum's, outside pikku-rs).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request body the pikku-rs application reads (413 past it), whatever server hands it over.
pub const BODY_LIMIT: usize = 16 * 1024;
/// The session cookie's lifetime.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The pikku-rs application's services.
pub struct Services {
    jwt: JwtService,
    /// How long building a report takes (the tests make it longer than [`REPORT_TIMEOUT`]).
    report_work: Duration,
}

impl Services {
    /// Services whose reports take `report_work` to build.
    pub fn new(report_work: Duration) -> Self {
        Self { jwt: JwtService::hs256_random(), report_work }
    }
}

impl AuthServices for Services {
    fn jwt(&self) -> &JwtService {
        &self.jwt
    }
}

/// The session: who logged in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The name given at login.
    pub name: String,
}

mod functions {
    use super::*;

    #[derive(Serialize)]
    pub struct Health {
        pub ok: bool,
    }

    #[pikku_func(auth = false, description = "Is the pikku-rs application up")]
    pub async fn health(_: &Services, _: (), _: &OptionalContext<Session>) -> Result<Health, PikkuError> {
        Ok(Health { ok: true })
    }

    #[derive(Deserialize)]
    pub struct Login {
        pub name: String,
    }

    /// A demo login: anyone may choose a name (a real application checks a password; see
    /// examples/auth-demo). The cookie strategy writes the session cookie on the way back.
    #[pikku_func(auth = false, description = "Logs in under any name (demo)")]
    pub async fn login(_: &Services, data: Login, ctx: &OptionalContext<Session>) -> Result<Session, PikkuError> {
        if data.name.is_empty() || data.name.len() > 64 {
            return Err(PikkuError::invalid_field("name", "`name` must be 1 to 64 bytes"));
        }
        let session = Session { name: data.name };
        ctx.set_session(session.clone());
        Ok(session)
    }

    #[pikku_func(description = "The session")]
    pub async fn me(_: &Services, _: (), ctx: &Context<Session>) -> Result<Session, PikkuError> {
        Ok(ctx.session().clone())
    }

    #[derive(Deserialize)]
    pub struct Note {
        pub text: String,
    }

    #[derive(Serialize)]
    pub struct Received {
        pub length: usize,
        #[serde(rename = "clientAddr")]
        pub client_addr: Option<String>,
    }

    #[pikku_func(auth = false, description = "Reads a JSON body")]
    pub async fn note(_: &Services, data: Note, ctx: &OptionalContext<Session>) -> Result<Received, PikkuError> {
        Ok(Received { length: data.text.len(), client_addr: ctx.client_addr().map(|addr| addr.to_string()) })
    }

    #[derive(Deserialize)]
    pub struct ReportName {
        pub name: String,
    }

    #[derive(Serialize)]
    pub struct Report {
        pub name: String,
        pub lines: Vec<String>,
    }

    #[pikku_func(auth = false, description = "A report: slow to build, large to send")]
    pub async fn report(
        services: &Services,
        data: ReportName,
        _: &OptionalContext<Session>,
    ) -> Result<Report, PikkuError> {
        tokio::time::sleep(services.report_work).await;
        let lines = (1..=200).map(|n| format!("{} line {n}: all quiet", data.name)).collect();
        Ok(Report { name: data.name, lines })
    }
}

use functions::*;

#[pikku_wiring]
fn routes(w: &mut Wirings<Services, Session>) {
    w.add_http_middleware("*", [auth_cookie(CookieOptions::new("session", SESSION_LIFETIME))]);
    w.get("/health", health);
    w.post("/login", login);
    w.get("/me", me);
    w.post("/notes", note);
    w.get("/reports/:name", report);
    // Outside the route's middleware and function: the timeout covers all of it. Its `Elapsed` is answered
    // as 504 `GatewayTimeoutError`, JSON like every other error of the application.
    w.add_http_layer("/reports/*", tower::timeout::TimeoutLayer::new(REPORT_TIMEOUT));
}

/// The pikku-rs application's settings.
pub fn app() -> App<Services, Session> {
    App::new().body_limit(BODY_LIMIT)
}

/// The axum application: its own routes, the pikku-rs application under `/api`, gzip compression and a
/// timeout around everything.
pub fn router(server: Server<Services, Session>) -> Router {
    // axum, served with `into_make_service_with_connect_info`, knows the peer as `ConnectInfo`; pikku-rs reads
    // it as `PeerAddr` (and resolves the client's address through its trusted proxies, as its own server does).
    let pikku = tower::ServiceBuilder::new().map_request(peer_from_connect_info).service(server.bytes_service());
    Router::new()
        .route("/", get(|| async { "axum's own route; the pikku-rs application is under /api\n" }))
        .nest_service("/api", pikku)
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, REQUEST_TIMEOUT))
}

fn peer_from_connect_info(mut request: axum::extract::Request) -> axum::extract::Request {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        request.extensions_mut().insert(PeerAddr(peer));
    }
    request
}
