//! Keeping secrets out of what we write: values of environment variables named like secrets
//! (`*_API_KEY`, `*_TOKEN`, `*_SECRET`, `*PASSWORD*`, …) are replaced by `[REDACTED:<NAME>]` in log
//! headers, logged output lines, event lines and result text.

/// Whether an environment variable name looks like it holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    const MARKERS: [&str; 8] =
        ["API_KEY", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE_KEY"];
    MARKERS.iter().any(|m| upper.contains(m)) || upper.ends_with("_KEY") || upper.ends_with("_PAT")
}

/// Replaces known secret values in text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<(String, String)>,
}

impl Redactor {
    /// Collects the secrets among `vars` (short values are ignored: redacting `1` everywhere
    /// would make logs unreadable without protecting anything).
    pub fn new<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Redactor {
        let mut secrets: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(name, value)| is_secret_name(name) && value.len() >= 6)
            .map(|(name, value)| (value.to_string(), format!("[REDACTED:{name}]")))
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        secrets.dedup_by(|a, b| a.0 == b.0);
        Redactor { secrets }
    }

    /// The secrets of this process's environment plus `extra`.
    pub fn from_env(extra: &[(String, String)]) -> Redactor {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Redactor::new(env.iter().chain(extra.iter()).map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// `text` with every secret value replaced.
    pub fn apply(&self, text: &str) -> String {
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

    /// `NAME=value` with the value masked when the name is a secret's.
    pub fn env_entry(&self, name: &str, value: &str) -> String {
        if is_secret_name(name) { format!("{name}=[REDACTED]") } else { format!("{name}={}", self.apply(value)) }
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
}
