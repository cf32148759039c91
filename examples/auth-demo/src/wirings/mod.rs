//! Wiring files: strategies in `auth.rs`, routes in `http.rs`.

mod auth;
mod http;
