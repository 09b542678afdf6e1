//! The board's HTTP server: HTTP/1.1 (hyper) on one listening socket, four read-only routes.
//!
//! - `/` — the live page ([`crate::report::live_html`]);
//! - `/events` — server-sent events: `change` each time a ref of the feature moves;
//! - `/wp/<WP>` — that WP's history and the tail of its latest agent log, as an HTML fragment;
//! - `/report.json` — the report as JSON.
//!
//! Every request must name the board's own address as its `Host` (a page elsewhere cannot reach
//! it through DNS rebinding) and, when the board has a token, carry it (`?token=` or
//! `Authorization: Bearer`). Nothing here writes: a board cannot change a run.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Body, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::mpsc;

use super::page;
use super::shared::Shared;

type Reply = Response<BoxBody<Bytes, Infallible>>;

/// Longest wait between two `: ping` comments on an idle event stream (keeps proxies and the
/// browser from closing it).
const PING: Duration = Duration::from_secs(15);

/// A server-sent event stream fed by a channel.
struct EventStream(mpsc::Receiver<Bytes>);

impl Body for EventStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes))))
    }
}

fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Reply {
    let mut reply = Response::new(Full::new(body.into()).boxed());
    *reply.status_mut() = status;
    headers(&mut reply, content_type);
    reply
}

fn headers(reply: &mut Reply, content_type: &str) {
    let h = reply.headers_mut();
    let set = |h: &mut hyper::HeaderMap, k: &'static str, v: &str| {
        if let Ok(v) = hyper::header::HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    set(h, "content-type", content_type);
    set(h, "cache-control", "no-store");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(h, "x-frame-options", "DENY");
}

fn text(status: StatusCode, message: &str) -> Reply {
    full(status, "text/plain; charset=utf-8", format!("{message}\n"))
}

/// Whether the request may be answered: the right `Host`, and the token when there is one.
fn admitted(req: &Request<Incoming>, shared: &Shared) -> Result<(), Box<Reply>> {
    let host = req.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("");
    let port = shared.addr.port();
    let ours = if shared.addr.ip().is_loopback() {
        [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}"), shared.addr.to_string()]
            .contains(&host.to_ascii_lowercase())
    } else {
        // Bound elsewhere on purpose (`--listen`): the token is the gate.
        true
    };
    if !ours {
        return Err(Box::new(text(StatusCode::MISDIRECTED_REQUEST, "this board answers only to its own address")));
    }
    let Some(token) = &shared.token else { return Ok(()) };
    let from_query = req
        .uri()
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("token="))
        .map(str::to_string);
    let from_header = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_string);
    let given = from_query.or(from_header).unwrap_or_default();
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(Box::new(text(StatusCode::UNAUTHORIZED, "this board needs its token (?token=…)")))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Answers one request.
pub(super) async fn respond(req: Request<Incoming>, shared: Arc<Shared>) -> Result<Reply, Infallible> {
    if let Err(refused) = admitted(&req, &shared) {
        return Ok(*refused);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(text(StatusCode::METHOD_NOT_ALLOWED, "the board is read-only"));
    }
    let path = req.uri().path().to_string();
    let reply = match path.as_str() {
        "/" => blocking(shared.clone(), page::live).await,
        "/report.json" => blocking(shared.clone(), page::report_json).await,
        "/events" => events(shared.clone()),
        _ => match path.strip_prefix("/wp/") {
            Some(wp) if !wp.is_empty() && wp.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') => {
                let wp = wp.to_string();
                blocking(shared.clone(), move |s| page::wp(s, &wp)).await
            }
            _ => text(StatusCode::NOT_FOUND, "no such page: the board has /, /events, /wp/<WP> and /report.json"),
        },
    };
    Ok(reply)
}

/// Runs a page builder (git reads) off the async threads.
async fn blocking(
    shared: Arc<Shared>,
    build: impl FnOnce(&Shared) -> Result<(String, &'static str), crate::Error> + Send + 'static,
) -> Reply {
    match tokio::task::spawn_blocking(move || build(&shared)).await {
        // The page's policy (with its script's nonce) is in its own `<meta>`.
        Ok(Ok((body, content_type))) => full(StatusCode::OK, content_type, body),
        Ok(Err(err)) => text(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "the page could not be built"),
    }
}

/// `/events`: `hello` at once, then `change` whenever the feature's refs move, polled every
/// `poll`; a comment line now and then keeps an idle stream open. The task ends with the
/// client (its channel closes) or the board.
fn events(shared: Arc<Shared>) -> Reply {
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    tokio::spawn(async move {
        let mut last = page::fingerprint(&shared).ok();
        let first = format!("event: hello\ndata: {}\n\n", last.as_deref().unwrap_or(""));
        if tx.send(Bytes::from(first)).await.is_err() {
            return;
        }
        // Told by the kernel when refs move (no polling while nothing happens); without file
        // notifications, every `poll`.
        let mut refs = shared.orch.watch_refs(shared.poll).ok();
        let mut quiet = Duration::ZERO;
        loop {
            let waited = std::time::Instant::now();
            tokio::select! {
                () = shared.cancel.cancelled() => return,
                () = async {
                    match refs.as_mut() {
                        Some(watch) => watch.changed().await,
                        None => tokio::time::sleep(shared.poll).await,
                    }
                } => {}
            }
            let shared2 = shared.clone();
            let now = tokio::task::spawn_blocking(move || page::fingerprint(&shared2)).await.ok().and_then(Result::ok);
            let message = if now.is_some() && now != last {
                last = now;
                quiet = Duration::ZERO;
                format!("event: change\ndata: {}\n\n", last.as_deref().unwrap_or(""))
            } else {
                quiet += waited.elapsed();
                if quiet < PING {
                    continue;
                }
                quiet = Duration::ZERO;
                ": ping\n\n".to_string()
            };
            if tx.send(Bytes::from(message)).await.is_err() {
                return;
            }
        }
    });
    let mut reply = Response::new(EventStream(rx).boxed());
    headers(&mut reply, "text/event-stream");
    reply
}
