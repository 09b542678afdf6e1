//! The one tokio runtime of a process that embeds the library (the Python module, the Node
//! addon), made on first use and made again in a child after `fork()`: a runtime's worker threads
//! do not survive a fork, and using the parent's would hang. Agents are started from its worker
//! threads, which live as long as it does (their parent-death signal follows the thread that
//! started them). The CLI and Rust users run their own runtime.

use std::sync::{Arc, Mutex};

static RUNTIME: Mutex<Option<(u32, Arc<tokio::runtime::Runtime>)>> = Mutex::new(None);

/// The runtime, for this process.
pub fn shared() -> std::io::Result<Arc<tokio::runtime::Runtime>> {
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    if let Some((owner, rt)) = slot.as_ref() {
        if *owner == pid {
            return Ok(rt.clone());
        }
        // Inherited through fork: its worker threads do not exist here. Leak it rather than run
        // its destructor, which would wait for those threads forever.
        let (_, stale) = slot.take().expect("checked above");
        std::mem::forget(stale);
    }
    let rt =
        Arc::new(tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("kitty-orchestrator").build()?);
    *slot = Some((pid, rt.clone()));
    Ok(rt)
}
