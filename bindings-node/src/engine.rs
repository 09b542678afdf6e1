//! The engine for Node: a native orchestrator whose long operations take a callback that
//! receives the result as JSON text on the JS thread (`{"ok": true, …}` or `{"ok": false, "code",
//! "message"}`); `lib/index.js` wraps each into a Promise, so nothing blocks the event loop.
//! Panics become `internal` errors: a Promise is always settled.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use kitty_orchestrator::engine::{Event, EventSink, RunOptions, no_events};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use tokio_util::sync::CancellationToken;

use crate::errors::{Code, debug_panic, guard, panic_text, to_js};

fn runtime() -> Arc<tokio::runtime::Runtime> {
    crate::runtime::runtime().expect("a tokio runtime")
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("core types serialize")
}

fn error_json(err: &kitty_orchestrator::Error) -> String {
    json(&serde_json::json!({"ok": false, "code": err.code().as_str(), "message": err.to_string()}))
}

fn internal_json(why: &str) -> String {
    json(&serde_json::json!({"ok": false, "code": "internal", "message": format!("internal error: {why}")}))
}

fn config_from_json(text: &str) -> napi::Result<kitty_orchestrator::Config, Code> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| napi::Error::new(Code("config_invalid"), e.to_string()))?;
    kitty_orchestrator::Config::from_json(&value, "<object>").map_err(|e| to_js(e.into()))
}

/// Runs `work` on the blocking pool and hands `{"ok": true, "value": …}` (or the error) to
/// `on_done`; a panic in `work` becomes an `internal` error.
fn settle_blocking<T, F>(on_done: ThreadsafeFunction<String, (), String, napi::Status, false>, work: F)
where
    T: serde::Serialize,
    F: FnOnce() -> Result<T, kitty_orchestrator::Error> + Send + 'static,
{
    runtime().spawn_blocking(move || {
        let text = match catch_unwind(AssertUnwindSafe(work)) {
            Ok(Ok(value)) => json(&serde_json::json!({"ok": true, "value": value})),
            Ok(Err(err)) => error_json(&err),
            Err(payload) => internal_json(&panic_text(payload)),
        };
        on_done.call(text, ThreadsafeFunctionCallMode::NonBlocking);
    });
}

/// The native orchestrator (use the `Orchestrator` class of the package).
#[napi(js_name = "NativeOrchestrator")]
pub struct NativeOrchestrator {
    inner: kitty_orchestrator::Orchestrator,
}

#[napi]
impl NativeOrchestrator {
    /// `config`: JSON text of an object with the `.kittify/orchestrator.toml` keys, a path to
    /// such a file, or nothing for the repository's own file.
    #[napi(constructor)]
    pub fn new(repo: String, config_json: Option<String>, config_path: Option<String>) -> napi::Result<Self, Code> {
        guard(|| {
            let config = match (config_json, config_path) {
                (Some(text), _) => Some(config_from_json(&text)?),
                (None, Some(path)) => Some(kitty_orchestrator::Config::from_path(&path).map_err(|e| to_js(e.into()))?),
                (None, None) => None,
            };
            kitty_orchestrator::Orchestrator::open(&repo, config)
                .map(|inner| NativeOrchestrator { inner })
                .map_err(to_js)
        })
    }

    /// Starts a run. Events go to `on_event` as JSON text; the end goes to `on_done` as
    /// `{"ok": true, "summary": …}` or `{"ok": false, "code": …, "message": …}`. Both callbacks
    /// are released when the run ends, so nothing keeps Node alive afterwards.
    #[napi]
    pub fn run(
        &self,
        feature: String,
        options_json: String,
        on_event: Option<ThreadsafeFunction<String, (), String, napi::Status, false>>,
        on_done: ThreadsafeFunction<String, (), String, napi::Status, false>,
    ) -> napi::Result<(), Code> {
        guard(|| {
            let options: serde_json::Value = serde_json::from_str(&options_json)
                .map_err(|e| napi::Error::new(Code("config_invalid"), e.to_string()))?;
            let opts = RunOptions::from_json(&options).map_err(|e| to_js(e.into()))?;
            let on_event = on_event.map(Arc::new);
            let sink: EventSink = match on_event.clone() {
                Some(callback) => Arc::new(move |event: Event| {
                    callback.call(json(&event), ThreadsafeFunctionCallMode::NonBlocking);
                }),
                None => no_events(),
            };
            let orch = self.inner.clone();
            runtime().spawn(async move {
                // The run in a task of its own: if it panics, the Promise is rejected, not left
                // pending forever.
                let run = tokio::spawn(async move {
                    debug_panic("run");
                    orch.run(&feature, opts, sink, CancellationToken::new()).await
                });
                let text = match run.await {
                    Ok(Ok(summary)) => json(&serde_json::json!({"ok": true, "summary": summary})),
                    Ok(Err(err)) => error_json(&err),
                    Err(err) if err.is_panic() => {
                        internal_json(&format!("the run panicked: {}", panic_text(err.into_panic())))
                    }
                    Err(err) => internal_json(&format!("the run's task ended: {err}")),
                };
                on_done.call(text, ThreadsafeFunctionCallMode::Blocking);
                drop(on_event);
            });
            Ok(())
        })
    }

    /// `{"run": …, "wps": {id: state}, "corrupt": […]}` as JSON text (synchronous: one read of
    /// the refs, cheap for features of up to a few hundred WPs).
    #[napi]
    pub fn status(&self, feature: String) -> napi::Result<String, Code> {
        guard(|| self.inner.status_json(&feature).map(|v| json(&v)).map_err(to_js))
    }

    /// Events of one WP or all, oldest first, as JSON text (synchronous).
    #[napi]
    pub fn history(&self, feature: String, wp: Option<String>) -> napi::Result<String, Code> {
        guard(|| self.inner.history_json(&feature, wp.as_deref()).map(|v| json(&v)).map_err(to_js))
    }

    /// `status` off the JS thread: the result goes to `on_done`.
    #[napi]
    pub fn status_async(
        &self,
        feature: String,
        on_done: ThreadsafeFunction<String, (), String, napi::Status, false>,
    ) -> napi::Result<(), Code> {
        let orch = self.inner.clone();
        guard(|| {
            settle_blocking(on_done, move || orch.status_json(&feature));
            Ok(())
        })
    }

    /// `history` off the JS thread: the result goes to `on_done`.
    #[napi]
    pub fn history_async(
        &self,
        feature: String,
        wp: Option<String>,
        on_done: ThreadsafeFunction<String, (), String, napi::Status, false>,
    ) -> napi::Result<(), Code> {
        let orch = self.inner.clone();
        guard(|| {
            settle_blocking(on_done, move || orch.history_json(&feature, wp.as_deref()));
            Ok(())
        })
    }

    /// Aborts the feature's run off the JS thread (ending a dead run's agents can take seconds);
    /// whether a live run was signalled goes to `on_done`.
    #[napi]
    pub fn abort_async(
        &self,
        feature: String,
        on_done: ThreadsafeFunction<String, (), String, napi::Status, false>,
    ) -> napi::Result<(), Code> {
        let orch = self.inner.clone();
        guard(|| {
            settle_blocking(on_done, move || orch.abort(&feature));
            Ok(())
        })
    }

    /// Aborts a run of this process at once (used by an `AbortSignal`); whether one was found.
    #[napi]
    pub fn abort(&self, feature: String) -> napi::Result<bool, Code> {
        guard(|| self.inner.abort(&feature).map_err(to_js))
    }

    /// Moves a blocked WP back to planned, off the JS thread; its new state goes to `on_done`.
    #[napi]
    pub fn retry_async(
        &self,
        feature: String,
        wp: String,
        on_done: ThreadsafeFunction<String, (), String, napi::Status, false>,
    ) -> napi::Result<(), Code> {
        let orch = self.inner.clone();
        guard(|| {
            settle_blocking(on_done, move || orch.retry(&feature, &wp));
            Ok(())
        })
    }

    /// Releases a WP held by a run that cannot release it, off the JS thread; its new state goes
    /// to `on_done`.
    #[napi]
    pub fn release_async(
        &self,
        feature: String,
        wp: String,
        on_done: ThreadsafeFunction<String, (), String, napi::Status, false>,
    ) -> napi::Result<(), Code> {
        let orch = self.inner.clone();
        guard(|| {
            settle_blocking(on_done, move || orch.release(&feature, &wp));
            Ok(())
        })
    }
}

/// Every known agent (built-in and configured), found on PATH or not: the JSON list goes to
/// `on_done` (each agent answers `--version` within 10 s, all at once, off the JS thread).
#[napi]
pub fn detect_agents_async(
    config_json: Option<String>,
    on_done: ThreadsafeFunction<String, (), String, napi::Status, false>,
) -> napi::Result<(), Code> {
    guard(|| {
        let config = match config_json {
            Some(text) => config_from_json(&text)?,
            None => kitty_orchestrator::Config::default(),
        };
        runtime().spawn(async move {
            let detect = tokio::spawn(async move { kitty_orchestrator::agents::detect(&config).await });
            let text = match detect.await {
                Ok(found) => json(&serde_json::json!({"ok": true, "value": found})),
                Err(err) if err.is_panic() => internal_json(&panic_text(err.into_panic())),
                Err(err) => internal_json(&err.to_string()),
            };
            on_done.call(text, ThreadsafeFunctionCallMode::NonBlocking);
        });
        Ok(())
    })
}
