//! Node's shape of the engine's data: the same values as Rust, Python and the CLI's `--json`,
//! with camelCase keys (`run_id` → `runId`) on every object, at every depth. The values of the
//! `type` tags (`'lane_changed'`) and ids used as keys (`WP01`) do not change. Options come the
//! other way: camelCase keys are turned into the core's snake_case ones, and an error about one
//! names it as the caller wrote it.

use serde_json::{Map, Value};

/// `run_id` → `runId`.
pub fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `implAgents` → `impl_agents`.
pub fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A core value as Node sees it: serialized, every object key camelCased.
pub fn to_js_value(value: &impl serde::Serialize) -> Value {
    camelize(serde_json::to_value(value).expect("core types serialize"))
}

/// Every object key of `value`, at every depth, camelCased.
pub fn camelize(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (camel(&k), camelize(v))).collect()),
        Value::Array(items) => Value::Array(items.into_iter().map(camelize).collect()),
        other => other,
    }
}

/// The top-level keys of an options object in snake_case, as the core reads them.
pub fn snake_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (snake(&k), v)).collect::<Map<_, _>>()),
        other => other,
    }
}

/// An error message about snake_case option names, with the names as Node callers write them.
pub fn camel_message(message: &str, names: &[&str]) -> String {
    let mut out = message.to_string();
    for name in names {
        out = out.replace(&format!("`{name}`"), &format!("`{}`", camel(name)));
    }
    out
}
