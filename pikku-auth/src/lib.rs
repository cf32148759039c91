//! stub
pub mod jwt;
