//! Wiring files: strategies in `auth.rs`, routes in `http.rs`, CORS in `cors.rs`.

mod auth;
mod cors;
mod http;
