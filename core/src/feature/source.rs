//! The readers a feature can come from, behind one trait: spec-kitty feature directories, Kiro
//! specs and markdown task lists each turn their files into the same [`Feature`], so the engine,
//! state, worktrees and bindings never know which it was. A path picks its reader by shape
//! (`kitty-specs/<slug>/`, a directory with a `tasks.md`, a `.md` file); a format named in
//! [`LoadOptions::format`] (`--format`) overrides that.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::model::Feature;
use super::problem::{FeatureError, Problem, ProblemKind};

/// Loads and validates the feature at `path`: a spec-kitty feature directory
/// (`kitty-specs/<slug>/`), a Kiro spec directory or a markdown task list, picked by its shape
/// ([`load_feature_with`] names the format).
///
/// Returns every problem found, not just the first: a person fixing a feature wants the whole list.
pub fn load_feature(path: impl AsRef<Path>) -> Result<Feature, FeatureError> {
    load_feature_with(path, &LoadOptions::default())
}

/// Which reader a feature is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeatureFormat {
    /// A spec-kitty feature directory (`kitty-specs/<NNN-slug>/` with `tasks/`).
    SpecKitty,
    /// A Kiro spec (`.kiro/specs/<name>/` with `tasks.md`).
    Kiro,
    /// A markdown task list (a `PLAN.md`).
    TaskList,
}

impl FeatureFormat {
    /// Every format, in detection order.
    pub const ALL: [FeatureFormat; 3] = [FeatureFormat::SpecKitty, FeatureFormat::Kiro, FeatureFormat::TaskList];

    /// The name used by `--format` and in errors.
    pub fn as_str(self) -> &'static str {
        match self {
            FeatureFormat::SpecKitty => "spec-kitty",
            FeatureFormat::Kiro => "kiro",
            FeatureFormat::TaskList => "task-list",
        }
    }
}

impl fmt::Display for FeatureFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FeatureFormat {
    type Err = String;
    /// `spec-kitty`, `kiro` or `task-list` (`_` for `-` and any case accepted).
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        FeatureFormat::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| {
            format!(
                "unknown feature format `{s}`: expected one of {}",
                FeatureFormat::ALL.map(|f| f.as_str()).join(", ")
            )
        })
    }
}

/// How a feature is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// The reader to use; `None` picks it by the path's shape.
    pub format: Option<FeatureFormat>,
    /// Load Kiro's optional tasks (`- [ ]*`) as WPs too (skipped by default, as Kiro does).
    pub include_optional: bool,
}

/// One reader of features.
pub trait FeatureSource: Send + Sync {
    /// The format this reader reads.
    fn format(&self) -> FeatureFormat;
    /// Whether `path` looks like this reader's input (used when no format is named).
    fn recognizes(&self, path: &Path) -> bool;
    /// Reads and validates the feature at `path`, every problem collected.
    fn load(&self, path: &Path, options: &LoadOptions) -> Result<Feature, FeatureError>;
}

/// spec-kitty's feature directories (three layouts).
struct SpecKittySource;
/// Kiro specs.
struct KiroSource;
/// Markdown task lists.
struct TaskListSource;

impl FeatureSource for SpecKittySource {
    fn format(&self) -> FeatureFormat {
        FeatureFormat::SpecKitty
    }
    fn recognizes(&self, path: &Path) -> bool {
        path.is_dir() && !KiroSource.recognizes(path)
    }
    fn load(&self, path: &Path, _: &LoadOptions) -> Result<Feature, FeatureError> {
        super::load::load_spec_kitty(path)
    }
}

impl FeatureSource for KiroSource {
    fn format(&self) -> FeatureFormat {
        FeatureFormat::Kiro
    }
    fn recognizes(&self, path: &Path) -> bool {
        path.is_dir() && super::kiro::is_kiro_spec(path)
    }
    fn load(&self, path: &Path, options: &LoadOptions) -> Result<Feature, FeatureError> {
        super::kiro::load_kiro_with(path, options.include_optional)
    }
}

impl FeatureSource for TaskListSource {
    fn format(&self) -> FeatureFormat {
        FeatureFormat::TaskList
    }
    fn recognizes(&self, path: &Path) -> bool {
        path.is_file() && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("md"))
    }
    fn load(&self, path: &Path, options: &LoadOptions) -> Result<Feature, FeatureError> {
        super::kiro::load_task_list_with(path, options.include_optional)
    }
}

/// Every reader, in detection order (a Kiro spec is checked before a spec-kitty directory).
pub fn sources() -> [&'static dyn FeatureSource; 3] {
    [&KiroSource, &TaskListSource, &SpecKittySource]
}

/// The reader for `format`.
pub fn source_for(format: FeatureFormat) -> &'static dyn FeatureSource {
    match format {
        FeatureFormat::SpecKitty => &SpecKittySource,
        FeatureFormat::Kiro => &KiroSource,
        FeatureFormat::TaskList => &TaskListSource,
    }
}

/// The format `path` would be read as without an override (`None`: nothing there to read).
pub fn detect_format(path: &Path) -> Option<FeatureFormat> {
    sources().into_iter().find(|s| s.recognizes(path)).map(|s| s.format())
}

/// Loads the feature at `path` with `options`: the named format's reader, else the one its shape
/// picks. Every problem found is returned, each naming its file and line.
pub fn load_feature_with(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Feature, FeatureError> {
    let path = path.as_ref();
    let source = match options.format {
        Some(format) => {
            // A named format still needs input of its shape: a directory or a file.
            let wants_file = format == FeatureFormat::TaskList;
            if path.exists() && path.is_file() != wants_file {
                let want = if wants_file { "a markdown file" } else { "a directory" };
                return Err(FeatureError {
                    dir: path.to_path_buf(),
                    problems: vec![Problem::at(
                        ProblemKind::NotFound,
                        path,
                        format!("format `{format}` reads {want}; name one, or another --format"),
                    )],
                });
            }
            source_for(format)
        }
        None => match sources().into_iter().find(|s| s.recognizes(path)) {
            Some(source) => source,
            // Nothing recognizable: the spec-kitty reader says what a feature directory needs.
            None => &SpecKittySource,
        },
    };
    source.load(path, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_by_name_and_say_what_is_known() {
        assert_eq!("Kiro".parse::<FeatureFormat>(), Ok(FeatureFormat::Kiro));
        assert_eq!("task_list".parse::<FeatureFormat>(), Ok(FeatureFormat::TaskList));
        assert_eq!("spec-kitty".parse::<FeatureFormat>(), Ok(FeatureFormat::SpecKitty));
        let err = "jira".parse::<FeatureFormat>().unwrap_err();
        assert!(err.contains("jira") && err.contains("spec-kitty, kiro, task-list"), "{err}");
    }

    #[test]
    fn a_named_format_refuses_input_of_the_other_shape() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            load_feature_with(dir.path(), &LoadOptions { format: Some(FeatureFormat::TaskList), ..Default::default() })
                .unwrap_err();
        assert!(err.to_string().contains("format `task-list` reads a markdown file"), "{err}");
    }
}
