//! Benchmark: loading a generated 1000-WP feature (flat layout, random DAG, realistic
//! frontmatter and a 2 KiB prompt per WP). Run with `cargo bench -p kitty-orchestrator`.
//! Prints the median and best of several loads; no assertion (machines are noisy).

use std::time::{Duration, Instant};

fn main() {
    let count: usize = std::env::var("KITTY_BENCH_WPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("900-generated");
    std::fs::create_dir_all(dir.join("tasks")).expect("mkdir");
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
        std::fs::write(dir.join(format!("tasks/WP{n:04}-generated.md")), text).expect("write");
    }
    // Warm the page cache once, then measure.
    let feature = kitty_orchestrator::load_feature(&dir).expect("valid feature");
    assert_eq!(feature.work_packages.len(), count);
    let mut times: Vec<Duration> = (0..15)
        .map(|_| {
            let start = Instant::now();
            let feature = kitty_orchestrator::load_feature(&dir).expect("valid feature");
            let order = feature.topological_order();
            assert_eq!(order.len(), count);
            start.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "load_feature + topological_order, {count} WPs: median {:.1} ms, best {:.1} ms ({:.1} µs per WP)",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e6 / count as f64
    );
}
