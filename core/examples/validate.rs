//! Validates a feature directory and prints its work packages in order, or every problem.
//!
//! `cargo run -p kitty-orchestrator --example validate [DIR]` — without an argument it writes a
//! small broken feature to a temporary directory (a dependency cycle, an unknown dependency, a
//! WP id that disagrees with its file name) and shows that every problem is reported at once,
//! each with its file and line.

use kitty_orchestrator::load_feature;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let dir = match std::env::args().nth(1) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            let dir = temp.path().join("kitty-specs/001-broken");
            std::fs::create_dir_all(dir.join("tasks"))?;
            let wp = |id: &str, deps: &str| {
                format!("---\nwork_package_id: {id}\ntitle: {id}\ndependencies: [{deps}]\n---\nDo {id}.\n")
            };
            std::fs::write(dir.join("tasks/WP01-a.md"), wp("WP01", "WP02"))?;
            std::fs::write(dir.join("tasks/WP02-b.md"), wp("WP02", "WP01, WP09"))?;
            std::fs::write(dir.join("tasks/WP03-c.md"), wp("WP04", ""))?;
            dir
        }
    };
    match load_feature(&dir) {
        Ok(feature) => {
            println!("{}: {} work packages", feature.slug, feature.work_packages.len());
            for id in feature.topological_order() {
                let wp = feature.work_package(&id).expect("ids come from the feature");
                println!("  {id} {} (after {:?})", wp.title, wp.dependencies);
            }
        }
        Err(err) => {
            // Every problem, each `file:line[:column]: message`.
            println!("{err}");
            for problem in &err.problems {
                println!("({:?} in {} at line {:?})", problem.kind, problem.path.display(), problem.line);
            }
            if std::env::args().nth(1).is_none() {
                assert_eq!(err.problems.len(), 3, "a cycle, an unknown dependency, an id mismatch");
            }
        }
    }
    Ok(())
}
