//! `.kittify/orchestrator.toml`: how a run is shaped (concurrency, retries, timeouts, agents).
//!
//! The file is optional; every key has a default. Unknown keys and out-of-range values are errors
//! that name the key and its line, because a typo silently ignored (`max_retires = 5`) is a run
//! that behaves differently from what the user wrote.

mod error;
mod load;
mod model;
mod raw;
mod text;
mod validate;

pub use error::ConfigError;
pub use load::options_from_json;
pub use model::{AgentSettings, AgentsConfig, CONFIG_PATH, Cleanup, Config, CustomAgent, FallbackStrategy, Mirror};

#[cfg(test)]
mod tests;
