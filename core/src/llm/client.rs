//! One chat-completions request: `POST <base_url>/chat/completions` with the key as a bearer
//! token, through reqwest (rustls with ring, the system's root certificates), and its answer read
//! as a typed [`Reply`] or a classified [`CallError`].

use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::command::ApiSettings;
use crate::failure::FailureClass;

/// Longest body kept from an error answer (it goes into the log and the outcome).
const MAX_ERROR_BODY: usize = 2000;

/// Longest answer read: a chat completion is kilobytes; a server streaming without end must not
/// exhaust our memory (the attempt fails as `invalid_output`).
pub const MAX_REPLY_BYTES: usize = 8 * 1024 * 1024;

/// What one call to the model gave.
#[derive(Debug, Clone, Default)]
pub(super) struct Reply {
    /// The assistant message as the server sent it (kept whole for the next request).
    pub(super) message: Json,
    /// Its text, when it has any.
    pub(super) text: String,
    /// Its tool calls: `(id, name, arguments as sent)`.
    pub(super) calls: Vec<(String, String, String)>,
    /// Input and output tokens of this call, when reported.
    pub(super) usage: (Option<u64>, Option<u64>),
}

/// Why a call failed.
#[derive(Debug, Clone)]
pub(super) enum CallError {
    /// 401 or 403: the key is missing, wrong or lacks access.
    Auth(String),
    /// 429: wait (`Retry-After` when given), then try again.
    RateLimit(Option<Duration>, String),
    /// Unreachable, reset, or a 5xx answer: worth a few retries.
    Network(String),
    /// The request took longer than `request_timeout_seconds`.
    Timeout(String),
    /// Not a chat completion (bad JSON, no choices) or another 4xx: retrying will not help.
    Invalid(String),
}

impl CallError {
    /// The outcome class when retries run out.
    pub(super) fn class(&self) -> FailureClass {
        match self {
            CallError::Auth(_) => FailureClass::Auth,
            CallError::RateLimit(..) => FailureClass::RateLimit,
            CallError::Network(_) => FailureClass::Network,
            CallError::Timeout(_) => FailureClass::Timeout,
            CallError::Invalid(_) => FailureClass::InvalidOutput,
        }
    }

    /// What happened, for the log and the outcome (already free of the key).
    pub(super) fn message(&self) -> &str {
        match self {
            CallError::Auth(m)
            | CallError::RateLimit(_, m)
            | CallError::Network(m)
            | CallError::Timeout(m)
            | CallError::Invalid(m) => m,
        }
    }
}

/// The HTTP client of one attempt.
pub(super) struct Client {
    http: reqwest::Client,
    url: String,
    key: Option<String>,
}

impl Client {
    /// A client for `settings` sending `key` (none for a local server that needs none).
    pub(super) fn new(settings: &ApiSettings, key: Option<String>) -> Result<Client, String> {
        // reqwest is built without a crypto provider of its own: ring, as the rest of us use.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.request_timeout_seconds))
            .connect_timeout(Duration::from_secs(30))
            .user_agent(concat!("kitty-orchestrator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(Client { http, url: format!("{}/chat/completions", settings.base_url.trim_end_matches('/')), key })
    }

    /// Sends `body`; the reply or why not.
    pub(super) async fn complete(&self, body: &Json) -> Result<Reply, CallError> {
        let mut request = self.http.post(&self.url).json(body);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after_delay);
        let text = self.read_capped(response).await?;
        if !status.is_success() {
            let detail = format!("HTTP {} from {}: {}", status.as_u16(), self.url, error_text(&text));
            return Err(match status.as_u16() {
                401 | 403 => CallError::Auth(detail),
                429 => CallError::RateLimit(retry_after, detail),
                408 | 500..=599 => CallError::Network(detail),
                _ => CallError::Invalid(detail),
            });
        }
        parse_reply(&text)
            .map_err(|why| CallError::Invalid(format!("the answer from {} is not a chat completion: {why}", self.url)))
    }
}

impl Client {
    /// The body, read a chunk at a time up to [`MAX_REPLY_BYTES`].
    async fn read_capped(&self, mut response: reqwest::Response) -> Result<String, CallError> {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err(CallError::Invalid(format!(
                    "the answer from {} is larger than {MAX_REPLY_BYTES} bytes: not read further",
                    self.url
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

fn transport(err: reqwest::Error) -> CallError {
    let (timeout, decode) = (err.is_timeout(), err.is_decode());
    // Without the URL (its query or credentials): reqwest's Display holds no key then.
    let message = err.without_url().to_string();
    if timeout {
        CallError::Timeout(format!("the request took too long ({message})"))
    } else if decode {
        CallError::Invalid(message)
    } else {
        CallError::Network(message)
    }
}

/// `Retry-After` as seconds (a number) — the form OpenAI and local servers send.
fn retry_after_delay(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
}

/// The server's own message from an error body (`{"error": {"message": …}}`), else the body.
fn error_text(body: &str) -> String {
    let message = serde_json::from_str::<Json>(body)
        .ok()
        .and_then(|v| v.pointer("/error/message").and_then(Json::as_str).map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string());
    super::transcript::clip(&message, MAX_ERROR_BODY)
}

/// The first choice's message of a chat-completion body.
pub(super) fn parse_reply(body: &str) -> Result<Reply, String> {
    let value: Json = serde_json::from_str(body).map_err(|e| format!("invalid JSON ({e})"))?;
    let message = value.pointer("/choices/0/message").cloned().ok_or("it has no choices[0].message")?;
    if !message.is_object() {
        return Err("choices[0].message is not an object".into());
    }
    let text = match message.get("content") {
        Some(Json::String(s)) => s.clone(),
        // Some servers send content as parts.
        Some(Json::Array(parts)) => parts.iter().filter_map(|p| p.get("text").and_then(Json::as_str)).collect(),
        _ => String::new(),
    };
    let mut calls = Vec::new();
    if let Some(list) = message.get("tool_calls") {
        let list = list.as_array().ok_or("tool_calls is not a list")?;
        for (i, call) in list.iter().enumerate() {
            let name = call
                .pointer("/function/name")
                .and_then(Json::as_str)
                .ok_or(format!("tool_calls[{i}] has no function name"))?;
            let arguments = match call.pointer("/function/arguments") {
                Some(Json::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => "{}".to_string(),
            };
            let id = call.get("id").and_then(Json::as_str).map_or_else(|| format!("call_{i}"), str::to_string);
            calls.push((id, name.to_string(), arguments));
        }
    }
    let usage = (
        value.pointer("/usage/prompt_tokens").and_then(Json::as_u64),
        value.pointer("/usage/completion_tokens").and_then(Json::as_u64),
    );
    Ok(Reply { message, text, calls, usage })
}

/// The request body: model, messages, tools, limits.
pub(super) fn request_body(settings: &ApiSettings, messages: &[Json], tools: &[Json]) -> Json {
    let mut body = json!({
        "model": settings.model,
        "messages": messages,
        "tools": tools,
        "tool_choice": "auto",
        "max_completion_tokens": settings.max_output_tokens,
    });
    if let Some(t) = settings.temperature {
        body["temperature"] = json!(t);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_with_their_tool_calls_and_bad_ones_say_why() {
        let body = r#"{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[
            {"id":"c1","type":"function","function":{"name":"read_file","arguments":"{\"path\":\"a\"}"}}]}}],
            "usage":{"prompt_tokens":12,"completion_tokens":3}}"#;
        let reply = parse_reply(body).unwrap();
        assert_eq!(reply.calls, [("c1".into(), "read_file".into(), r#"{"path":"a"}"#.into())]);
        assert_eq!(reply.usage, (Some(12), Some(3)));
        for (bad, why) in [
            ("not json", "invalid JSON"),
            ("{}", "no choices"),
            (r#"{"choices":[{"message":{"tool_calls":3}}]}"#, "not a list"),
        ] {
            assert!(parse_reply(bad).unwrap_err().contains(why), "{bad}");
        }
        assert_eq!(retry_after_delay("2"), Some(Duration::from_secs(2)));
        assert_eq!(retry_after_delay("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
