//! Wiring files: how functions are reached and protected.

mod http;
