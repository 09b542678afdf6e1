//! Keeping secrets out of everything we write — agent logs, event commits and `state.json`,
//! notes, summaries, events — because refs and notes get pushed and logs get pasted.
//!
//! Three nets, applied together by [`Redactor::apply`]:
//! - **by value**: the value of every environment variable named like a secret (`*_API_KEY`,
//!   `*TOKEN*`, `*SECRET*`, `*PASSWORD*`, `*_PWD`, `AWS_ACCESS_KEY_ID`, `*WEBHOOK*`, …), and every
//!   value given in an agent's `[agents.<id>] env` table, becomes `[REDACTED:<NAME>]`;
//! - **credentials in URLs**: the user-info part of any `scheme://user:pass@host` becomes
//!   `[REDACTED]` (`DATABASE_URL`, `HTTPS_PROXY`, git remote URLs), whatever variable it came from;
//! - **well-known token shapes**: GitHub (`ghp_…`, `github_pat_…`), OpenAI/Anthropic (`sk-…`,
//!   `sk-ant-…`), Slack (`xoxb-…`), AWS access key ids (`AKIA…`), GitLab (`glpat-…`), Google API
//!   keys (`AIza…`), private-key blocks, Slack/Discord webhook URLs.

use std::sync::LazyLock;

use regex::Regex;

/// Shortest value redacted by value: masking `1` or `true` everywhere would make logs
/// unreadable without protecting anything.
const MIN_SECRET_LEN: usize = 6;

/// Whether an environment variable name looks like it holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    const MARKERS: [&str; 13] = [
        "API_KEY",
        "APIKEY",
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "PASSPHRASE",
        "CREDENTIAL",
        "PRIVATE_KEY",
        "ACCESS_KEY",
        "WEBHOOK",
        "COOKIE",
        "SESSION_KEY",
    ];
    const SUFFIXES: [&str; 6] = ["_KEY", "_PAT", "_PWD", "_PASS", "_DSN", "_AUTH"];
    MARKERS.iter().any(|m| upper.contains(m)) || SUFFIXES.iter().any(|s| upper.ends_with(s))
}

/// The user-info of a URL: `scheme://` + `user[:password]` + `@`.
static URL_USERINFO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([A-Za-z][A-Za-z0-9+.\-]*://)[^\s/?#@\x22'<>]+@").expect("valid regex"));

/// Token shapes that are secrets wherever they appear, with the label their mask shows.
static TOKEN_SHAPES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"\bgh[pousr]_[A-Za-z0-9]{20,}", "github-token"),
        (r"\bgithub_pat_[A-Za-z0-9_]{20,}", "github-token"),
        (r"\bsk-[A-Za-z0-9_\-]{16,}", "api-key"),
        (r"\bxox[abposr]-[A-Za-z0-9\-]{10,}", "slack-token"),
        (r"\b(?:AKIA|ASIA|AROA|AIDA|ANPA|AGPA)[A-Z0-9]{16}\b", "aws-access-key-id"),
        (r"\bglpat-[A-Za-z0-9_\-]{20,}", "gitlab-token"),
        (r"\bAIza[0-9A-Za-z_\-]{35}", "google-api-key"),
        (r"https://hooks\.slack\.com/services/[A-Za-z0-9/_\-]+", "webhook-url"),
        (r"https://(?:discord|discordapp)\.com/api/webhooks/[0-9]+/[A-Za-z0-9_\-]+", "webhook-url"),
        (r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z ]*PRIVATE KEY-----|\z)", "private-key"),
    ]
    .into_iter()
    .map(|(pattern, label)| (Regex::new(pattern).expect("valid regex"), label))
    .collect()
});

/// Cheap test before the token regexes run: every shape contains one of these.
const SHAPE_HINTS: [&str; 15] = [
    "gh",
    "sk-",
    "xox",
    "AKIA",
    "ASIA",
    "AROA",
    "AIDA",
    "ANPA",
    "AGPA",
    "glpat-",
    "AIza",
    "hooks.",
    "discord",
    "-----BEGIN",
    "PRIVATE KEY",
];

/// Replaces secrets in text (see the module docs). Cheap to clone and share.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// (value, mask), longest value first, so a secret containing another is replaced whole.
    secrets: Vec<(String, String)>,
}

impl Redactor {
    /// Collects the secrets among `vars` (`NAME`, `value`): the values of secret-named ones.
    pub fn new<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Redactor {
        let mut redactor = Redactor::default();
        redactor.add(vars.into_iter().filter(|(name, _)| is_secret_name(name)));
        redactor
    }

    /// The secrets of this process's environment plus `extra` (`NAME`, `value`) pairs, of which
    /// only the secret-named count.
    pub fn from_env(extra: &[(String, String)]) -> Redactor {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Redactor::new(env.iter().chain(extra.iter()).map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Also redacts every one of these values, whatever its name: the `[agents.<id>] env`
    /// values a user configured are theirs to keep out of logs, secret-named or not.
    pub fn with_values<'a>(mut self, vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Redactor {
        self.add(vars);
        self
    }

    fn add<'a>(&mut self, vars: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (name, value) in vars {
            if value.chars().count() >= MIN_SECRET_LEN && !self.secrets.iter().any(|(v, _)| v == value) {
                self.secrets.push((value.to_string(), format!("[REDACTED:{name}]")));
            }
        }
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
    }

    /// `text` with every secret replaced.
    pub fn apply(&self, text: &str) -> String {
        let mut out = self.apply_values(text);
        if out.contains("://") && out.contains('@') {
            out = URL_USERINFO.replace_all(&out, "${1}[REDACTED]@").into_owned();
        }
        if SHAPE_HINTS.iter().any(|h| out.contains(h)) {
            for (shape, label) in TOKEN_SHAPES.iter() {
                if shape.is_match(&out) {
                    out = shape.replace_all(&out, format!("[REDACTED:{label}]").as_str()).into_owned();
                }
            }
        }
        out
    }

    fn apply_values(&self, text: &str) -> String {
        if !self.secrets.iter().any(|(value, _)| text.contains(value.as_str())) {
            return text.to_string();
        }
        // Two passes through private markers, so that a mask is never itself redacted again
        // (a secret's value may be another secret's name).
        let mut out = text.to_string();
        for (i, (value, _)) in self.secrets.iter().enumerate() {
            out = out.replace(value.as_str(), &format!("\u{0}{i}\u{0}"));
        }
        for (i, (_, mask)) in self.secrets.iter().enumerate() {
            out = out.replace(&format!("\u{0}{i}\u{0}"), mask);
        }
        out
    }

    /// Every string inside a JSON value, redacted.
    pub fn apply_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.apply(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.apply_json(v)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), self.apply_json(v))).collect()),
            other => other.clone(),
        }
    }

    /// `NAME=value` with the value masked when the name is a secret's.
    pub fn env_entry(&self, name: &str, value: &str) -> String {
        if is_secret_name(name) { format!("{name}=[REDACTED]") } else { format!("{name}={}", self.apply(value)) }
    }
}

/// Log targets of the HTTP and TLS crates, which log whole requests — headers, a token among
/// them, as text or as a hex dump no redaction can match — at debug and trace: a subscriber
/// caps them at `warn` whatever the verbosity asked for.
pub const NOISY_LOG_TARGETS: [&str; 9] =
    ["ureq", "ureq_proto", "rustls", "reqwest", "hyper", "hyper_util", "h2", "tokio_rustls", "webpki"];

/// The ACP crate logs every message it relays (file contents among them) at trace, and each
/// error answer we send (a refused write, a file that is not there) at warn: the attempt log
/// says all of that, so a subscriber caps it at `error`.
pub const PROTOCOL_LOG_TARGETS: [&str; 1] = ["agent_client_protocol"];

/// A writer that holds what is written to it and writes it to `out` redacted when dropped (or
/// flushed): a log subscriber makes one per event, so each event line is redacted whole.
pub struct RedactingWriter<W: std::io::Write> {
    redactor: std::sync::Arc<Redactor>,
    held: Vec<u8>,
    out: W,
}

impl<W: std::io::Write> RedactingWriter<W> {
    /// Redacts with `redactor` what goes to `out`.
    pub fn new(redactor: std::sync::Arc<Redactor>, out: W) -> RedactingWriter<W> {
        RedactingWriter { redactor, held: Vec::new(), out }
    }
}

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.held.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.held.is_empty() {
            return self.out.flush();
        }
        let text = String::from_utf8_lossy(&self.held).into_owned();
        self.held.clear();
        self.out.write_all(self.redactor.apply(&text).as_bytes())?;
        self.out.flush()
    }
}

impl<W: std::io::Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_masked() {
        let r = Redactor::new([("OPENAI_API_KEY", "sk-very-secret"), ("HOME", "/root"), ("GH_TOKEN", "ghp_123456")]);
        assert_eq!(
            r.apply("key sk-very-secret and ghp_123456 in /root"),
            "key [REDACTED:OPENAI_API_KEY] and [REDACTED:GH_TOKEN] in /root"
        );
        assert_eq!(r.env_entry("ANTHROPIC_API_KEY", "x"), "ANTHROPIC_API_KEY=[REDACTED]");
        // A secret whose value is another secret's name is not redacted twice.
        let r = Redactor::new([("MY_SECRET_NAME", "OPENAI_API_KEY"), ("OPENAI_API_KEY", "sk-1234567")]);
        assert_eq!(r.apply("sk-1234567"), "[REDACTED:OPENAI_API_KEY]");
    }

    #[test]
    fn more_secret_names() {
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MYSQL_PWD", "SLACK_WEBHOOK_URL", "SENTRY_DSN"] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["PWD", "OLDPWD", "HOME", "GIT_AUTHOR_NAME", "PATH", "KEYBOARD"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn credentials_in_urls_are_masked_whatever_the_variable() {
        let r = Redactor::default();
        assert_eq!(
            r.apply("DATABASE_URL=postgres://app:hunter2pw@db.internal:5432/app"),
            "DATABASE_URL=postgres://[REDACTED]@db.internal:5432/app"
        );
        assert_eq!(
            r.apply("fetching https://x-access-token:abc123@github.com/o/r.git"),
            "fetching https://[REDACTED]@github.com/o/r.git"
        );
        assert_eq!(r.apply("see https://github.com/o/r and mail a@b.c"), "see https://github.com/o/r and mail a@b.c");
    }

    #[test]
    fn token_shapes_are_masked() {
        let r = Redactor::default();
        for (text, label) in [
            ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "github-token"),
            ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github-token"),
            ("sk-ant-api03-abcdefghijklmnopqrstuvwx", "api-key"),
            ("sk-proj-abcdefghijklmnopqrstuvwx", "api-key"),
            ("xoxb-1234567890-abcdefghij", "slack-token"),
            ("AKIAIOSFODNN7EXAMPLE", "aws-access-key-id"),
            ("https://hooks.slack.com/services/T000/B000/XXXXXXXX", "webhook-url"),
            ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----", "private-key"),
        ] {
            let out = r.apply(&format!("token: {text} end"));
            assert_eq!(out, format!("token: [REDACTED:{label}] end"), "{text}");
        }
        // Ordinary words are left alone.
        assert_eq!(r.apply("task-list sk-learn AKIA ghp_x"), "task-list sk-learn AKIA ghp_x");
    }

    #[test]
    fn configured_values_are_masked_by_value() {
        let r = Redactor::default().with_values([("DB_HOST", "db-prod-17.internal"), ("FLAG", "1")]);
        assert_eq!(r.apply("host db-prod-17.internal flag 1"), "host [REDACTED:DB_HOST] flag 1");
    }
}
