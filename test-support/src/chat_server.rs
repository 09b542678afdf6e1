//! A stand-in for an OpenAI-compatible chat-completions endpoint on loopback: it answers each
//! request with the next scripted reply and records what it was sent. HTTP/1.1 with keep-alive,
//! one thread per connection; just enough of the protocol for a client library to talk to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

/// One scripted reply.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A status, extra headers and a body.
    Http(u16, Vec<(String, String)>, String),
    /// Never answer (the connection stays open, silent).
    Hang,
}

impl Reply {
    /// A 200 chat completion whose message calls these tools: `(name, arguments object)`.
    pub fn tools(calls: &[(&str, Json)]) -> Reply {
        let calls: Vec<Json> = calls
            .iter()
            .enumerate()
            .map(|(i, (name, args))| {
                json!({"id": format!("call_{i}"), "type": "function",
                       "function": {"name": name, "arguments": args.to_string()}})
            })
            .collect();
        Reply::completion(json!({"role": "assistant", "content": null, "tool_calls": calls}))
    }

    /// A 200 chat completion answering `text` without tools.
    pub fn text(text: &str) -> Reply {
        Reply::completion(json!({"role": "assistant", "content": text}))
    }

    fn completion(message: Json) -> Reply {
        let body = json!({"id": "chatcmpl-test", "object": "chat.completion", "model": "stand-in",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}});
        Reply::Http(200, Vec::new(), body.to_string())
    }

    /// A JSON error answer (`{"error": {"message": …}}`) with extra headers.
    pub fn error(status: u16, message: &str, headers: &[(&str, &str)]) -> Reply {
        let body = json!({"error": {"message": message, "type": "test"}}).to_string();
        Reply::Http(status, headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), body)
    }
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Received {
    /// When it arrived.
    pub at: Instant,
    /// `POST /v1/chat/completions`.
    pub request_line: String,
    /// The `Authorization` header, when sent.
    pub authorization: Option<String>,
    /// The body as JSON (`Null` when it was not JSON).
    pub body: Json,
}

/// The running server.
pub struct ChatServer {
    /// `http://127.0.0.1:<port>/v1`.
    pub base_url: String,
    script: Arc<Mutex<Vec<Reply>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl ChatServer {
    /// Starts a server answering with `script` in order (after it runs out: HTTP 500).
    pub fn start(script: Vec<Reply>) -> ChatServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let script = Arc::new(Mutex::new(script.into_iter().rev().collect::<Vec<_>>()));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (script.clone(), received.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (s, r) = (s.clone(), r.clone());
                std::thread::spawn(move || serve(stream, s, r));
            }
        });
        ChatServer { base_url, script, received }
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Replies not used yet.
    pub fn remaining(&self) -> usize {
        self.script.lock().unwrap().len()
    }
}

fn serve(stream: TcpStream, script: Arc<Mutex<Vec<Reply>>>, received: Arc<Mutex<Vec<Received>>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let (mut length, mut authorization) = (0usize, None);
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "authorization" => authorization = Some(value.trim().to_string()),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        received.lock().unwrap().push(Received {
            at: Instant::now(),
            request_line: request_line.trim_end().to_string(),
            authorization,
            body: serde_json::from_slice(&body).unwrap_or(Json::Null),
        });
        let reply = script.lock().unwrap().pop().unwrap_or_else(|| Reply::error(500, "the script ran out", &[]));
        match reply {
            Reply::Hang => {
                std::thread::sleep(Duration::from_secs(120));
                return;
            }
            Reply::Http(status, headers, body) => {
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if writer.write_all(head.as_bytes()).and_then(|_| writer.write_all(body.as_bytes())).is_err() {
                    return;
                }
            }
        }
    }
}
