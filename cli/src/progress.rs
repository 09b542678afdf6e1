//! Live progress on a terminal: one line per active WP (lane, agent, attempt, elapsed, the
//! agent's last output line) under a header with the counts; event lines scroll above.
//! No colours are used, so NO_COLOR holds by construction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use kitty_orchestrator::Lane;
use kitty_orchestrator::engine::{Event, EventSink};

use crate::render;

struct State {
    multi: MultiProgress,
    header: ProgressBar,
    bars: HashMap<String, ProgressBar>,
    total: usize,
    done: usize,
    blocked: usize,
}

impl State {
    fn update_header(&self) {
        self.header.set_message(format!(
            "{}/{} done · {} active · {} blocked",
            self.done,
            self.total,
            self.bars.len(),
            self.blocked
        ));
    }

    fn bar(&mut self, wp: &str) -> ProgressBar {
        if let Some(bar) = self.bars.get(wp) {
            return bar.clone();
        }
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {prefix:<6} {elapsed:>4} {wide_msg}").expect("valid template"),
        );
        bar.set_prefix(wp.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bars.insert(wp.to_string(), bar.clone());
        self.update_header();
        bar
    }

    fn drop_bar(&mut self, wp: &str) {
        if let Some(bar) = self.bars.remove(wp) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        self.update_header();
    }
}

/// A live progress display; `sink()` feeds it, `finish()` clears it before the summary.
pub struct Progress {
    state: Arc<Mutex<State>>,
}

impl Progress {
    /// Starts drawing on stdout.
    pub fn new() -> Progress {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        let header = multi.add(ProgressBar::new_spinner());
        header.set_style(ProgressStyle::with_template("{spinner} {elapsed:>4} {wide_msg}").expect("valid template"));
        header.enable_steady_tick(Duration::from_millis(200));
        header.set_message("starting…");
        Progress {
            state: Arc::new(Mutex::new(State { multi, header, bars: HashMap::new(), total: 0, done: 0, blocked: 0 })),
        }
    }

    /// The event sink driving the display.
    pub fn sink(&self) -> EventSink {
        let state = self.state.clone();
        Arc::new(move |event: Event| {
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            match &event {
                Event::RunStarted { wps, done, .. } => {
                    s.total = *wps;
                    s.done = *done;
                }
                Event::LaneChanged { wp, to_lane: to, agent, .. } => match to {
                    Lane::Done => {
                        s.done += 1;
                        s.drop_bar(wp);
                    }
                    Lane::Blocked | Lane::Canceled | Lane::Planned => s.drop_bar(wp),
                    lane => {
                        let bar = s.bar(wp);
                        bar.set_message(format!("{lane:<10} {}", agent.as_deref().unwrap_or("")));
                    }
                },
                Event::AgentStarted { wp, agent, role, attempt, .. } => {
                    let bar = s.bar(wp);
                    let lane = if role.as_str() == "review" { "for_review" } else { "doing" };
                    bar.set_message(format!("{lane:<10} {agent} #{attempt}"));
                    bar.reset_elapsed();
                }
                Event::AgentOutput { wp, agent, line, .. } => {
                    if let Some(bar) = s.bars.get(wp) {
                        let shown: String =
                            line.chars().filter(|c| !kitty_orchestrator::display::is_unsafe(*c)).take(120).collect();
                        let head = bar.message().split(" | ").next().unwrap_or(agent).to_string();
                        bar.set_message(format!("{head} | {shown}"));
                    }
                }
                Event::AgentActivity { wp, agent, activity, .. } => {
                    if let Some(bar) = s.bars.get(wp) {
                        let shown: String = activity
                            .describe()
                            .chars()
                            .filter(|c| !kitty_orchestrator::display::is_unsafe(*c))
                            .take(120)
                            .collect();
                        let head = bar.message().split(" | ").next().unwrap_or(agent).to_string();
                        bar.set_message(format!("{head} | {shown}"));
                    }
                }
                Event::WpBlocked { wp, .. } => {
                    s.blocked += 1;
                    s.drop_bar(wp);
                }
                _ => {}
            }
            if !matches!(event, Event::AgentOutput { .. } | Event::AgentActivity { .. })
                && let Some(line) = render::event_line(&event)
            {
                let _ = s.multi.println(line);
            }
            s.update_header();
        })
    }

    /// Removes the display.
    pub fn finish(&self) {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for bar in s.bars.values() {
            bar.finish_and_clear();
        }
        s.header.finish_and_clear();
        let _ = s.multi.clear();
    }
}
