//! Our WP history, told in spec-kitty's lanes. A pure function of the WP's event chain, so the
//! same history always gives the same lines with the same ids: a sync after a crash appends only
//! what is missing, and a second sync appends nothing.
//!
//! | our event | spec-kitty lines |
//! |---|---|
//! | claimed / reclaimed | `planned → claimed` |
//! | worktree ready, implementation started | `claimed → in_progress` (`blocked → in_progress` after a retry), an `agent` annotation |
//! | submitted | a subtasks-done annotation, `in_progress → for_review` |
//! | review started | `for_review → in_review` |
//! | approved | `in_review → approved` with `review_result` and the approval stamp `policy_metadata.lane_head` (spec-kitty's `done` means merged) |
//! | rejected | `in_review → in_progress` with `review_result` and the feedback as reason |
//! | blocked / canceled | `→ blocked` / `→ canceled` with the reason |
//! | merged | `approved → done` with evidence of the review and the landing commit |

use serde_json::{Map, Value as Json, json};

use super::event::{LogLine, MissionIdentity, Transition, annotation_line, derived_id, lane_line, python_isoformat};
use crate::lane::Lane;
use crate::role::Role;
use crate::state::{HistoryEntry, WpEvent, WpState};

/// Longest reason we copy into spec-kitty's log (review feedback can be long).
const MAX_REASON: usize = 4000;

/// Who spec-kitty sees moving a WP when no agent is involved.
pub const ACTOR: &str = "kitty-orchestrator";

/// The spec-kitty lines telling `history` (one WP's chain, oldest first). With `bootstrap`, the
/// import itself is told too (`genesis → <lane>`), for a log that has no lines for the WP yet
/// (spec-kitty's `finalize-tasks` writes those for missions; older features have none).
pub fn lines_for(
    mission: &MissionIdentity,
    wp: &str,
    subtasks: &[String],
    history: &[HistoryEntry],
    bootstrap: bool,
) -> Vec<LogLine> {
    let mut m = Telling {
        mission,
        wp,
        lines: Vec::new(),
        lane: "planned",
        last_micros: 0,
        agent: None,
        reviewer: None,
        subtasks_done: false,
        force_next: false,
        policy_next: None,
    };
    for entry in history {
        let micros = micros_of(&entry.state.updated_at);
        let mut step = Step { seed: entry.state.event_id.clone(), n: 0, micros };
        m.tell(&mut step, entry, subtasks, bootstrap);
    }
    m.lines
}

impl Telling<'_> {
    /// The lines one event of the WP's chain tells (none for events spec-kitty has no word for).
    fn tell(&mut self, step: &mut Step, entry: &HistoryEntry, subtasks: &[String], bootstrap: bool) {
        let (state, wp) = (&entry.state, self.wp);
        match &entry.event {
            WpEvent::Imported { lane } => self.imported(step, *lane, bootstrap),
            WpEvent::Claimed { .. } | WpEvent::Reclaimed { .. } => {
                // The implementer of record, when the chain knows it already (a claim after a
                // release); spec-kitty 4.0 projects it into `implementer_of_record`.
                if self.lane == "planned" {
                    self.policy_next = state.agent.as_ref().map(|agent| json!({"agent": agent}));
                }
                self.claim(step)
            }
            WpEvent::WorktreeReady { .. } => self.start(step, state.agent.as_deref()),
            WpEvent::AgentStarted { agent, role: Role::Implementation, .. } => {
                self.start(step, Some(agent));
                if self.agent.as_deref() != Some(agent.as_str()) {
                    let mut delta = Map::new();
                    delta.insert("agent".into(), json!(agent));
                    self.annotate(step, agent, delta);
                    self.agent = Some(agent.clone());
                }
            }
            WpEvent::AgentStarted { agent, role: Role::Review, .. } => self.review_started(step, agent),
            WpEvent::Submitted { .. } => self.submitted(step, state, subtasks),
            WpEvent::Approved { reviewer } => self.approved(step, state, reviewer),
            WpEvent::Rejected { reviewer, feedback } => {
                self.review_started(step, reviewer);
                if self.lane == "in_review" {
                    // The cycle count already includes this rejection.
                    let reference = review_reference(wp, state.review_cycle.saturating_sub(1));
                    let result = json!({"reference": reference, "reviewer": reviewer, "verdict": "changes_requested"});
                    self.move_to(step, "in_progress", reviewer, Some(bounded(feedback)), Some(result), None);
                }
            }
            WpEvent::Blocked { reason } => {
                if !matches!(self.lane, "blocked" | "done" | "canceled") {
                    self.move_to(step, "blocked", ACTOR, Some(bounded(reason)), None, None);
                }
            }
            WpEvent::Canceled { reason } => {
                if !matches!(self.lane, "done" | "canceled") {
                    self.move_to(step, "canceled", ACTOR, Some(bounded(reason)), None, None);
                }
            }
            WpEvent::Merged { into, commit, head, .. } => self.merged(step, into, commit, head),
            WpEvent::Reopened { reason, .. } => self.reopened(step, reason),
            WpEvent::Released { .. }
            | WpEvent::ForceReleased { .. }
            | WpEvent::AgentFinished { .. }
            | WpEvent::RetryScheduled { .. }
            | WpEvent::Retried => {}
        }
    }

    /// The import: the lane the WP file named (with `bootstrap`, told as a move from `genesis`).
    fn imported(&mut self, step: &mut Step, lane: Lane, bootstrap: bool) {
        let wp = self.wp;
        self.lane = match lane {
            Lane::Planned => "planned",
            Lane::Doing => "in_progress",
            Lane::ForReview => "for_review",
            // Finished before spec-kitty kept a log: `done`, as its own migration said.
            Lane::Done if bootstrap => "done",
            Lane::Done => "approved",
            Lane::Blocked => "blocked",
            Lane::Canceled => "canceled",
        };
        if bootstrap {
            let to = self.lane;
            self.lane = "genesis";
            let evidence = (to == "done").then(|| {
                    json!({"review": {"reference": format!("frontmatter:{wp}"), "reviewer": "unknown", "verdict": "approved"}})
                });
            let reason = Some("lane recorded in the WP file, imported by kitty-orchestrator".to_string());
            self.force_next = to != "planned";
            self.move_to(step, to, ACTOR, reason, None, evidence);
        }
    }

    /// Submitted: its subtasks done (once), then up for review.
    fn submitted(&mut self, step: &mut Step, state: &WpState, subtasks: &[String]) {
        let actor = state.agent.clone().unwrap_or_else(|| ACTOR.into());
        self.start(step, Some(&actor));
        if !self.subtasks_done && !subtasks.is_empty() {
            let done: Map<String, Json> = subtasks.iter().map(|t| (t.clone(), json!("done"))).collect();
            let mut delta = Map::new();
            delta.insert("subtasks".into(), Json::Object(done));
            self.annotate(step, &actor, delta);
            self.subtasks_done = true;
        }
        if self.lane == "in_progress" {
            self.move_to(step, "for_review", &actor, None, None, None);
        }
    }

    /// Approved: `in_review → approved` with the review as evidence.
    fn approved(&mut self, step: &mut Step, state: &WpState, reviewer: &str) {
        let wp = self.wp;
        self.review_started(step, reviewer);
        if self.lane == "in_review" {
            let reference = review_reference(wp, state.review_cycle);
            let result = json!({"reference": reference, "reviewer": reviewer, "verdict": "approved"});
            // The approval stamp spec-kitty 4.0's `consolidate` checks: the lane tip review saw.
            self.policy_next = state.head.as_ref().map(|head| json!({"lane_head": head}));
            self.move_to(step, "approved", reviewer, Some(format!("approved by {reviewer}")), Some(result), None);
            self.reviewer = Some((reviewer.to_string(), reference));
        }
    }

    /// Landed: `approved → done` with the review and the landed commit as evidence.
    fn merged(&mut self, step: &mut Step, into: &str, commit: &str, head: &str) {
        let wp = self.wp;
        if self.lane == "approved" {
            let (reviewer, reference) =
                self.reviewer.clone().unwrap_or_else(|| ("unknown".into(), format!("lane-approved:{wp}")));
            let evidence = json!({
                "review": {"reference": reference, "reviewer": reviewer, "verdict": "approved"},
                "repos": [{"branch": into, "commit": commit, "repo": "."}],
                "verification": [],
            });
            let reason = format!("merged into {into} by kitty-orchestrator (branch tip {head})");
            self.move_to(step, "done", ACTOR, Some(reason), None, Some(evidence));
        }
    }

    /// Reopened after approval: back to `in_progress`, then up for review again (spec-kitty has no edge from approved to for_review).
    fn reopened(&mut self, step: &mut Step, reason: &str) {
        let wp = self.wp;
        // spec-kitty has no edge from approved to for_review: back to in_progress (with
        // the approval's review reference), then up for review again.
        if self.lane == "approved" {
            let (reviewer, reference) =
                self.reviewer.clone().unwrap_or_else(|| ("unknown".into(), format!("lane-approved:{wp}")));
            let result = json!({"reference": reference, "reviewer": reviewer, "verdict": "changes_requested"});
            self.move_to(step, "in_progress", ACTOR, Some(bounded(reason)), Some(result), None);
            self.move_to(step, "for_review", ACTOR, Some(bounded(reason)), None, None);
        }
    }
}

fn review_reference(wp: &str, cycle: u32) -> String {
    format!("kitty-review:{wp}:cycle{}", cycle + 1)
}

fn bounded(text: &str) -> String {
    if text.len() <= MAX_REASON {
        return text.to_string();
    }
    let mut end = MAX_REASON;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn micros_of(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().map(|t| t.as_microsecond()).unwrap_or(0)
}

/// The lines made from one of our events: ids seeded by our event id and a counter.
struct Step {
    seed: String,
    n: u32,
    micros: i64,
}

struct Telling<'a> {
    mission: &'a MissionIdentity,
    wp: &'a str,
    lines: Vec<LogLine>,
    /// The spec-kitty lane the lines so far leave the WP in.
    lane: &'static str,
    /// `at` of the last line, so ours are strictly increasing even within one millisecond.
    last_micros: i64,
    agent: Option<String>,
    reviewer: Option<(String, String)>,
    subtasks_done: bool,
    /// The next line skips spec-kitty's guards (an imported lane: `genesis → done`).
    force_next: bool,
    /// The next line's `policy_metadata` (an approval's `lane_head`, a claim's `agent`).
    policy_next: Option<Json>,
}

impl Telling<'_> {
    fn next(&mut self, step: &mut Step) -> (String, String) {
        let micros = (step.micros + i64::from(step.n)).max(self.last_micros + 1);
        self.last_micros = micros;
        let millis = u64::try_from(micros / 1000).unwrap_or(0);
        let id = derived_id(millis, &format!("kitty:{}:{}", step.seed, step.n));
        step.n += 1;
        (id, python_isoformat(micros))
    }

    fn move_to(
        &mut self,
        step: &mut Step,
        to: &'static str,
        actor: &str,
        reason: Option<String>,
        review_result: Option<Json>,
        evidence: Option<Json>,
    ) {
        let (id, at) = self.next(step);
        let t = Transition {
            from: self.lane,
            to,
            actor: actor.to_string(),
            reason,
            review_result,
            evidence,
            policy_metadata: self.policy_next.take(),
            force: std::mem::take(&mut self.force_next),
        };
        self.lines.push(lane_line(self.mission, self.wp, id, &at, &t));
        self.lane = to;
    }

    fn annotate(&mut self, step: &mut Step, actor: &str, delta: Map<String, Json>) {
        let (id, at) = self.next(step);
        self.lines.push(annotation_line(self.wp, id, &at, actor, delta));
    }

    fn claim(&mut self, step: &mut Step) {
        if self.lane == "planned" {
            self.move_to(step, "claimed", ACTOR, None, None, None);
        }
    }

    /// Into `in_progress` from wherever a start can come from.
    fn start(&mut self, step: &mut Step, agent: Option<&str>) {
        self.claim(step);
        if matches!(self.lane, "claimed" | "blocked") {
            self.move_to(step, "in_progress", agent.unwrap_or(ACTOR), None, None, None);
        }
    }

    fn review_started(&mut self, step: &mut Step, reviewer: &str) {
        if self.lane == "for_review" {
            self.move_to(step, "in_review", reviewer, Some("review started by kitty-orchestrator".into()), None, None);
        }
    }
}
