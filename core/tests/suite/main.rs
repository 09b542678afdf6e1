//! Every integration test of this crate, as one test binary: one link of the dependency tree
//! instead of one per file (the suite builds faster and its target directory stays small).
//! Each file is one module: `cargo test -p <crate> --test suite <module>::` runs one.

mod common;

mod acp;
mod attacks;
mod bindings_agree;
mod broken_features;
mod engine;
mod executor;
mod forge;
mod fresh_worktree;
mod kiro;
mod merge;
mod openai_api;
mod push;
mod reliability;
mod samples;
mod sandbox;
mod shared_run;
mod spec_kitty_format;
mod spec_kitty_mission;
mod spec_kitty_reducers;
mod state;
mod state_races;
mod sync;
mod vocabulary;
mod workspace;
mod worktree;
