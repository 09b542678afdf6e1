//! Just enough HTTP/1.1 for the agent CLIs' HTTP clients (Node's undici, Rust's reqwest, Python's
//! httpx): requests with a `content-length` or a chunked body, keep-alive for plain answers, and
//! server-sent events answered with `connection: close` (the client reads to the end).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// One request as read off the connection.
pub struct Request {
    /// `POST`, `GET`, …
    pub method: String,
    /// The path with its query.
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body's bytes (a chunked body joined).
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// What to answer.
pub enum Response {
    /// A JSON document.
    Json(u16, String),
    /// Server-sent events: each entry is one event's complete text (`event: …\ndata: …\n\n`).
    Events(Vec<String>),
}

/// Reads one request; `None` when the client closed the connection.
pub fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let mut request = Request { method, path, headers, body: Vec::new() };
    if request.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?.trim(), 16).ok()?;
            let mut chunk = vec![0u8; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            request.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = request.header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        request.body = vec![0u8; length];
        reader.read_exact(&mut request.body).ok()?;
    }
    Some(request)
}

/// Writes `response`; `false` when the connection must close afterwards.
pub fn write_response(stream: &mut TcpStream, response: Response) -> bool {
    match response {
        Response::Json(status, body) => {
            let head = format!(
                "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                if status < 400 { "OK" } else { "Error" },
                body.len()
            );
            stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body.as_bytes())).is_ok()
        }
        Response::Events(events) => {
            stream_out(stream, "text/event-stream", events.iter().map(String::as_str));
            false
        }
    }
}

fn stream_out<'a>(stream: &mut TcpStream, content_type: &str, pieces: impl Iterator<Item = &'a str>) {
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n"
    );
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    for piece in pieces {
        if stream.write_all(piece.as_bytes()).and_then(|_| stream.flush()).is_err() {
            return;
        }
    }
}
