//! The built-in `openai-api` agent: an in-process tool-calling loop over the OpenAI
//! chat-completions protocol (OpenAI itself, or a local server — Ollama, llama.cpp's server,
//! vLLM, LM Studio — that speaks it), run as an attempt exactly like a CLI agent: the same
//! prompts and roles, wall and idle limits, abort, retries and fallback, an attempt log (the
//! transcript, redacted), output lines for events, and a typed [`crate::executor::Outcome`].
//!
//! The model works through tools confined to the WP's worktree ([`crate::agent_path::resolve`]): list, read, write,
//! edit, search, run an allowed command, and `finish(status, summary)`; a reviewer gets the
//! read-only ones and `verdict(decision, feedback)`. Every tool result is bounded, and the
//! conversation is trimmed (oldest tool results first) rather than failing when it grows.
//!
//! Outcome classes: `auth` on 401/403, `rate_limit` on 429 after the retries (each one waits the
//! `Retry-After` the server asked for), `network` for unreachable or failing servers,
//! `timeout`/`idle_timeout` for the attempt's limits, `invalid_output` for responses that are not
//! chat completions. The API key never reaches the log, the events or an error.

mod client;
mod run;
mod tools;
mod transcript;

pub use client::MAX_REPLY_BYTES;
pub use run::{ApiRun, execute};
