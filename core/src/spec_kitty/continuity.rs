//! spec-kitty 4.0's reducer rules (`spec_kitty_events.diary` 10.5.1, which 4.0.0rc7 uses), where
//! they differ from 3.x's "the last event wins":
//!
//! - **order**: `(at, event_id)`, except that an `approved → X` departure sorts after the approval
//!   it left, even when a reviewer's clock ran ahead (the departure's sort key is lifted to its
//!   approval's `at`, and the same WP's later events are carried along);
//! - **arm (i)**: at one instant a rollback (a rejection back to `planned`/`claimed`/
//!   `in_progress`) beats a forward move and is never beaten by one;
//! - **arm (ii), continuity**: an unforced event whose `from_lane` is not the lane in force is
//!   dropped — it branched off an earlier state;
//! - **reconstruction seeds** (actors `migration:…`, written by `spec-kitty upgrade`) are
//!   best-effort restatements: they yield to real events, and a seed that loses still fills the
//!   claim and verdict slots no real event wrote;
//! - **projections**: `implementer_of_record` (the newest claimant-bearing claim) and the
//!   cancellation reason of a WP that ends canceled.
//!
//! The names follow the Python functions they port, so a reader can hold the two side by side.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value as Json};

use super::transition::{actor_identity, cancellation_source, lane_name, state_from_event, text, truthy};

type Event = Map<String, Json>;

/// Lanes a rejection rolls a WP back to.
const ROLLBACK_TARGETS: [&str; 3] = ["planned", "claimed", "in_progress"];

fn from(e: &Event) -> &str {
    lane_name(text(e, "from_lane"))
}

fn to(e: &Event) -> &str {
    lane_name(text(e, "to_lane"))
}

fn key(e: &Event) -> (&str, &str) {
    (text(e, "at"), text(e, "event_id"))
}

/// `_is_reconstruction_seed`: an event a migration wrote, not a decision.
pub(super) fn is_seed(e: &Event) -> bool {
    actor_identity(e.get("actor")).as_str().is_some_and(|a| a.starts_with("migration:"))
}

/// `_is_rollback_event` (4.0): a rejection back to a pre-review lane.
pub(super) fn is_rollback(e: &Event) -> bool {
    let back = ROLLBACK_TARGETS.contains(&to(e));
    match from(e) {
        "in_review" => back,
        "for_review" => back && e.get("review_ref").is_some_and(|r| !r.is_null()),
        _ => false,
    }
}

fn is_rollback_seed(e: &Event) -> bool {
    is_seed(e) && is_rollback(e)
}

fn is_approval(e: &Event) -> bool {
    to(e) == "approved" && from(e) != "approved"
}

fn is_departure(e: &Event) -> bool {
    from(e) == "approved" && to(e) != "approved"
}

/// `_dedup_transitions`: first occurrence of each id, except that a group made only of seeds
/// keeps its canonical-minimum row (so the result does not depend on file order).
pub(super) fn dedup<'a>(transitions: &'a [Event]) -> Vec<&'a Event> {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: HashMap<&str, Vec<&'a Event>> = HashMap::new();
    for e in transitions {
        let id = text(e, "event_id");
        groups
            .entry(id)
            .or_insert_with(|| {
                order.push(id);
                Vec::new()
            })
            .push(e);
    }
    order
        .into_iter()
        .map(|id| {
            let rows = &groups[id];
            if rows.len() > 1 && rows.iter().all(|r| is_seed(r)) {
                rows.iter()
                    .copied()
                    .min_by_key(|r| super::json::event_line(&Json::Object((*r).clone())))
                    .unwrap_or(rows[0])
            } else {
                rows[0]
            }
        })
        .collect()
}

/// `_approved_departure_sort_at`: for each departure from `approved` that would sort before the
/// approval it left (a clock-ahead reviewer), the `at` it must sort at instead.
fn approved_departure_sort_at(events: &[&Event]) -> HashMap<String, String> {
    let mut arrivals: HashMap<&str, Vec<&Event>> = HashMap::new();
    let mut departures: HashMap<&str, Vec<&Event>> = HashMap::new();
    for e in events.iter().copied().filter(|e| !is_seed(e)) {
        if is_approval(e) {
            arrivals.entry(text(e, "wp_id")).or_default().push(e);
        } else if is_departure(e) {
            departures.entry(text(e, "wp_id")).or_default().push(e);
        }
    }
    let mut lifted = HashMap::new();
    for (wp, mut ordered) in departures {
        let mut unbound = arrivals.remove(wp).unwrap_or_default();
        unbound.sort_by(|a, b| key(a).cmp(&key(b)));
        ordered.sort_by(|a, b| key(a).cmp(&key(b)));
        let mut skewed = Vec::new();
        for departure in ordered {
            let at = text(departure, "at");
            match unbound.iter().rposition(|a| text(a, "at") <= at) {
                Some(i) => {
                    unbound.remove(i);
                }
                None => skewed.push(departure),
            }
        }
        for departure in skewed {
            let at = text(departure, "at");
            if let Some(i) = unbound.iter().position(|a| text(a, "at") > at) {
                let approval = unbound.remove(i);
                lifted.insert(text(departure, "event_id").to_string(), text(approval, "at").to_string());
            }
        }
    }
    lifted
}

/// `_carry_lifted_sort_at`: each lifted departure raises a floor for its WP's later events, so
/// the rework that followed it still sorts after it. Returns the sort `at` of every carried or
/// lifted event and a sequence number keeping them in their original order.
fn carry_lifted_sort_at(
    events: &[&Event],
    lifted: HashMap<String, String>,
) -> (HashMap<String, String>, HashMap<String, usize>) {
    if lifted.is_empty() {
        return (HashMap::new(), HashMap::new());
    }
    let mut sorted: Vec<&Event> = events.to_vec();
    sorted.sort_by(|a, b| key(a).cmp(&key(b)));
    let mut effective = lifted.clone();
    let mut seq = HashMap::new();
    let mut floors: HashMap<&str, String> = HashMap::new();
    for (position, e) in sorted.into_iter().enumerate() {
        let (wp, id, at) = (text(e, "wp_id"), text(e, "event_id"), text(e, "at"));
        let floor = floors.get(wp).cloned();
        if let Some(raised) = lifted.get(id) {
            let current = floor.unwrap_or_default();
            floors.insert(wp, if *raised > current { raised.clone() } else { current });
            seq.insert(id.to_string(), position + 1);
        } else if let Some(floor) = floor.filter(|f| at < f.as_str()) {
            effective.insert(id.to_string(), floor);
            seq.insert(id.to_string(), position + 1);
        }
    }
    (effective, seq)
}

/// `_order_transitions`: `(at, event_id)`, a real `approved → X` after its approval.
pub(super) fn order(events: Vec<&Event>) -> Vec<&Event> {
    let approvals: HashSet<(&str, &str)> =
        events.iter().filter(|e| is_approval(e) && !is_seed(e)).map(|e| (text(e, "wp_id"), text(e, "at"))).collect();
    let (effective, seq) = carry_lifted_sort_at(&events, approved_departure_sort_at(&events));
    let mut keyed: Vec<(SortKey, &Event)> = events
        .iter()
        .map(|e| {
            let id = text(e, "event_id");
            let sort_at = effective.get(id).cloned().unwrap_or_else(|| text(e, "at").to_string());
            let after_approval = seq.contains_key(id)
                || (from(e) == "approved" && !is_seed(e) && approvals.contains(&(text(e, "wp_id"), text(e, "at"))));
            ((sort_at, after_approval, seq.get(id).copied().unwrap_or(0), id.to_string()), *e)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, e)| e).collect()
}

/// `(sort at, follows its approval, carried sequence, event_id)`.
type SortKey = (String, bool, usize, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arbitration {
    Apply,
    LostToRollback,
    LostOnContinuity,
}

/// `_is_bare_sibling`: `approval` left the same lane as the rollback `seed` and nothing real was
/// built on it.
fn is_bare_sibling(approval: &Event, seed: &Event, all: &[&Event]) -> bool {
    if is_rollback(approval) || to(approval) != "approved" || from(approval) != from(seed) {
        return false;
    }
    let (wp, k) = (text(approval, "wp_id"), key(approval));
    !all.iter().any(|e| text(e, "wp_id") == wp && from(e) == "approved" && !is_seed(e) && key(e) > k)
}

fn yields_to_real(setter: &Event, new: &Event, all: &[&Event]) -> bool {
    is_rollback_seed(setter) && !is_seed(new) && !is_bare_sibling(new, setter, all)
}

fn same_timestamp_verdict(new: &Event, setter: Option<&Event>, all: &[&Event]) -> Option<Arbitration> {
    let setter = setter?;
    if is_rollback(new) {
        if is_rollback(setter) {
            return None;
        }
        if !is_seed(new) || is_bare_sibling(setter, new, all) {
            return Some(Arbitration::Apply);
        }
        return None;
    }
    (is_rollback(setter) && !yields_to_real(setter, new, all)).then_some(Arbitration::LostToRollback)
}

fn continuity_exempt(new: &Event, setter: &Event, all: &[&Event]) -> bool {
    if is_rollback(new) {
        if !is_seed(new) {
            return true;
        }
        return is_rollback_seed(setter) || is_bare_sibling(setter, new, all);
    }
    if is_seed(new) {
        return false;
    }
    if is_seed(setter) && !is_rollback(setter) {
        return true;
    }
    yields_to_real(setter, new, all)
}

fn arbitrate(current: Option<&Event>, new: &Event, all: &[&Event], by_id: &HashMap<&str, &Event>) -> Arbitration {
    let Some(current) = current else { return Arbitration::Apply };
    let setter = current.get("last_event_id").and_then(Json::as_str).and_then(|id| by_id.get(id).copied());
    if current.get("last_transition_at").and_then(Json::as_str) == Some(text(new, "at"))
        && let Some(verdict) = same_timestamp_verdict(new, setter, all)
    {
        return verdict;
    }
    let forced = new.get("force").and_then(Json::as_bool).unwrap_or(false);
    let lane = current.get("lane").and_then(Json::as_str).unwrap_or("");
    match setter {
        Some(setter) if !forced && from(new) != lane && !continuity_exempt(new, setter, all) => {
            Arbitration::LostOnContinuity
        }
        _ => Arbitration::Apply,
    }
}

/// `_claim_sidecar_writes`: what a `planned → claimed` event's `policy_metadata` writes.
fn claim_sidecar_writes(e: &Event) -> Vec<(&'static str, Json)> {
    if from(e) != "planned" || to(e) != "claimed" {
        return Vec::new();
    }
    let Some(meta) = e.get("policy_metadata").and_then(Json::as_object) else { return Vec::new() };
    let mut writes = Vec::new();
    for slot in ["shell_pid", "shell_pid_created_at"] {
        if let Some(value) = meta.get(slot).filter(|v| !v.is_null()) {
            writes.push((slot, value.clone()));
        }
    }
    if let Some(agent) = meta.get("agent").filter(|a| truthy(a)) {
        writes.push(("agent", agent.clone()));
    }
    writes
}

fn writes_verdict(e: &Event) -> bool {
    e.get("review_result").is_some_and(|r| !r.is_null()) || from(e) == "in_review"
}

/// Who wrote a WP's claim and verdict slots: a real event, or a seed.
#[derive(Default)]
struct Provenance {
    real: HashSet<&'static str>,
    seed: HashSet<&'static str>,
}

fn record_applied(e: &Event, state: &mut Event, prov: &mut Provenance) {
    let writes: Vec<&'static str> = claim_sidecar_writes(e).into_iter().map(|(slot, _)| slot).collect();
    let mut wrote: HashSet<&'static str> = writes.iter().copied().collect();
    if writes_verdict(e) {
        wrote.insert("review_result");
    }
    if is_seed(e) && !is_rollback(e) {
        prov.seed.extend(wrote);
        return;
    }
    if writes.contains(&"shell_pid")
        && !writes.contains(&"shell_pid_created_at")
        && prov.seed.remove("shell_pid_created_at")
    {
        state.remove("shell_pid_created_at");
    }
    for slot in wrote {
        prov.seed.remove(slot);
        prov.real.insert(slot);
    }
}

fn fold_losing_seed(e: &Event, state: &mut Event, prov: &mut Provenance) {
    for (slot, value) in claim_sidecar_writes(e) {
        if prov.real.contains(slot) || (slot == "shell_pid_created_at" && prov.real.contains("shell_pid")) {
            continue;
        }
        state.insert(slot.into(), value);
        prov.seed.insert(slot);
    }
    if let Some(review) = e.get("review_result").filter(|r| !r.is_null())
        && !prov.real.contains("review_result")
    {
        state.insert("review_result".into(), review.clone());
        prov.seed.insert("review_result");
    }
}

/// `_fold_transitions`: the per-WP states of `sorted` (already ordered by [`order`]).
pub(super) fn fold(sorted: &[&Event]) -> Map<String, Json> {
    let by_id: HashMap<&str, &Event> = sorted.iter().map(|e| (text(e, "event_id"), *e)).collect();
    let mut states: HashMap<String, Event> = HashMap::new();
    let mut provenance: HashMap<String, Provenance> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for e in sorted {
        let wp = text(e, "wp_id").to_string();
        let prov = provenance.entry(wp.clone()).or_default();
        let current = states.get(&wp);
        match arbitrate(current, e, sorted, &by_id) {
            Arbitration::Apply => {
                let mut next = state_from_event(e, current, false);
                record_applied(e, &mut next, prov);
                if !states.contains_key(&wp) {
                    order.push(wp.clone());
                }
                states.insert(wp, next);
            }
            Arbitration::LostOnContinuity if is_seed(e) => {
                if let Some(state) = states.get_mut(&wp) {
                    fold_losing_seed(e, state, prov);
                }
            }
            Arbitration::LostOnContinuity | Arbitration::LostToRollback => {}
        }
    }
    order.into_iter().filter_map(|wp| states.remove(&wp).map(|s| (wp, Json::Object(s)))).collect()
}

/// The transitions deduplicated by first occurrence and sorted by `(at, event_id)`, as both
/// projections read them.
fn unique_sorted(transitions: &[Event]) -> Vec<&Event> {
    let mut seen = HashSet::new();
    let mut events: Vec<&Event> = transitions.iter().collect();
    events.sort_by(|a, b| key(a).cmp(&key(b)));
    events.retain(|e| seen.insert(text(e, "event_id")));
    events
}

/// `_project_cancellation_provenance`: a WP that ends canceled carries its cancel's reason.
pub(super) fn project_cancellation(transitions: &[Event], states: &mut Map<String, Json>) {
    for e in unique_sorted(transitions) {
        if to(e) != "canceled" {
            continue;
        }
        let Some(state) = states.get_mut(text(e, "wp_id")).and_then(Json::as_object_mut) else { continue };
        if state.get("lane").and_then(Json::as_str) != Some("canceled") {
            continue;
        }
        state.insert("cancellation_reason".into(), e.get("reason").cloned().unwrap_or(Json::Null));
        state.insert("reason_source".into(), cancellation_source(e));
    }
}

/// `_project_implementer_attribution`: each WP's newest claimant-bearing claim names its
/// implementer of record; a seed's only when no real claim is at or after it.
pub(super) fn project_implementer(transitions: &[Event], states: &mut Map<String, Json>) {
    let unique = unique_sorted(transitions);
    let claimant = |e: &Event| -> Option<Json> {
        let agent = e.get("policy_metadata")?.as_object()?.get("agent")?;
        (from(e) == "planned" && to(e) == "claimed" && truthy(agent)).then(|| agent.clone())
    };
    let claims: Vec<(&Event, Json)> = unique.iter().filter_map(|e| claimant(e).map(|a| (*e, a))).collect();
    let mut latest_real: HashMap<&str, &str> = HashMap::new();
    for (e, _) in claims.iter().filter(|(e, _)| !is_seed(e)) {
        let at = latest_real.entry(text(e, "wp_id")).or_insert("");
        if text(e, "at") > *at {
            *at = text(e, "at");
        }
    }
    for (e, agent) in claims {
        let wp = text(e, "wp_id");
        if is_seed(e) && latest_real.get(wp).copied().unwrap_or("") >= text(e, "at") {
            continue;
        }
        if let Some(state) = states.get_mut(wp).and_then(Json::as_object_mut) {
            let name = agent.as_str().map_or_else(|| agent.to_string(), str::to_string);
            state.insert("implementer_of_record".into(), Json::String(name));
        }
    }
}
