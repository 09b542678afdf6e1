//! The engine for Node: a native orchestrator whose `run` takes two callbacks — events and the
//! final result, both as JSON text — delivered on the JS thread. `lib/index.js` wraps it into a
//! Promise with an `AbortSignal` and `Error`s carrying `code`.

use std::sync::{Arc, Mutex};

use kitty_orchestrator::engine::{Event, EventSink, RunOptions, no_events};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use tokio_util::sync::CancellationToken;

use crate::errors::{Code, to_js};

static RUNTIME: Mutex<Option<Arc<tokio::runtime::Runtime>>> = Mutex::new(None);

fn runtime() -> Arc<tokio::runtime::Runtime> {
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    slot.get_or_insert_with(|| {
        Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("kitty-orchestrator")
                .build()
                .expect("a tokio runtime"),
        )
    })
    .clone()
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("core types serialize")
}

fn error_json(err: &kitty_orchestrator::Error) -> String {
    json(&serde_json::json!({"ok": false, "code": err.code(), "message": err.to_string()}))
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
        let config = match (config_json, config_path) {
            (Some(text), _) => {
                let value: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| napi::Error::new(Code("config_invalid"), e.to_string()))?;
                Some(kitty_orchestrator::Config::from_json(&value, "<object>").map_err(|e| to_js(e.into()))?)
            }
            (None, Some(path)) => Some(kitty_orchestrator::Config::from_path(&path).map_err(|e| to_js(e.into()))?),
            (None, None) => None,
        };
        kitty_orchestrator::Orchestrator::open(&repo, config).map(|inner| NativeOrchestrator { inner }).map_err(to_js)
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
        let options: serde_json::Value = serde_json::from_str(&options_json)
            .map_err(|e| napi::Error::new(Code("invalid_options"), e.to_string()))?;
        let opts = RunOptions::from_json(&options);
        let on_event = on_event.map(Arc::new);
        let sink: EventSink = match on_event.clone() {
            Some(callback) => Arc::new(move |event: Event| {
                callback.call(json(&event), ThreadsafeFunctionCallMode::NonBlocking);
            }),
            None => no_events(),
        };
        let orch = self.inner.clone();
        runtime().spawn(async move {
            let result = orch.run(&feature, opts, sink, CancellationToken::new()).await;
            let text = match result {
                Ok(summary) => json(&serde_json::json!({"ok": true, "summary": summary})),
                Err(err) => error_json(&err),
            };
            on_done.call(text, ThreadsafeFunctionCallMode::Blocking);
            drop(on_event);
        });
        Ok(())
    }

    /// `{"run": …, "wps": {id: state}}` as JSON text.
    #[napi]
    pub fn status(&self, feature: String) -> napi::Result<String, Code> {
        self.inner.status_json(&feature).map(|v| json(&v)).map_err(to_js)
    }

    /// Events of one WP or all, oldest first, as JSON text.
    #[napi]
    pub fn history(&self, feature: String, wp: Option<String>) -> napi::Result<String, Code> {
        self.inner.history_json(&feature, wp.as_deref()).map(|v| json(&v)).map_err(to_js)
    }

    /// Aborts the feature's run; whether a live run was signalled.
    #[napi]
    pub fn abort(&self, feature: String) -> napi::Result<bool, Code> {
        self.inner.abort(&feature).map_err(to_js)
    }

    /// Moves a blocked WP back to planned; its new state as JSON text.
    #[napi]
    pub fn retry(&self, feature: String, wp: String) -> napi::Result<String, Code> {
        self.inner.retry(&feature, &wp).map(|s| json(&s)).map_err(to_js)
    }
}

/// Every known agent (built-in and configured), found on PATH or not, as JSON text.
#[napi]
pub fn detect_agents_json(config_json: Option<String>) -> napi::Result<String, Code> {
    let config = match config_json {
        Some(text) => {
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| napi::Error::new(Code("config_invalid"), e.to_string()))?;
            kitty_orchestrator::Config::from_json(&value, "<object>").map_err(|e| to_js(e.into()))?
        }
        None => kitty_orchestrator::Config::default(),
    };
    Ok(json(&runtime().block_on(kitty_orchestrator::agents::detect(&config))))
}
