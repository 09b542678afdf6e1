//! A loopback stand-in of the model vendors' APIs, for running the *real* agent CLIs end to end
//! without an account: Anthropic Messages (Claude Code), OpenAI Responses (Codex), OpenAI chat
//! completions (Qwen Code, opencode, kilo, Copilot's own-provider mode, aider) and Gemini
//! generateContent (Gemini CLI), each streamed as the real service streams it. It plays a model
//! that uses the CLI's own tools (see [`play`]), so the files on a work package's branch were
//! written by the real CLI.

mod dialects;
mod http;
pub mod play;
mod server;

pub use dialects::{Dialect, Turn};
pub use play::{EditStyle, REWORK_LINE, Step, Task, content_of, file_of};
pub use server::{ModelStandIn, Seen};
