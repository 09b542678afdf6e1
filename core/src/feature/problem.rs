//! What can be wrong with a feature directory, with the place it is wrong.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The kind of a [`Problem`]; stable names (`snake_case`) for scripts and the bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The feature directory does not exist or is not a directory.
    NotFound,
    /// A file could not be read.
    Unreadable,
    /// A file is not valid UTF-8.
    NotUtf8,
    /// A WP file has no `---` YAML frontmatter block.
    MissingFrontmatter,
    /// The frontmatter is not valid YAML (or not a mapping).
    BadYaml,
    /// `work_package_id` is missing.
    MissingId,
    /// `work_package_id` (or a dependency) is not `WP` + 2-4 digits.
    BadId,
    /// `work_package_id` disagrees with the file name.
    IdMismatch,
    /// Two files declare the same WP id.
    DuplicateId,
    /// A dependency names a WP the feature does not have.
    UnknownDependency,
    /// A WP depends on itself.
    SelfDependency,
    /// The dependencies form a cycle.
    Cycle,
    /// The feature has no work packages.
    Empty,
    /// The feature's directory name cannot be used in refs/paths.
    UnsafeSlug,
    /// A lane value (frontmatter, directory, status file) is not a known lane.
    BadLane,
    /// A known frontmatter key has a value of the wrong shape (e.g. `dependencies: 3`).
    BadField,
    /// `meta.json`, `status.json` or `status.events.jsonl` is not valid.
    BadStatusFile,
}

impl ProblemKind {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::NotFound => "not_found",
            ProblemKind::Unreadable => "unreadable",
            ProblemKind::NotUtf8 => "not_utf8",
            ProblemKind::MissingFrontmatter => "missing_frontmatter",
            ProblemKind::BadYaml => "bad_yaml",
            ProblemKind::MissingId => "missing_id",
            ProblemKind::BadId => "bad_id",
            ProblemKind::IdMismatch => "id_mismatch",
            ProblemKind::DuplicateId => "duplicate_id",
            ProblemKind::UnknownDependency => "unknown_dependency",
            ProblemKind::SelfDependency => "self_dependency",
            ProblemKind::Cycle => "cycle",
            ProblemKind::Empty => "empty",
            ProblemKind::UnsafeSlug => "unsafe_slug",
            ProblemKind::BadLane => "bad_lane",
            ProblemKind::BadField => "bad_field",
            ProblemKind::BadStatusFile => "bad_status_file",
        }
    }
}

/// One thing wrong with a feature: what, and where (file, and line/column when known, 1-based).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What kind of problem this is.
    pub kind: ProblemKind,
    /// The file (or directory) at fault.
    pub path: PathBuf,
    /// 1-based line in `path`, when known.
    pub line: Option<usize>,
    /// 1-based column in `path`, when known.
    pub column: Option<usize>,
    /// A sentence saying what is wrong and, where useful, what to do.
    pub message: String,
}

impl Problem {
    /// A problem with a whole file or directory (no line).
    pub fn at(kind: ProblemKind, path: &Path, message: impl Into<String>) -> Problem {
        Problem { kind, path: path.to_path_buf(), line: None, column: None, message: message.into() }
    }

    /// A problem at a line (and optionally a column) of a file.
    pub fn at_line(
        kind: ProblemKind,
        path: &Path,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Problem {
        Problem { kind, path: path.to_path_buf(), line, column, message: message.into() }
    }
}

impl fmt::Display for Problem {
    /// `path:line:column: message`, the format editors and terminals make clickable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything wrong with one feature directory, reported together.
#[derive(Debug, Clone, thiserror::Error)]
pub struct FeatureError {
    /// The feature directory that was loaded.
    pub dir: PathBuf,
    /// Every problem found, in file order, then graph problems.
    pub problems: Vec<Problem>,
}

impl fmt::Display for FeatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(f, "invalid feature {}: {n} problem{}", self.dir.display(), if n == 1 { "" } else { "s" })?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}
