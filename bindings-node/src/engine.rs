//! The engine for Node: a native orchestrator whose long operations take a callback that
//! receives the result on the JS thread (`{ok: true, …}` or `{ok: false, code, message}`);
//! `lib/index.js` wraps each into a Promise, so nothing blocks the event loop. Values have
//! camelCase keys (see `shape`).
//! Panics become `internal` errors: a Promise is always settled.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use kitty_orchestrator::engine::{Event, EventSink, MergeOptions, PrOptions, PushOptions, RunOptions, no_events};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use tokio_util::sync::CancellationToken;

use crate::errors::{Code, debug_panic, guard, panic_text, to_js};
use crate::shape::{camel, camel_message, snake_keys, to_js_value};

fn runtime() -> Arc<tokio::runtime::Runtime> {
    kitty_orchestrator::runtime::shared().expect("a tokio runtime")
}

/// A callback receiving a JS value on the JS thread (released after its last call).
pub(crate) type JsCallback = ThreadsafeFunction<serde_json::Value, (), serde_json::Value, napi::Status, false>;

fn ok(key: &str, value: &impl serde::Serialize) -> serde_json::Value {
    serde_json::json!({"ok": true, key: to_js_value(value)})
}

fn error_value(err: &kitty_orchestrator::Error) -> serde_json::Value {
    serde_json::json!({"ok": false, "code": err.code().as_str(), "message": err.to_string()})
}

fn internal_value(why: &str) -> serde_json::Value {
    serde_json::json!({"ok": false, "code": "internal", "message": format!("internal error: {why}")})
}

fn config_from(value: serde_json::Value) -> napi::Result<kitty_orchestrator::Config, Code> {
    kitty_orchestrator::Config::from_json(&value, "<object>").map_err(|e| to_js(e.into()))
}

/// Run options from a JS object with camelCase keys; an error names the key as written.
fn options_from(value: serde_json::Value) -> napi::Result<RunOptions, Code> {
    const NAMES: [&str; 6] =
        ["impl_agents", "review_agents", "max_concurrent", "output_lines", "grace_ms", "retry_base_ms"];
    RunOptions::from_json(&snake_keys(value)).map_err(|mut err| {
        err.key = err.key.map(|k| camel(&k));
        err.message = camel_message(&err.message, &NAMES);
        to_js(err.into())
    })
}

/// Merge options from a JS object with camelCase keys; an error names the key as written.
fn merge_options_from(value: serde_json::Value) -> napi::Result<MergeOptions, Code> {
    const NAMES: [&str; 9] =
        ["into", "strategy", "partial", "dry_run", "resolve", "push", "pr", "reopen_moved", "origin_check"];
    MergeOptions::from_json(&snake_keys(value)).map_err(|mut err| {
        err.key = err.key.map(|k| camel(&k));
        err.message = camel_message(&err.message, &NAMES);
        to_js(err.into())
    })
}

/// Runs `work` (given the event sink) on the runtime in a task of its own and hands
/// `{ok: true, <key>: value}` (or the error) to `on_done`; a panic becomes an `internal` error,
/// so the Promise is always settled. Both callbacks are released when it ends.
pub(crate) fn spawn_settled<T, Fut>(
    on_event: Option<JsCallback>,
    on_done: JsCallback,
    what: &'static str,
    key: &'static str,
    work: impl FnOnce(EventSink) -> Fut + Send + 'static,
) where
    T: serde::Serialize + Send + 'static,
    Fut: std::future::Future<Output = Result<T, kitty_orchestrator::Error>> + Send + 'static,
{
    let on_event = on_event.map(Arc::new);
    let sink: EventSink = match on_event.clone() {
        Some(callback) => Arc::new(move |event: Event| {
            callback.call(to_js_value(&event), ThreadsafeFunctionCallMode::NonBlocking);
        }),
        None => no_events(),
    };
    runtime().spawn(async move {
        let task = tokio::spawn(async move {
            debug_panic(what);
            work(sink).await
        });
        let value = match task.await {
            Ok(Ok(result)) => ok(key, &result),
            Ok(Err(err)) => error_value(&err),
            Err(err) if err.is_panic() => {
                internal_value(&format!("the {what} panicked: {}", panic_text(err.into_panic())))
            }
            Err(err) => internal_value(&format!("the {what}'s task ended: {err}")),
        };
        on_done.call(value, ThreadsafeFunctionCallMode::Blocking);
        drop(on_event);
    });
}

/// Runs `work` on the blocking pool and hands `{ok: true, value}` (or the error) to `on_done`;
/// a panic in `work` becomes an `internal` error.
pub(crate) fn settle_blocking<T, F>(on_done: JsCallback, work: F)
where
    T: serde::Serialize,
    F: FnOnce() -> Result<T, kitty_orchestrator::Error> + Send + 'static,
{
    runtime().spawn_blocking(move || {
        let value = match catch_unwind(AssertUnwindSafe(work)) {
            Ok(Ok(value)) => ok("value", &value),
            Ok(Err(err)) => error_value(&err),
            Err(payload) => internal_value(&panic_text(payload)),
        };
        on_done.call(value, ThreadsafeFunctionCallMode::NonBlocking);
    });
}

/// The native orchestrator (use the `Orchestrator` class of the package).
#[napi(js_name = "NativeOrchestrator")]
pub struct NativeOrchestrator {
    inner: kitty_orchestrator::Orchestrator,
}

#[napi]
impl NativeOrchestrator {
    /// `config`: an object with the `.kittify/orchestrator.toml` keys, a path to such a file, or
    /// nothing for the repository's own file.
    #[napi(constructor)]
    pub fn new(
        repo: String,
        config: Option<serde_json::Value>,
        config_path: Option<String>,
        format: Option<String>,
        include_optional: Option<bool>,
    ) -> napi::Result<Self, Code> {
        guard(|| {
            let config = match (config, config_path) {
                (Some(value), _) => Some(config_from(value)?),
                (None, Some(path)) => Some(kitty_orchestrator::Config::from_path(&path).map_err(|e| to_js(e.into()))?),
                (None, None) => None,
            };
            let load =
                kitty_orchestrator::engine::load_options(format.as_deref(), false).map_err(|e| to_js(e.into()))?;
            let mut inner = kitty_orchestrator::Orchestrator::open(&repo, config).map_err(to_js)?;
            inner = inner.with_feature_format(load.format);
            if let Some(include) = include_optional {
                inner = inner.with_optional_tasks(include);
            }
            Ok(NativeOrchestrator { inner })
        })
    }

    /// Starts a run. Events go to `on_event`; the end goes to `on_done` as `{ok: true, summary}`
    /// or `{ok: false, code, message}`. Both callbacks are released when the run ends, so nothing
    /// keeps Node alive afterwards.
    #[napi]
    pub fn run(
        &self,
        feature: String,
        options: serde_json::Value,
        on_event: Option<JsCallback>,
        on_done: JsCallback,
    ) -> napi::Result<(), Code> {
        guard(|| {
            let opts = options_from(options)?;
            let orch = self.inner.clone();
            spawn_settled(on_event, on_done, "run", "summary", move |sink| async move {
                orch.run(&feature, opts, sink, CancellationToken::new()).await
            });
            Ok(())
        })
    }

    /// Starts a merge (landing the done WPs). Events go to `on_event`; the end goes to `on_done`
    /// as `{ok: true, report}` or `{ok: false, code, message}`.
    #[napi]
    pub fn merge(
        &self,
        feature: String,
        options: serde_json::Value,
        on_event: Option<JsCallback>,
        on_done: JsCallback,
    ) -> napi::Result<(), Code> {
        guard(|| {
            let opts = merge_options_from(options)?;
            let orch = self.inner.clone();
            spawn_settled(on_event, on_done, "merge", "report", move |sink| async move {
                orch.merge(&feature, opts, sink, CancellationToken::new()).await
            });
            Ok(())
        })
    }

    /// Starts a push of what landed; the end goes to `on_done` as `{ok: true, report}` or
    /// `{ok: false, code, message}`.
    #[napi]
    pub fn push(&self, feature: String, options: serde_json::Value, on_done: JsCallback) -> napi::Result<(), Code> {
        guard(|| {
            let opts = PushOptions::from_json(&snake_keys(options)).map_err(|e| to_js(e.into()))?;
            let orch = self.inner.clone();
            spawn_settled(None, on_done, "push", "report", move |_sink| async move {
                orch.push(&feature, opts, CancellationToken::new()).await
            });
            Ok(())
        })
    }

    /// Starts a read of the board as the shared remote has it (`remote` defaults to
    /// `sync_remote`); the end goes to `on_done` as `{ok: true, report}` or `{ok: false, code,
    /// message}`.
    #[napi]
    pub fn status_remote(
        &self,
        feature: String,
        remote: Option<String>,
        on_done: JsCallback,
    ) -> napi::Result<(), Code> {
        guard(|| {
            let orch = self.inner.clone();
            spawn_settled(None, on_done, "status_remote", "report", move |_sink| async move {
                orch.status_remote(&feature, remote.as_deref()).await
            });
            Ok(())
        })
    }

    /// Starts recording an abort on the shared remote for every machine's run; the end goes to
    /// `on_done` as `{ok: true, report}` or `{ok: false, code, message}`.
    #[napi]
    pub fn abort_remote(&self, feature: String, remote: Option<String>, on_done: JsCallback) -> napi::Result<(), Code> {
        guard(|| {
            let orch = self.inner.clone();
            spawn_settled(None, on_done, "abort_remote", "report", move |_sink| async move {
                orch.abort_remote(&feature, remote.as_deref()).await
            });
            Ok(())
        })
    }

    /// Starts a pull request (push, then open or update); the end goes to `on_done` as
    /// `{ok: true, report}` or `{ok: false, code, message}`.
    #[napi]
    pub fn pull_request(
        &self,
        feature: String,
        options: serde_json::Value,
        on_done: JsCallback,
    ) -> napi::Result<(), Code> {
        guard(|| {
            let opts = PrOptions::from_json(&snake_keys(options)).map_err(|e| to_js(e.into()))?;
            let orch = self.inner.clone();
            spawn_settled(None, on_done, "pull request", "report", move |_sink| async move {
                orch.pull_request(&feature, opts, CancellationToken::new()).await
            });
            Ok(())
        })
    }

    /// The feature's report, read off the JS thread.
    #[napi]
    pub fn report_async(&self, feature: String, on_done: JsCallback) -> napi::Result<(), Code> {
        guard(|| {
            let orch = self.inner.clone();
            settle_blocking(on_done, move || orch.report(&feature));
            Ok(())
        })
    }

    /// The feature as a graph (nodes, edges, lanes, fingerprint), read off the JS thread.
    #[napi]
    pub fn graph_async(&self, feature: String, on_done: JsCallback) -> napi::Result<(), Code> {
        guard(|| {
            let orch = self.inner.clone();
            settle_blocking(on_done, move || orch.graph(&feature));
            Ok(())
        })
    }

    /// Watches the feature's refs: `on_change` gets `{ok: true, value: fingerprint}` now and
    /// each time they move (told by the kernel's file notifications; without them, looked at
    /// every `poll_ms`), or `{ok: false, code, message}` once if they cannot be read. `stop()`
    /// on the returned watcher ends it and releases the callback.
    #[napi]
    pub fn watch_refs(
        &self,
        feature: String,
        poll_ms: u32,
        on_change: JsCallback,
    ) -> napi::Result<crate::watch::RefWatcher, Code> {
        let tell = move |change: Result<String, kitty_orchestrator::Error>| {
            let value = match change {
                Ok(fingerprint) => serde_json::json!({"ok": true, "value": fingerprint}),
                Err(err) => error_value(&err),
            };
            on_change.call(value, ThreadsafeFunctionCallMode::NonBlocking);
        };
        guard(|| crate::watch::RefWatcher::start(self.inner.clone(), feature, poll_ms, tell))
    }

    /// The feature's status on the JS thread, read on a thread of its own and handed over as
    /// batches of camelCase JSON text (see `status.rs`; the package's `statusSync` joins them).
    #[napi]
    pub fn status_stream(&self, feature: String) -> napi::Result<crate::status::StatusStream, Code> {
        guard(|| Ok(crate::status::StatusStream::start(self.inner.clone(), feature, None)))
    }

    /// Events of one WP or all, oldest first, on the JS thread.
    #[napi(ts_return_type = "Array<Record<string, unknown>>")]
    pub fn history(&self, feature: String, wp: Option<String>) -> napi::Result<serde_json::Value, Code> {
        guard(|| self.inner.history(&feature, wp.as_deref()).map(|v| to_js_value(&v)).map_err(to_js))
    }

    /// `status` with the JS thread free while git is read: `on_ready` is called with `false` when
    /// a batch is ready (`next()` gives it without waiting), then with `true` when `finish()`
    /// has the rest (see `status.rs`; the package's `status` joins them).
    #[napi]
    pub fn status_notify(
        &self,
        feature: String,
        on_ready: ThreadsafeFunction<bool, (), bool, napi::Status, false>,
    ) -> napi::Result<crate::status::StatusStream, Code> {
        guard(|| {
            let notify = move |finished| {
                on_ready.call(finished, ThreadsafeFunctionCallMode::NonBlocking);
            };
            Ok(crate::status::StatusStream::start(self.inner.clone(), feature, Some(Box::new(notify))))
        })
    }

    /// `history` off the JS thread: the result goes to `on_done`.
    #[napi]
    pub fn history_async(&self, feature: String, wp: Option<String>, on_done: JsCallback) -> napi::Result<(), Code> {
        let orch = self.inner.clone();
        guard(|| {
            settle_blocking(on_done, move || orch.history(&feature, wp.as_deref()));
            Ok(())
        })
    }

    /// Aborts the feature's run off the JS thread (ending a dead run's agents can take seconds);
    /// whether a live run was signalled goes to `on_done`.
    #[napi]
    pub fn abort_async(&self, feature: String, on_done: JsCallback) -> napi::Result<(), Code> {
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
    pub fn retry_async(&self, feature: String, wp: String, on_done: JsCallback) -> napi::Result<(), Code> {
        let orch = self.inner.clone();
        guard(|| {
            settle_blocking(on_done, move || orch.retry(&feature, &wp));
            Ok(())
        })
    }

    /// Releases a WP held by a run that cannot release it, off the JS thread; its new state goes
    /// to `on_done`.
    #[napi]
    pub fn release_async(&self, feature: String, wp: String, on_done: JsCallback) -> napi::Result<(), Code> {
        let orch = self.inner.clone();
        guard(|| {
            settle_blocking(on_done, move || orch.release(&feature, &wp));
            Ok(())
        })
    }
}

/// Every known agent (built-in and configured), found on PATH or not: the list goes to `on_done`
/// (each agent answers `--version` within 10 s, all at once, off the JS thread).
#[napi]
pub fn detect_agents_async(config: Option<serde_json::Value>, on_done: JsCallback) -> napi::Result<(), Code> {
    guard(|| {
        let config = match config {
            Some(value) => config_from(value)?,
            None => kitty_orchestrator::Config::default(),
        };
        runtime().spawn(async move {
            let detect = tokio::spawn(async move { kitty_orchestrator::agents::detect(&config).await });
            let value = match detect.await {
                Ok(found) => ok("value", &found),
                Err(err) if err.is_panic() => internal_value(&panic_text(err.into_panic())),
                Err(err) => internal_value(&err.to_string()),
            };
            on_done.call(value, ThreadsafeFunctionCallMode::NonBlocking);
        });
        Ok(())
    })
}
