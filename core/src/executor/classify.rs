//! Deriving a failure class from how an agent ended and what it printed.
//!
//! Order: our own kills (timeout, idle, cancel) first; then a signal we did not send (crash);
//! then the agent's own structured error and known exit codes; then the text of its output
//! (auth, rate limit, network); otherwise `nonzero_exit`. An exit 0 whose structured output is
//! missing is `invalid_output`, and claude's `is_error` with exit 0 is still a failure.

use super::output::AgentResult;
use crate::failure::FailureClass;

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ExitInfo {
    /// Exit code, when it exited.
    pub code: Option<i32>,
    /// Signal number, when a signal ended it.
    pub signal: Option<i32>,
}

impl ExitInfo {
    /// What a waited-for process's status says (nothing, when the wait itself failed).
    pub(super) fn of(status: &std::io::Result<std::process::ExitStatus>) -> ExitInfo {
        use std::os::unix::process::ExitStatusExt;
        match status {
            Ok(status) => ExitInfo { code: status.code(), signal: status.signal() },
            Err(_) => ExitInfo { code: None, signal: None },
        }
    }
}

/// Why we ended the process, if we did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It ended by itself.
    ByItself,
    /// Wall-clock limit.
    Timeout,
    /// No output for too long.
    Idle,
    /// Cancelled by the caller (abort).
    Cancelled,
}

const AUTH: [&str; 16] = [
    "no auth",
    "auth type",
    "auth method",
    "no authentication information",
    "not logged in",
    "please log in",
    "please run /login",
    "invalid api key",
    "invalid_api_key",
    "authentication",
    "unauthorized",
    "401",
    "403 forbidden",
    "api key not valid",
    "login required",
    "credentials",
];
const RATE: [&str; 7] = ["rate limit", "rate_limit", "ratelimit", "429", "too many requests", "quota", "overloaded"];
const NETWORK: [&str; 9] = [
    "econnrefused",
    "enotfound",
    "econnreset",
    "etimedout",
    "getaddrinfo",
    "network error",
    "connection refused",
    "could not resolve host",
    "fetch failed",
];

pub(super) fn text_class(text: &str) -> Option<FailureClass> {
    let lower = text.to_ascii_lowercase();
    if AUTH.iter().any(|p| lower.contains(p)) {
        Some(FailureClass::Auth)
    } else if RATE.iter().any(|p| lower.contains(p)) {
        Some(FailureClass::RateLimit)
    } else if NETWORK.iter().any(|p| lower.contains(p)) {
        Some(FailureClass::Network)
    } else {
        None
    }
}

/// The failure class of a run, or `None` for success (or a cancellation, which is no failure).
pub fn classify(
    agent: &str,
    ended: Ended,
    exit: ExitInfo,
    result: &AgentResult,
    structured_expected: bool,
    output_tail: &str,
) -> Option<FailureClass> {
    match ended {
        Ended::Timeout => return Some(FailureClass::Timeout),
        Ended::Idle => return Some(FailureClass::IdleTimeout),
        Ended::Cancelled => return None,
        Ended::ByItself => {}
    }
    if exit.signal.is_some() {
        return Some(FailureClass::Crash);
    }
    if let Some(status) = result.api_error_status {
        match status {
            401 | 403 => return Some(FailureClass::Auth),
            429 => return Some(FailureClass::RateLimit),
            500..=599 => return Some(FailureClass::Network),
            _ => {}
        }
    }
    let code = exit.code.unwrap_or(0);
    if agent == "gemini" || agent == "qwen" {
        // gemini-cli exit codes: 41 = authentication, 42 = input error, 53 = turn limit.
        if code == 41 {
            return Some(FailureClass::Auth);
        }
    }
    let failed = code != 0 || result.is_error;
    if !failed {
        if structured_expected && !result.structured {
            return Some(FailureClass::InvalidOutput);
        }
        return None;
    }
    let error_text = format!("{}\n{}\n{}", result.error.as_deref().unwrap_or(""), result.text, output_tail);
    Some(text_class(&error_text).unwrap_or(FailureClass::NonzeroExit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: i32) -> ExitInfo {
        ExitInfo { code: Some(code), signal: None }
    }

    #[test]
    fn classes() {
        let ok = AgentResult { structured: true, ..Default::default() };
        assert_eq!(classify("codex", Ended::ByItself, exit(0), &ok, true, ""), None);
        assert_eq!(classify("codex", Ended::Timeout, exit(0), &ok, true, ""), Some(FailureClass::Timeout));
        assert_eq!(classify("codex", Ended::Cancelled, exit(1), &ok, true, ""), None);
        assert_eq!(
            classify("codex", Ended::ByItself, ExitInfo { code: None, signal: Some(11) }, &ok, true, ""),
            Some(FailureClass::Crash)
        );
        assert_eq!(
            classify("x", Ended::ByItself, exit(1), &ok, true, "Error: Invalid API key"),
            Some(FailureClass::Auth)
        );
        assert_eq!(
            classify("x", Ended::ByItself, exit(1), &ok, true, "429 Too Many Requests"),
            Some(FailureClass::RateLimit)
        );
        assert_eq!(
            classify("x", Ended::ByItself, exit(1), &ok, true, "connect ECONNREFUSED"),
            Some(FailureClass::Network)
        );
        assert_eq!(classify("x", Ended::ByItself, exit(2), &ok, true, "boom"), Some(FailureClass::NonzeroExit));
        assert_eq!(classify("gemini", Ended::ByItself, exit(41), &ok, true, ""), Some(FailureClass::Auth));
        let unstructured = AgentResult::default();
        assert_eq!(classify("x", Ended::ByItself, exit(0), &unstructured, true, ""), Some(FailureClass::InvalidOutput));
        let claude_err =
            AgentResult { is_error: true, api_error_status: Some(401), structured: true, ..Default::default() };
        assert_eq!(classify("claude-code", Ended::ByItself, exit(0), &claude_err, true, ""), Some(FailureClass::Auth));
    }
}
