//! Running one agent process: spawned without a shell in its own process group, prompt piped,
//! output streamed line by line to a log file and to subscribers with bounded memory, wall-clock
//! and idle timeouts that end the whole group, and a typed outcome. Agents that speak the Agent
//! Client Protocol (`driver = "acp"`) are driven over it instead of having their output parsed
//! (`acp`): the same process handling, limits and outcome.

mod acp;
mod activity;
mod classify;
mod drive;
mod execute;
mod log;
mod orphans;
mod output;
mod process;
mod prompt;
mod protocol;
mod sink;
mod stream;
mod types;

pub use activity::{Activity, PlanStep};
pub use classify::{Ended, ExitInfo};
pub(crate) use drive::afresh;
pub use drive::{execute, execute_with};
pub(crate) use log::write_footer;
pub(crate) use orphans::{find_agent_groups, terminate_group, terminate_group_blocking};
pub use output::{AgentResult, MAX_RESULT_LINE, OutputParser};
pub(crate) use process::die_with_parent;
pub use process::group_members;
pub use protocol::{KittyStatus, PromptLines, Verdict, status_excluding, verdict_excluding};
pub use stream::{MAX_LINE, Piece};
pub(crate) use types::clip;
pub use types::{ARG_PROMPT_LIMIT, AgentRun, ExecError, Outcome, OutputLine, SessionToContinue, Stream};
