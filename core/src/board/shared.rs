//! What every request of one board shares: the orchestrator, the feature, the gate.

use std::net::SocketAddr;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::engine::Orchestrator;

/// What every request of one board shares.
pub(super) struct Shared {
    pub(super) orch: Orchestrator,
    pub(super) feature: String,
    pub(super) token: Option<String>,
    pub(super) addr: SocketAddr,
    pub(super) poll: Duration,
    pub(super) cancel: CancellationToken,
}
