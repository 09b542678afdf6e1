//! Node addon: converts core types to plain JS objects and core errors to `Error`s with a stable
//! `code`. No orchestration logic lives here.

mod engine;
mod errors;
mod feature;
mod shape;
mod status;
mod watch;
mod workspace;

/// The package version (the same as the Rust crate and the Python package).
#[napi_derive::napi]
pub fn version() -> String {
    kitty_orchestrator::VERSION.to_string()
}
