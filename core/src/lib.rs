//! # kitty-orchestrator
//!
//! Runs a spec-kitty *feature* — a dependency graph of work packages (WPs) written as markdown
//! files — through autonomous coding agents, one git worktree per WP, with all run state kept in
//! git refs. This crate is the whole engine; the CLI and the Python/Node bindings only convert
//! types and forward to it.
//!
//! ```no_run
//! let feature = kitty_orchestrator::load_feature("kitty-specs/020-my-feature")?;
//! for id in feature.topological_order() {
//!     let wp = feature.work_package(&id).unwrap();
//!     println!("{id} {} ({})", wp.title, wp.initial_lane);
//! }
//! # Ok::<(), kitty_orchestrator::FeatureError>(())
//! ```

#![deny(missing_docs)]

pub mod agent_path;
pub mod agents;
pub mod atomic_file;
pub mod beneath;
pub mod board;
pub mod command;
pub mod config;
pub mod demo;
pub mod display;
pub mod engine;
pub mod error;
pub mod error_code;
pub mod executor;
pub mod failure;
pub mod feature;
pub mod forge;
pub mod graph;
pub mod ids;
pub mod land;
pub mod lane;
pub mod limits;
pub mod llm;
pub mod merge_strategy;
pub mod redact;
pub mod remote;
pub mod report;
pub mod role;
pub mod runtime;
pub mod sandbox;
pub mod spec_kitty;
pub mod state;
pub mod sync;
pub mod template;
pub mod ticks;
pub mod workspace;
pub mod worktree;

pub use config::{Config, ConfigError};
pub use engine::{Event, Orchestrator, RunOptions, RunOutcome, RunSummary};
pub use error::{Error, Result};
pub use error_code::{ErrorCode, ErrorKind};
pub use failure::FailureClass;
pub use feature::{
    Feature, FeatureError, FeatureFormat, FeatureMeta, Layout, LoadOptions, Problem, ProblemKind, WorkPackage,
    load_feature, load_feature_with,
};
pub use graph::Graph;
pub use ids::{FeatureSlug, WpId};
pub use lane::Lane;
pub use state::{StateError, StateStore};

/// The Rust guide's example (docs/rust.md), compiled by `cargo test` (a documented example is a
/// test).
#[cfg(doctest)]
#[doc = include_str!("../../docs/rust.md")]
pub struct ReadmeDoctests;

/// The version of this crate (also reported by the CLI and the bindings).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
