//! `status()` and `statusSync()`: the board read from git on a thread of its own and handed over
//! in batches of WPs, which the JS thread writes as camelCase JSON text and parses (`JSON.parse`,
//! far faster than N-API property by property) while the next batch is read. `statusSync()` waits
//! for each batch; `status()` is told of each by a callback, so the JS thread is free meanwhile.
//! The package joins the batches into one `wps` object; when the refs did not come in WP id
//! order, the head says the order to rebuild it in, so every path gives the same object as the
//! CLI's `--json`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use kitty_orchestrator::ids::WpId;
use kitty_orchestrator::state::WpState;
use napi_derive::napi;

use crate::errors::{Code, guard, panic_text, to_js};
use crate::shape::to_js_json;

/// WPs per batch of JSON text: few enough wake-ups, and the first batch is soon ready.
const BATCH: usize = 50;

/// What is left of a status once its WPs were handed over in batches.
#[napi(object)]
#[derive(serde::Serialize)]
pub struct StatusHead {
    /// The status as camelCase JSON text, with `wps` an empty object.
    pub head: String,
    /// The WP ids in id order, when the batches did not come in that order (else null).
    pub order: Option<Vec<String>>,
}

/// Reads the status of `feature`, handing each batch of WPs to `batch` as soon as it is read.
fn read_batches(
    orch: &kitty_orchestrator::Orchestrator,
    feature: &str,
    batch: &mut dyn FnMut(Vec<(WpId, WpState)>),
) -> Result<StatusHead, kitty_orchestrator::Error> {
    let mut pending: Vec<(WpId, WpState)> = Vec::with_capacity(BATCH);
    let mut ids: Vec<WpId> = Vec::new();
    let mut in_order = true;
    let status = orch.status_each(feature, &mut |id, state| {
        in_order &= ids.last().is_none_or(|last| *last < id);
        ids.push(id.clone());
        pending.push((id, state));
        if pending.len() == BATCH {
            batch(std::mem::replace(&mut pending, Vec::with_capacity(BATCH)));
        }
    })?;
    if !pending.is_empty() {
        batch(pending);
    }
    let order = (!in_order).then(|| {
        ids.sort();
        ids.iter().map(WpId::to_string).collect()
    });
    Ok(StatusHead { head: to_js_json(&status), order })
}

/// A batch of WP states written as one JSON object, by id.
struct Batch<'a>(&'a [(WpId, WpState)]);

impl serde::Serialize for Batch<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(id, state)| (id.as_str(), state)))
    }
}

/// How a read ended: its head, its error, or the message of its panic.
type Outcome = Result<Result<StatusHead, kitty_orchestrator::Error>, String>;

/// A status being read: `next()` gives the batches as they are read, `finish()` the rest.
#[napi]
pub struct StatusStream {
    batches: Option<mpsc::Receiver<Vec<(WpId, WpState)>>>,
    /// Written batches go back to the reader to be freed there (see `start`).
    spent: Option<mpsc::Sender<Vec<(WpId, WpState)>>>,
    outcome: Option<mpsc::Receiver<Outcome>>,
}

impl StatusStream {
    /// Starts reading the status of `feature` on a thread of the runtime's blocking pool (kept
    /// from call to call: a new thread for each read, with its new stack and allocator arena,
    /// was measured slower). The JSON text is written on the JS thread, which would otherwise
    /// wait for the reader; the states it wrote are freed by the reader, whose allocator arena
    /// they came from.
    ///
    /// `notify` (when given) is called with `false` after each batch is ready, so `next()` will
    /// not wait, and with `true` once all were given and `finish()` will not wait either.
    pub fn start(
        orch: kitty_orchestrator::Orchestrator,
        feature: String,
        notify: Option<Box<dyn Fn(bool) + Send>>,
    ) -> Self {
        let (tx, rx) = mpsc::channel();
        let (spent_tx, spent_rx) = mpsc::channel::<Vec<(WpId, WpState)>>();
        let (done_tx, done_rx) = mpsc::channel();
        kitty_orchestrator::runtime::shared().expect("a tokio runtime").spawn_blocking(move || {
            let notify = |finished| {
                if let Some(notify) = &notify {
                    notify(finished);
                }
            };
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                // A send fails only once the stream was dropped unfinished: nobody is reading.
                read_batches(&orch, &feature, &mut |batch| {
                    if tx.send(batch).is_ok() {
                        notify(false);
                    }
                })
            }));
            drop(tx);
            let _ = done_tx.send(outcome.map_err(panic_text));
            notify(true);
            for spent in spent_rx {
                drop(spent);
            }
        });
        StatusStream { batches: Some(rx), spent: Some(spent_tx), outcome: Some(done_rx) }
    }
}

#[napi]
impl StatusStream {
    /// The next batch of WPs as JSON text, waiting for it; null once all were given.
    #[napi]
    pub fn next(&mut self) -> napi::Result<Option<String>, Code> {
        guard(|| {
            let Some(batch) = self.batches.as_ref().and_then(|rx| rx.recv().ok()) else {
                (self.batches, self.spent) = (None, None);
                return Ok(None);
            };
            let text = to_js_json(&Batch(&batch));
            if let Some(spent) = &self.spent {
                let _ = spent.send(batch);
            }
            Ok(Some(text))
        })
    }

    /// The status without its WPs (and their order, if it has to be restored); the read's error,
    /// if it failed. Call after `next()` gave null.
    #[napi]
    pub fn finish(&mut self) -> napi::Result<StatusHead, Code> {
        guard(|| {
            // Batches nobody asked for are dropped, so the reader cannot wait on them.
            (self.batches, self.spent) = (None, None);
            let outcome =
                self.outcome.take().ok_or_else(|| napi::Error::new(Code("internal"), "finish() called twice"))?;
            match outcome.recv() {
                Ok(Ok(head)) => head.map_err(to_js),
                Ok(Err(panic)) => Err(napi::Error::new(Code("internal"), format!("internal error: {panic}"))),
                Err(_) => Err(napi::Error::new(Code("internal"), "internal error: the status reader stopped")),
            }
        })
    }
}
