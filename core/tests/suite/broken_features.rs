//! Every broken feature in `tests/fixtures/broken/` is rejected with the expected messages.

use std::path::{Path, PathBuf};

use kitty_orchestrator::load_feature;

/// `(case name, feature dir, expected lines)` for every case of the corpus.
fn corpus() -> Vec<(String, PathBuf, Vec<String>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/broken");
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    cases
        .into_iter()
        .map(|case| {
            let expected = std::fs::read_to_string(case.join("expected.txt")).unwrap();
            let feature = std::fs::read_dir(&case)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.file_name().unwrap() != "expected.txt")
                .unwrap();
            let name = case.file_name().unwrap().to_string_lossy().into_owned();
            (name, feature, expected.lines().map(str::to_string).collect())
        })
        .collect()
}

#[test]
fn corpus_is_large_enough() {
    assert!(corpus().len() >= 15);
}

#[test]
fn every_broken_feature_gives_its_expected_errors() {
    let mut failures = Vec::new();
    for (name, dir, expected) in corpus() {
        match load_feature(&dir) {
            Ok(_) => failures.push(format!("{name}: loaded without error")),
            Err(err) => {
                let text = err.to_string();
                assert!(!err.problems.is_empty());
                for line in &expected {
                    if !text.contains(line.as_str()) {
                        failures.push(format!("{name}: expected `{line}` in:\n{text}"));
                    }
                }
                // Every problem names a file inside the case.
                for problem in &err.problems {
                    assert!(problem.path.starts_with(dir.parent().unwrap()), "{name}: {}", problem.path.display());
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn all_problems_are_reported_together() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/broken/22-many-problems-at-once/022-many");
    let err = load_feature(dir).unwrap_err();
    let kinds: Vec<&str> = err.problems.iter().map(|p| p.kind.as_str()).collect();
    assert_eq!(kinds.len(), 4, "{err}");
    for kind in ["cycle", "unknown_dependency", "bad_yaml", "id_mismatch"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
}
