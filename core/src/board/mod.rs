//! The live board (`kitty-orchestrator board`): the report's page served on loopback and kept up
//! to date as the run moves — server-sent events from the refs, so a run in another process (or
//! another machine's run, after a fetch) shows too — read-only. Clicking a WP shows its history
//! and the tail of its log.
//!
//! It binds to 127.0.0.1 unless told otherwise, and then only with a token: see
//! [`BoardOptions`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), kitty_orchestrator::Error> {
//! use kitty_orchestrator::board::{Board, BoardOptions};
//! let orch = kitty_orchestrator::Orchestrator::open(".", None)?;
//! let board = Board::bind(orch, "020-my-feature", BoardOptions::default()).await?;
//! println!("open {}", board.url());
//! board.serve(tokio_util::sync::CancellationToken::new()).await?;
//! # Ok(()) }
//! ```

mod listen;
mod page;
mod server;
mod shared;

pub use listen::{Board, BoardOptions};
pub use page::random_hex;
