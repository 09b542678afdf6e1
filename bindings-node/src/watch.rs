//! `watch()`: a feature's refs watched on the addon's runtime, the JS side told of each change
//! (the package's async iterator then reads the graph). The kernel says when refs move, so a
//! watch that sees nothing costs nothing.

use std::time::Duration;

use napi_derive::napi;
use tokio_util::sync::CancellationToken;

use crate::errors::{Code, to_js};

/// A running watch of a feature's refs (from `NativeOrchestrator.watchRefs`).
#[napi]
pub struct RefWatcher {
    cancel: CancellationToken,
}

impl RefWatcher {
    /// Starts watching; `on_change` gets each new fingerprint, or the error that ends the watch.
    pub(crate) fn start(
        orch: kitty_orchestrator::Orchestrator,
        feature: String,
        poll_ms: u32,
        on_change: impl Fn(Result<String, kitty_orchestrator::Error>) + Send + 'static,
    ) -> napi::Result<RefWatcher, Code> {
        let mut refs = orch.watch_refs(Duration::from_millis(u64::from(poll_ms.max(20)))).map_err(to_js)?;
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        let runtime = kitty_orchestrator::runtime::shared().expect("a tokio runtime");
        runtime.spawn(async move {
            let mut last: Option<String> = None;
            loop {
                let (o, f) = (orch.clone(), feature.clone());
                match tokio::task::spawn_blocking(move || o.refs_fingerprint(&f)).await {
                    Ok(Ok(now)) if last.as_ref() != Some(&now) => {
                        on_change(Ok(now.clone()));
                        last = Some(now);
                    }
                    Ok(Err(err)) => {
                        on_change(Err(err));
                        return;
                    }
                    _ => {}
                }
                tokio::select! {
                    () = token.cancelled() => return,
                    () = refs.changed() => {}
                }
            }
        });
        Ok(RefWatcher { cancel })
    }
}

#[napi]
impl RefWatcher {
    /// Ends the watch; its callback is released.
    #[napi]
    pub fn stop(&self) {
        self.cancel.cancel();
    }
}
