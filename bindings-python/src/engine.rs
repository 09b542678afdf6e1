//! `Orchestrator`, `Config` and `detect_agents`: the engine from Python. Runs release the GIL;
//! event callbacks run on runtime threads (taking the GIL for the call); Ctrl-C cancels the run
//! cleanly before `KeyboardInterrupt` is raised.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kitty_orchestrator::engine::{Event, EventSink, MergeOptions, PrOptions, PushOptions, RunOptions, no_events};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tokio_util::sync::CancellationToken;

use crate::convert::{json_to_py, py_to_json, to_py as value_to_py, to_typed};
use crate::errors::to_py;

fn runtime() -> PyResult<std::sync::Arc<tokio::runtime::Runtime>> {
    kitty_orchestrator::runtime::shared()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the tokio runtime: {e}")))
}

/// The configuration (`.kittify/orchestrator.toml` keys), validated.
#[pyclass(frozen, module = "kitty_orchestrator")]
pub struct Config {
    pub(crate) inner: kitty_orchestrator::Config,
}

#[pymethods]
impl Config {
    /// Loads a configuration file.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Config> {
        kitty_orchestrator::Config::from_path(&path).map(|inner| Config { inner }).map_err(|e| to_py(py, e.into()))
    }

    /// Validates a dict with the same keys as the file.
    #[staticmethod]
    fn from_dict(py: Python<'_>, data: &Bound<'_, PyDict>) -> PyResult<Config> {
        let value = py_to_json(data.as_any(), "config")?;
        kitty_orchestrator::Config::from_json(&value, "<dict>")
            .map(|inner| Config { inner })
            .map_err(|e| to_py(py, e.into()))
    }

    /// The whole configuration as a dict (defaults filled in).
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &serde_json::to_value(&self.inner).expect("config serializes"))
    }

    fn __repr__(&self) -> String {
        format!(
            "Config(max_concurrent_wps={}, implementation={:?}, review={:?})",
            self.inner.max_concurrent_wps, self.inner.agents.implementation, self.inner.agents.review
        )
    }
}

fn config_from(py: Python<'_>, config: Option<&Bound<'_, PyAny>>) -> PyResult<Option<kitty_orchestrator::Config>> {
    let Some(config) = config.filter(|c| !c.is_none()) else { return Ok(None) };
    if let Ok(c) = config.cast::<Config>() {
        return Ok(Some(c.get().inner.clone()));
    }
    if let Ok(dict) = config.cast::<PyDict>() {
        return Ok(Some(Config::from_dict(py, dict)?.inner));
    }
    let path: PathBuf = config.extract()?;
    Ok(Some(Config::load(py, path)?.inner))
}

/// The native orchestrator (wrapped by `kitty_orchestrator.Orchestrator`).
#[pyclass(frozen, module = "kitty_orchestrator._native", name = "Orchestrator")]
pub struct NativeOrchestrator {
    inner: kitty_orchestrator::Orchestrator,
}

#[pymethods]
impl NativeOrchestrator {
    #[new]
    #[pyo3(signature = (repo, config=None, format=None, include_optional=None))]
    fn new(
        py: Python<'_>,
        repo: PathBuf,
        config: Option<&Bound<'_, PyAny>>,
        format: Option<String>,
        include_optional: Option<bool>,
    ) -> PyResult<Self> {
        let config = config_from(py, config)?;
        let mut inner = kitty_orchestrator::Orchestrator::open(&repo, config).map_err(|e| to_py(py, e))?;
        let load =
            kitty_orchestrator::engine::load_options(format.as_deref(), false).map_err(|e| to_py(py, e.into()))?;
        inner = inner.with_feature_format(load.format);
        if let Some(include) = include_optional {
            inner = inner.with_optional_tasks(include);
        }
        Ok(NativeOrchestrator { inner })
    }

    /// Runs a feature; returns the summary (a dict). `options` is a dict of
    /// `RunOptionsSpec` keys; events go to `on_event` as dicts.
    #[pyo3(signature = (feature, options, on_event=None))]
    fn run(
        &self,
        py: Python<'_>,
        feature: String,
        options: &Bound<'_, PyDict>,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let options = py_to_json(options.as_any(), "options")?;
        let opts = RunOptions::from_json(&options).map_err(|e| to_py(py, e.into()))?;
        let orch = self.inner.clone();
        drive(py, on_event, "run", move |sink, token| async move { orch.run(&feature, opts, sink, token).await })
    }

    /// Lands the done WPs of a feature; returns the merge report (a dict). `options` is a dict
    /// of `MergeOptions` keys (`into`, `strategy`, `partial`, `dry_run`, `resolve`).
    #[pyo3(signature = (feature, options, on_event=None))]
    fn merge(
        &self,
        py: Python<'_>,
        feature: String,
        options: &Bound<'_, PyDict>,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let options = py_to_json(options.as_any(), "options")?;
        let opts = MergeOptions::from_json(&options).map_err(|e| to_py(py, e.into()))?;
        let orch = self.inner.clone();
        drive(py, on_event, "merge", move |sink, token| async move { orch.merge(&feature, opts, sink, token).await })
    }

    /// Pushes what landed; returns the push report (a dict). `options`: `PushOptions` keys
    /// (`remote`, `branch`, `branches`).
    fn push(&self, py: Python<'_>, feature: String, options: &Bound<'_, PyDict>) -> PyResult<Py<PyAny>> {
        let options = py_to_json(options.as_any(), "options")?;
        let opts = PushOptions::from_json(&options).map_err(|e| to_py(py, e.into()))?;
        let orch = self.inner.clone();
        drive(py, None, "push", move |_sink, token| async move { orch.push(&feature, opts, token).await })
    }

    /// Pushes the landed branch and opens (or updates) its pull request; returns the report (a
    /// dict). `options`: `PrOptions` keys (`remote`, `head`, `base`).
    fn pull_request(&self, py: Python<'_>, feature: String, options: &Bound<'_, PyDict>) -> PyResult<Py<PyAny>> {
        let options = py_to_json(options.as_any(), "options")?;
        let opts = PrOptions::from_json(&options).map_err(|e| to_py(py, e.into()))?;
        let orch = self.inner.clone();
        drive(
            py,
            None,
            "pull request",
            move |_sink, token| async move { orch.pull_request(&feature, opts, token).await },
        )
    }

    /// The feature's report (a dict).
    fn report(&self, py: Python<'_>, feature: &str) -> PyResult<Py<PyAny>> {
        let report = py.detach(|| self.inner.report(feature)).map_err(|e| to_py(py, e))?;
        value_to_py(py, &report)
    }

    /// The feature as a graph to draw (a dict: nodes, edges, lanes, fingerprint).
    fn graph(&self, py: Python<'_>, feature: &str) -> PyResult<Py<PyAny>> {
        let graph = py.detach(|| self.inner.graph(feature)).map_err(|e| to_py(py, e))?;
        value_to_py(py, &graph)
    }

    /// Waits (the GIL released) until the feature's refs fingerprint differs from `last` — told
    /// by the kernel when refs move — or `timeout_s` passed; returns the fingerprint now.
    #[pyo3(signature = (feature, last, timeout_s))]
    fn wait_refs(&self, py: Python<'_>, feature: &str, last: Option<String>, timeout_s: f64) -> PyResult<String> {
        let orch = self.inner.clone();
        let feature = feature.to_string();
        let timeout = std::time::Duration::from_secs_f64(timeout_s.clamp(0.0, 3600.0));
        let runtime = runtime()?;
        let waited = py.detach(move || -> Result<String, kitty_orchestrator::Error> {
            runtime.block_on(async move {
                let mut refs = orch.watch_refs(std::time::Duration::from_millis(300))?;
                let deadline = tokio::time::Instant::now() + timeout;
                loop {
                    let now = orch.refs_fingerprint(&feature)?;
                    if last.as_deref() != Some(now.as_str()) || tokio::time::Instant::now() >= deadline {
                        return Ok(now);
                    }
                    tokio::select! {
                        () = refs.changed() => {}
                        () = tokio::time::sleep_until(deadline) => {}
                    }
                }
            })
        });
        waited.map_err(|e| to_py(py, e))
    }

    /// The feature's status (a typed `FeatureStatus`; see `crate::status`).
    fn status(&self, py: Python<'_>, feature: &str) -> PyResult<Py<PyAny>> {
        crate::status::status(py, &self.inner, feature)
    }

    /// Events of one WP or all, oldest first (typed `HistoryEntry` objects).
    #[pyo3(signature = (feature, wp=None))]
    fn history(&self, py: Python<'_>, feature: &str, wp: Option<&str>) -> PyResult<Py<PyAny>> {
        let history = py.detach(|| self.inner.history(feature, wp)).map_err(|e| to_py(py, e))?;
        to_typed(py, &history)
    }

    /// Aborts the feature's run; whether a live run was signalled.
    fn abort(&self, py: Python<'_>, feature: &str) -> PyResult<bool> {
        py.detach(|| self.inner.abort(feature)).map_err(|e| to_py(py, e))
    }

    /// The board as the shared remote has it (a dict: `remote`, `feature`, `wps`, `corrupt`,
    /// `hosts`, `abort_requested`); `remote` defaults to `sync_remote`.
    #[pyo3(signature = (feature, remote=None))]
    fn status_remote(&self, py: Python<'_>, feature: String, remote: Option<String>) -> PyResult<Py<PyAny>> {
        let orch = self.inner.clone();
        drive(py, None, "status_remote", move |_sink, _token| async move {
            orch.status_remote(&feature, remote.as_deref()).await
        })
    }

    /// Records an abort on the shared remote for every machine's run (a dict: `remote`,
    /// `request`, `local_run`); `remote` defaults to `sync_remote`.
    #[pyo3(signature = (feature, remote=None))]
    fn abort_remote(&self, py: Python<'_>, feature: String, remote: Option<String>) -> PyResult<Py<PyAny>> {
        let orch = self.inner.clone();
        drive(py, None, "abort_remote", move |_sink, _token| async move {
            orch.abort_remote(&feature, remote.as_deref()).await
        })
    }

    /// Moves a blocked WP back to planned; its new state (a typed `WpState`).
    fn retry(&self, py: Python<'_>, feature: &str, wp: &str) -> PyResult<Py<PyAny>> {
        let state = py.detach(|| self.inner.retry(feature, wp)).map_err(|e| to_py(py, e))?;
        to_typed(py, &state)
    }

    /// Releases a WP held by a run that cannot release it; its new state (a typed `WpState`).
    fn release(&self, py: Python<'_>, feature: &str, wp: &str) -> PyResult<Py<PyAny>> {
        let state = py.detach(|| self.inner.release(feature, wp)).map_err(|e| to_py(py, e))?;
        to_typed(py, &state)
    }
}

/// Runs `work` on the runtime with the GIL released, events delivered to `on_event` (typed by
/// the wrapper) from a thread of their own, and returns its result as Python data. Ctrl-C (or a
/// signal the wrapper turned into an exception) cancels the work cleanly, then raises.
pub(crate) fn drive<T, Fut>(
    py: Python<'_>,
    on_event: Option<Py<PyAny>>,
    what: &'static str,
    work: impl FnOnce(EventSink, CancellationToken) -> Fut + Send + 'static,
) -> PyResult<Py<PyAny>>
where
    T: serde::Serialize + Send + 'static,
    Fut: std::future::Future<Output = Result<T, kitty_orchestrator::Error>> + Send + 'static,
{
    // Events go through a queue to a thread of their own that calls back into Python: the
    // engine never waits on user code, so a slow callback cannot delay a timeout or an abort.
    let (sink, delivery): (EventSink, Option<std::thread::JoinHandle<()>>) = match on_event {
        Some(callback) => {
            let (tx, rx) = std::sync::mpsc::channel::<Event>();
            let tx = Mutex::new(tx);
            let delivery = std::thread::Builder::new()
                .name("kitty-orchestrator-events".into())
                .spawn(move || deliver_events(rx, callback))
                .map_err(|e| PyRuntimeError::new_err(format!("cannot start the event thread: {e}")))?;
            let sink: EventSink = Arc::new(move |event: Event| {
                let _ = tx.lock().unwrap_or_else(|e| e.into_inner()).send(event);
            });
            (sink, Some(delivery))
        }
        None => (no_events(), None),
    };
    // Every event is delivered before this returns: wait for the queue to drain (without the
    // GIL, which the delivery thread needs).
    let finish = |py: Python<'_>| {
        if let Some(thread) = delivery {
            py.detach(|| {
                let _ = thread.join();
            });
        }
    };
    let rt = runtime()?;
    let cancel = CancellationToken::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let token = cancel.clone();
    rt.spawn(async move {
        // A panic inside must become an error here, not a call that never returns.
        let task = tokio::spawn(work(sink, token));
        let result = match task.await {
            Ok(result) => result,
            Err(err) => {
                Err(kitty_orchestrator::error::EngineError::Internal(format!("the {what} panicked: {err}")).into())
            }
        };
        let _ = tx.send(result);
    });
    // A Receiver is not Sync; the Mutex lets the GIL-free closure borrow it.
    let rx = Mutex::new(rx);
    let recv = |timeout: Option<Duration>| {
        let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
        match timeout {
            Some(t) => rx.recv_timeout(t),
            None => rx.recv().map_err(|_| std::sync::mpsc::RecvTimeoutError::Disconnected),
        }
    };
    loop {
        match py.detach(|| recv(Some(Duration::from_millis(100)))) {
            Ok(result) => {
                finish(py);
                return match result {
                    Ok(value) => value_to_py(py, &value),
                    Err(err) => Err(to_py(py, err)),
                };
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Err(interrupt) = py.check_signals() {
                    cancel.cancel();
                    let _ = py.detach(|| recv(None));
                    finish(py);
                    return Err(interrupt);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                finish(py);
                return Err(PyRuntimeError::new_err(format!("the {what} ended without a result (internal error)")));
            }
        }
    }
}

/// Calls `callback` with each event, in order, until the engine drops its sink. An exception in
/// the callback cannot stop a run happening on other threads: it is reported through
/// sys.unraisablehook and delivery goes on.
fn deliver_events(events: std::sync::mpsc::Receiver<Event>, callback: Py<PyAny>) {
    for event in events {
        Python::attach(|py| {
            let value = serde_json::to_value(&event).expect("events serialize");
            let result = json_to_py(py, &value).and_then(|obj| callback.call1(py, (obj,)).map(|_| ()));
            if let Err(err) = result {
                err.write_unraisable(py, Some(callback.bind(py)));
            }
        });
    }
}

/// Every known agent (built-in and configured), found on PATH or not, with versions (dicts).
#[pyfunction]
#[pyo3(signature = (config=None))]
pub fn detect_agents(py: Python<'_>, config: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
    let config = config_from(py, config)?.unwrap_or_default();
    let rt = runtime()?;
    let found = py.detach(|| rt.block_on(kitty_orchestrator::agents::detect(&config)));
    value_to_py(py, &found)
}
