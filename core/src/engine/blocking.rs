//! Blocking git work, run off the async threads.

/// Runs blocking git work (which may back off and sleep) on the blocking pool.
pub(super) async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, crate::Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| crate::error::EngineError::Internal(format!("a state write did not finish: {e}")).into())
}
