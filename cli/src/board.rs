//! `board`: the feature's report page served live on loopback (see `kitty_orchestrator::board`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use kitty_orchestrator::board::{Board, BoardOptions, random_hex};
use tokio_util::sync::CancellationToken;

use crate::{exit, fail};

#[derive(clap::Args)]
pub struct BoardArgs {
    /// The feature: a slug under kitty-specs/ or a directory.
    feature: String,
    /// The repository (default: the current directory).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// The port on 127.0.0.1 (default: a free one, printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Listen on this address instead of loopback (e.g. 0.0.0.0:8080): only with a token, which
    /// is generated and printed when --token is not given.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// The token every request must carry (`?token=`).
    #[arg(long)]
    token: Option<String>,
}

/// `ADDR` or `IP` (then `--port`).
fn listen_address(text: &str, port: u16) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| text.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, port)))
}

pub fn board(args: BoardArgs) -> u8 {
    let orch = match crate::open(&args.repo, None) {
        Ok(o) => o,
        Err(err) => return fail(&err, false),
    };
    let mut opts = BoardOptions { token: args.token.clone(), ..BoardOptions::default() };
    match &args.listen {
        Some(text) => {
            let Some(addr) = listen_address(text, args.port) else {
                eprintln!("error: --listen {text}: not an address (give IP or IP:PORT)");
                return exit::BAD_INPUT;
            };
            opts.listen = addr;
            if opts.token.is_none() && !addr.ip().is_loopback() {
                opts.token = Some(random_hex());
            }
        }
        None => opts.listen = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), args.port),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(async {
        let board = match Board::bind(orch, &args.feature, opts).await {
            Ok(board) => board,
            Err(err) => return fail(&err, false),
        };
        println!("Board of {}: {}", args.feature, board.url());
        println!("(read-only, updated as the run moves; Ctrl-C ends it)");
        let cancel = CancellationToken::new();
        crate::run::cancel_on_signals(cancel.clone(), "board ended");
        match board.serve(cancel).await {
            Ok(()) => exit::OK,
            Err(err) => fail(&err, false),
        }
    })
}
