//! What several benches share: the generated feature and the timing loop. Each bench uses part
//! of it, hence the allowance below.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

/// Writes `count` spec-kitty WP files into `tasks`: flat layout, a random DAG (0–3 dependencies
/// on earlier WPs, same seed every time), realistic frontmatter and a 2 KiB prompt each.
pub fn generate_tasks(tasks: &Path, count: usize) {
    std::fs::create_dir_all(tasks).expect("mkdir");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let body = "Implement the thing described here, with tests.\n".repeat(40);
    for n in 1..=count {
        let deps: Vec<String> = if n == 1 {
            Vec::new()
        } else {
            let k = (next() % 4) as usize;
            let mut d: Vec<usize> = (0..k).map(|_| 1 + (next() as usize % (n - 1))).collect();
            d.sort();
            d.dedup();
            d.iter().map(|i| format!("  - \"WP{i:04}\"")).collect()
        };
        let deps = if deps.is_empty() { " []".to_string() } else { format!("\n{}", deps.join("\n")) };
        let text = format!(
            "---\nwork_package_id: \"WP{n:04}\"\nsubtasks:\n  - \"T{n}1\"\n  - \"T{n}2\"\ntitle: \"Generated work package {n}\"\nphase: \"Phase 1\"\nlane: \"planned\"\nassignee: \"\"\nagent: \"\"\nshell_pid: \"\"\ndependencies:{deps}\nhistory:\n  - timestamp: \"2026-01-18T16:21:51Z\"\n    lane: \"planned\"\n    agent: \"system\"\n    action: \"Prompt generated\"\n---\n\n# Work Package Prompt: WP{n:04}\n\n{body}"
        );
        std::fs::write(tasks.join(format!("WP{n:04}-generated.md")), text).expect("write");
    }
}

/// The median of `times`, in milliseconds.
pub fn median_ms(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

/// `f` once to warm up, then the median of `runs` timed calls, in milliseconds.
pub fn time_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    median_ms((0..runs).map(|_| (Instant::now(), f())).map(|(t, ())| t.elapsed()).collect())
}
