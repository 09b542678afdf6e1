//! Reading a configuration: the file (optional), JSON-shaped data from the bindings, or TOML text;
//! every source is validated the same way.

use std::path::Path;

use super::error::ConfigError;
use super::model::{CONFIG_PATH, Config};
use super::raw::RawConfig;
use super::text::{key_in_message, line_of};
use super::validate::Validator;

impl Config {
    /// Loads `<repo>/.kittify/orchestrator.toml`, or the defaults when the file does not exist.
    pub fn load(repo_root: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = repo_root.as_ref().join(CONFIG_PATH);
        if path.exists() { Config::from_path(&path) } else { Ok(Config::default()) }
    }

    /// Loads a configuration file (it must exist).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|err| ConfigError {
            path: path.to_path_buf(),
            key: None,
            line: None,
            message: format!("cannot read configuration: {err}"),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| ConfigError {
            path: path.to_path_buf(),
            key: None,
            line: None,
            message: "not valid UTF-8; save the file as UTF-8".into(),
        })?;
        Config::from_toml_str(&text, path)
    }

    /// Builds a configuration from JSON-shaped data with the same keys as the TOML file (how the
    /// Python and Node bindings pass a dict / object); validated exactly like the file.
    pub fn from_json(value: &serde_json::Value, source: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let source = source.as_ref();
        let invalid = |message: String| ConfigError { path: source.to_path_buf(), key: None, line: None, message };
        if !value.is_object() {
            return Err(invalid("the configuration must be a mapping of keys to values".into()));
        }
        let table: toml::Value =
            serde_json::from_value(value.clone()).map_err(|e| invalid(format!("cannot be expressed as TOML: {e}")))?;
        let text = toml::to_string(&table)
            .map_err(|e| invalid(format!("cannot be expressed as TOML (null values are not allowed): {e}")))?;
        Config::from_toml_str(&text, source)
    }

    /// Parses configuration text; `path` is only used in error messages.
    pub fn from_toml_str(text: &str, path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let raw: RawConfig = toml::from_str(text).map_err(|err| {
            let line = err.span().map(|span| line_of(text, span.start));
            let message = err.message().trim().to_string();
            ConfigError { path: path.to_path_buf(), key: key_in_message(&message), line, message }
        })?;
        Validator { text, path }.build(raw)
    }
}

/// Options given as JSON-shaped data (what the bindings pass) read into `T`: an unknown key, or a
/// value of the wrong type, is an error naming the key, from `<what>` (`<push options>`). The
/// one reader of every options type; each then checks its values itself.
pub fn options_from_json<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
    what: &str,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let key = err.path().to_string();
        let message = err.inner().to_string();
        ConfigError {
            path: format!("<{what}>").into(),
            key: Some(key_in_message(&message).unwrap_or(key)),
            line: None,
            message,
        }
    })
}
