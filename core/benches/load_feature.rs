//! Benchmark: loading a generated 1000-WP feature (flat layout, random DAG, realistic
//! frontmatter and a 2 KiB prompt per WP). Run with `cargo bench -p kitty-orchestrator`.
//! Prints the median and best of several loads; no assertion (machines are noisy).

use std::time::{Duration, Instant};

mod support;

fn main() {
    let count: usize = std::env::var("KITTY_BENCH_WPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("900-generated");
    support::generate_tasks(&dir.join("tasks"), count);
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
