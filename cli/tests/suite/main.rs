//! Every integration test of this crate, as one test binary: one link of the dependency tree
//! instead of one per file (the suite builds faster and its target directory stays small).
//! Each file is one module: `cargo test -p <crate> --test suite <module>::` runs one.

mod common;

mod acp;
mod board;
mod browser;
mod commands;
mod merge;
mod pr;
mod real_clis;
mod reliability;
mod report_pictures;
mod run;
mod sandbox;
mod shared_run;
mod validate;
mod workspaces;
