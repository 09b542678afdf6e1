//! `Orchestrator.status()`: the board read from git on one thread while this one (holding the
//! GIL) builds each WP's typed object as it arrives, so the Python objects cost little more
//! than the read itself instead of being added after it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use kitty_orchestrator::Orchestrator;
use kitty_orchestrator::engine::FeatureStatus;
use kitty_orchestrator::ids::WpId;
use kitty_orchestrator::state::WpState;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::errors::to_py;
use crate::typed::{Builder, Out};

/// WPs handed from the reader to the builder at a time.
const BATCH: usize = 50;

/// The typed `FeatureStatus` of `feature`, its WPs in id order (as `Orchestrator::status`).
pub fn status(py: Python<'_>, orch: &Orchestrator, feature: &str) -> PyResult<Py<PyAny>> {
    let builder = Builder::typed(py)?;
    let (tx, rx) = mpsc::channel::<Vec<(WpId, WpState)>>();
    // Built states go back to the reader to be freed there: freeing them here, against the
    // allocator arena the reader is allocating from, made both threads wait on its lock.
    let (spent_tx, spent_rx) = mpsc::channel::<Vec<WpState>>();
    let (done_tx, done_rx) = mpsc::channel::<Result<Result<FeatureStatus, kitty_orchestrator::Error>, ()>>();
    let (orch, feature) = (orch.clone(), feature.to_string());
    // On the runtime's blocking pool, whose threads are kept from call to call: a new thread
    // per read, with its new stack and allocator arena, was measured slower.
    let runtime = kitty_orchestrator::runtime::shared()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the tokio runtime: {e}")))?;
    runtime.spawn_blocking(move || {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            // Handed over in batches: a wake-up per WP cost more than building its object.
            // A send fails only once this side has given up on an error of its own.
            let mut batch = Vec::with_capacity(BATCH);
            let head = orch.status_each(&feature, &mut |id, state| {
                batch.push((id, state));
                if batch.len() == BATCH {
                    let _ = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                }
            });
            let _ = tx.send(batch);
            head
        }));
        drop(tx);
        for spent in spent_rx {
            drop(spent);
        }
        let _ = done_tx.send(outcome.map_err(|_| ()));
    });
    let mut wps: Vec<(WpId, Out<'_>)> = Vec::new();
    let mut receiver = rx;
    loop {
        // What has arrived is built with the GIL held; waiting for more releases it.
        let batch = match receiver.try_recv() {
            Ok(item) => item,
            Err(mpsc::TryRecvError::Disconnected) => break,
            Err(mpsc::TryRecvError::Empty) => {
                let (back, item) = py.detach(move || {
                    let item = receiver.recv().ok();
                    (receiver, item)
                });
                receiver = back;
                match item {
                    Some(item) => item,
                    None => break,
                }
            }
        };
        let mut spent = Vec::with_capacity(batch.len());
        for (id, state) in batch {
            wps.push((id, builder.build(&state)?));
            spent.push(state);
        }
        let _ = spent_tx.send(spent);
    }
    drop(spent_tx);
    let head = match py.detach(move || done_rx.recv()) {
        Ok(Ok(head)) => head.map_err(|e| to_py(py, e))?,
        Ok(Err(())) => return Err(PyRuntimeError::new_err("internal error: the status reader panicked")),
        Err(_) => return Err(PyRuntimeError::new_err("internal error: the status reader stopped")),
    };
    wps.sort_by(|a, b| a.0.cmp(&b.0));
    let (raw, typed) = (PyDict::new(py), PyDict::new(py));
    for (id, built) in &wps {
        let key = PyString::new(py, id.as_str());
        raw.set_item(&key, built.raw())?;
        typed.set_item(&key, built.typed())?;
    }
    let built = builder.build(&head)?;
    built.set_field("wps", raw.as_any(), typed.as_any())?;
    Ok(built.typed().clone().unbind())
}
