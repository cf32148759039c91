//! The macros refuse misuse with a message that points at the offending token: every `fail/*.rs` must not
//! compile, and the compiler's output must match the `.stderr` beside it (`TRYBUILD=overwrite` rewrites
//! them; review the diff).
//!
//! Only on a stable compiler: a beta or nightly compiler words and places its messages differently, and
//! the pinned output would churn with every such release (as axum-macros gates its suite). After a stable
//! upgrade that changes a message, regenerate the `.stderr` files and check that only the compiler's
//! wording moved.

#[rustversion::attr(not(stable), ignore = "compile-fail output is pinned for the stable compiler")]
#[test]
fn macro_misuse_is_a_compile_error_that_says_what_to_write() {
    trybuild::TestCases::new().compile_fail("fail/*.rs");
}
