//! Binding the board (loopback, or elsewhere with a token) and serving its connections.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

use super::server;
use super::shared::Shared;
use crate::config::ConfigError;
use crate::engine::Orchestrator;

/// Where and how the board listens.
#[derive(Debug, Clone)]
pub struct BoardOptions {
    /// The address to listen on (default `127.0.0.1:0`: loopback, a free port). Any address that
    /// is not loopback needs a `token`.
    pub listen: SocketAddr,
    /// A token every request must carry (`?token=` or `Authorization: Bearer`); required off
    /// loopback.
    pub token: Option<String>,
    /// How often the refs are looked at for the live updates when the system gives no file
    /// notifications (with them, the board waits for the kernel to say the refs moved).
    pub poll: Duration,
}

impl Default for BoardOptions {
    fn default() -> Self {
        BoardOptions {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            token: None,
            poll: Duration::from_millis(300),
        }
    }
}

/// A bound board, ready to serve.
pub struct Board {
    listener: tokio::net::TcpListener,
    orch: Orchestrator,
    feature: String,
    opts: BoardOptions,
    addr: SocketAddr,
}

impl Board {
    /// Binds the board of `feature` (which must exist). A non-loopback address without a token
    /// is refused (`config_invalid`, key `listen`), as is an empty token.
    pub async fn bind(orch: Orchestrator, feature: &str, opts: BoardOptions) -> Result<Board, crate::Error> {
        let invalid = |key: &str, message: String| ConfigError {
            path: "<board options>".into(),
            key: Some(key.to_string()),
            line: None,
            message,
        };
        if opts.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(invalid("token", "the token is empty".into()).into());
        }
        if !opts.listen.ip().is_loopback() && opts.token.is_none() {
            let why = format!(
                "{} is not a loopback address: a board reachable from other machines needs a token (--token, or one is generated with --listen)",
                opts.listen
            );
            return Err(invalid("listen", why).into());
        }
        let slug = orch.feature(feature)?.slug.to_string();
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|e| invalid("listen", format!("cannot listen on {}: {e} (choose another --port)", opts.listen)))?;
        let addr = listener.local_addr().map_err(|e| invalid("listen", e.to_string()))?;
        Ok(Board { listener, orch, feature: slug, opts, addr })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address, with the token when there is one.
    pub fn url(&self) -> String {
        let host = if self.addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { self.addr.ip().to_string() };
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        match &self.opts.token {
            Some(token) => format!("http://{host}:{}/?token={token}", self.addr.port()),
            None => format!("http://{host}:{}/", self.addr.port()),
        }
    }

    /// Serves until `cancel`; each connection in a task of its own.
    pub async fn serve(self, cancel: CancellationToken) -> Result<(), crate::Error> {
        let shared = Arc::new(Shared {
            orch: self.orch,
            feature: self.feature,
            token: self.opts.token,
            addr: self.addr,
            poll: self.opts.poll,
            cancel: cancel.clone(),
        });
        loop {
            let (stream, _) = tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        tracing::warn!(%err, "board: accepting a connection failed");
                        continue;
                    }
                },
            };
            let shared = shared.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| server::respond(req, shared.clone()));
                let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    () = cancel.cancelled() => {}
                    result = conn => {
                        if let Err(err) = result {
                            tracing::debug!(%err, "board: a connection ended");
                        }
                    }
                }
            });
        }
    }
}
