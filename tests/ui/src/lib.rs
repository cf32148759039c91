//! Nothing here: this package only holds the macros' compile-time tests (`pass/`, `fail/`, `tests/`).
