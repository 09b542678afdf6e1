//! `run --clone URL` and `workspaces list|remove`.

use std::path::PathBuf;

use kitty_orchestrator::workspace;
use tokio_util::sync::CancellationToken;

use crate::{exit, fail, render};

#[derive(clap::Args)]
pub struct WorkspacesArgs {
    #[command(subcommand)]
    command: WorkspacesCommand,
}

#[derive(clap::Subcommand)]
enum WorkspacesCommand {
    /// Each workspace's origin, branch, features and their progress from the refs.
    List {
        /// Where the workspaces are (default: KITTY_WORKSPACE_DIR, else the current directory).
        #[arg(long)]
        workspace_dir: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a workspace: refused while it holds uncommitted files or branches on no remote,
    /// unless --force; a backup bundle of every ref is written to <dir>/.kitty-backups/ first.
    Remove {
        /// The workspace's name (as `workspaces list` shows it).
        name: String,
        /// Remove it even with unsaved work (which is in the backup bundle).
        #[arg(long)]
        force: bool,
        /// Where the workspaces are (default: KITTY_WORKSPACE_DIR, else the current directory).
        #[arg(long)]
        workspace_dir: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

pub fn workspaces(args: WorkspacesArgs) -> u8 {
    match args.command {
        WorkspacesCommand::List { workspace_dir, json } => {
            let dir = workspace_dir.unwrap_or_else(workspace::default_workspace_dir);
            match workspace::list_workspaces(&dir) {
                Ok(list) if json => {
                    println!("{}", serde_json::to_string_pretty(&list).expect("workspaces serialize"));
                    exit::OK
                }
                Ok(list) => {
                    print!("{}", render::workspaces(&dir, &list));
                    exit::OK
                }
                Err(err) => fail(&err.into(), json),
            }
        }
        WorkspacesCommand::Remove { name, force, workspace_dir, json } => {
            let dir = workspace_dir.unwrap_or_else(workspace::default_workspace_dir);
            let rt = runtime();
            let cancel = CancellationToken::new();
            match rt.block_on(workspace::remove_workspace(&dir, &name, force, &cancel)) {
                Ok(removed) if json => {
                    println!("{}", serde_json::to_string_pretty(&removed).expect("serializes"));
                    exit::OK
                }
                Ok(removed) => {
                    println!("removed {}", removed.path.display());
                    if let Some(backup) = &removed.backup {
                        println!("backup: {} (git clone it to get every ref back)", backup.display());
                    }
                    for what in &removed.unsaved {
                        println!("  only in the backup now: {}", render::clean(what));
                    }
                    for wt in &removed.worktrees_removed {
                        println!("  worktree removed: {}", wt.display());
                    }
                    exit::OK
                }
                Err(err) => fail(&err.into(), json),
            }
        }
    }
}
