//! The stand-in's server: one thread per connection, every request recorded.

use std::io::BufReader;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value as Json, json};

use super::dialects::{self, Dialect};
use super::http::{self, Response};
use super::play::{self, EditStyle, Step};

/// One request the stand-in answered.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `POST /v1/messages?beta=true`.
    pub request: String,
    /// Where the play stood and what it answered (`None`: not a model request).
    pub step: Option<Step>,
}

/// The running stand-in.
pub struct ModelStandIn {
    /// `http://127.0.0.1:<port>` (the API paths follow: `/v1/messages`, `/v1/responses`, …).
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

struct Shared {
    agent: String,
    style: EditStyle,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Reject-once play: the WPs whose review was rejected already.
    rejected: Option<Mutex<std::collections::HashSet<String>>>,
}

impl ModelStandIn {
    /// Starts a stand-in playing the model for `agent` (the name it writes into each file).
    pub fn start(agent: &str, style: EditStyle) -> ModelStandIn {
        ModelStandIn::play(agent, style, false)
    }

    /// A stand-in whose reviewer rejects each WP's first review (asking for a second line in
    /// its file), and whose implementer then adds it — in its own continued session or in a
    /// new one.
    pub fn start_rejecting_once(agent: &str, style: EditStyle) -> ModelStandIn {
        ModelStandIn::play(agent, style, true)
    }

    fn play(agent: &str, style: EditStyle, reject_once: bool) -> ModelStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let rejected = reject_once.then(|| Mutex::new(std::collections::HashSet::new()));
        let shared = Arc::new(Shared { agent: agent.to_string(), style, seen: seen.clone(), rejected });
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        ModelStandIn { url, seen }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("not poisoned").clone()
    }

    /// What the stand-in saw, one line per request (for a failing test's message).
    pub fn transcript(&self) -> String {
        self.seen()
            .iter()
            .map(|s| match &s.step {
                Some(step) => {
                    format!("{} -> {:?} after {} results: {}", s.request, step.task, step.results, step.answer)
                }
                None => format!("{} -> not a model request", s.request),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The work packages whose implementer got the tools' results back and said it was done
    /// (the file was written and committed by the CLI's own tools).
    pub fn finished_with_tools(&self) -> Vec<String> {
        let mut wps: Vec<String> = self
            .seen()
            .into_iter()
            .filter_map(|s| s.step)
            .filter(|s| s.results >= 2 && s.answer == "text")
            .filter_map(|s| match s.task {
                Some(play::Task::Implement { wp, .. }) => Some(wp),
                _ => None,
            })
            .collect();
        wps.sort();
        wps.dedup();
        wps
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    let mut n = 0;
    while let Some(request) = http::read_request(&mut reader) {
        n += 1;
        let label = format!("{} {}", request.method, request.path);
        let (response, step) = respond(&request, shared, n);
        shared.seen.lock().expect("not poisoned").push(Seen { request: label, step });
        if !http::write_response(&mut writer, response) {
            return;
        }
    }
}

fn respond(request: &http::Request, shared: &Shared, n: usize) -> (Response, Option<Step>) {
    let path = request.path.split('?').next().unwrap_or("");
    if request.method == "GET" {
        // Model listings (opencode, Copilot, Gemini probe them).
        let body = if path.ends_with("/models") {
            json!({"object": "list", "data": [{"id": "stand-in", "object": "model", "owned_by": "kitty"}],
                   "models": [{"name": "models/stand-in"}]})
        } else {
            json!({})
        };
        return (Response::Json(200, body.to_string()), None);
    }
    if path.ends_with(":countTokens") || path.ends_with("/count_tokens") {
        return (Response::Json(200, json!({"totalTokens": 100, "input_tokens": 100}).to_string()), None);
    }
    let Some(dialect) = Dialect::of(path) else {
        return (Response::Json(404, json!({"error": {"message": format!("no such API: {path}")}}).to_string()), None);
    };
    let body: Json = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(e) => {
            let why = format!(
                "the stand-in could not read the body ({e}; content-encoding {:?})",
                request.header("content-encoding")
            );
            return (Response::Json(400, json!({"error": {"message": why}}).to_string()), None);
        }
    };
    // KITTY_STANDIN_DUMP=<dir>: every request body kept, for finding out what a new CLI sends.
    if let Some(dir) = std::env::var_os("KITTY_STANDIN_DUMP") {
        let seq = shared.seen.lock().expect("not poisoned").len();
        let _ = std::fs::write(std::path::Path::new(&dir).join(format!("{seq:03}-{n}.json")), &request.body);
    }
    let conversation = dialects::read(dialect, &body);
    let first_review =
        |wp: &str| shared.rejected.as_ref().is_some_and(|r| r.lock().expect("not poisoned").insert(wp.to_string()));
    let reject: Option<&dyn Fn(&str) -> bool> =
        shared.rejected.as_ref().map(|_| &first_review as &dyn Fn(&str) -> bool);
    let (turn, step) = play::next(&conversation, &shared.agent, shared.style, reject);
    // A unique id per connection and request: clients reject a repeated tool call id.
    let id = n + 1000 * (shared.seen.lock().expect("not poisoned").len() + 1);
    (dialects::answer(dialect, &conversation, &turn, id), Some(step))
}
