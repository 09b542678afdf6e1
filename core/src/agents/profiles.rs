//! Built-in agent profiles, as data. Each records the newest CLI version it was proven end to end
//! with: `cli/tests/suite/real_clis.rs` (part of the test command) installs every CLI's newest release
//! from npm or PyPI, points it at a loopback model stand-in that drives the CLI's own tools, and
//! runs a three-WP feature through `kitty-orchestrator run`, confined. A profile that cannot be
//! proven here says why (`not_proven`).

use super::profile::{AcpLaunch, AgentProfile};
use crate::command::OutputKind;
use crate::command::{AgentCommand, Delivery, Driver};

/// Prompt text for agents that need a short argument and read the real prompt elsewhere.
pub const READ_STDIN: &str = "Follow the instructions given on standard input.";

/// `command` as it goes when our confinement holds it: the flags of
/// [`AgentProfile::when_confined`] given their confined values (CLI driver), or the arguments and
/// environment of [`AcpLaunch::when_confined`] / [`AcpLaunch::env_when_confined`] added (ACP
/// driver); unchanged for any other agent.
pub fn confine_command(command: &mut AgentCommand) {
    let Some(profile) = builtin_profiles().into_iter().find(|p| p.id == command.agent) else { return };
    if command.driver == Driver::Acp {
        if let Some(launch) = profile.acp {
            command.args.extend(launch.when_confined.iter().map(|a| a.to_string()));
            command.env.extend(launch.env_when_confined.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        }
        return;
    }
    for (flag, value) in profile.when_confined {
        if let Some(at) = command.args.iter().position(|a| a == flag)
            && at + 1 < command.args.len()
        {
            command.args[at + 1] = value.to_string();
        }
    }
}

/// The built-in profiles, in default preference order.
pub fn builtin_profiles() -> Vec<AgentProfile> {
    fn s(items: &[&str]) -> Vec<String> {
        items.iter().map(|i| i.to_string()).collect()
    }
    vec![
        AgentProfile {
            id: "claude-code",
            binary: "claude",
            // acceptEdits + an allow-list: `bypassPermissions` is refused when running as root.
            implementation: s(&[
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--permission-mode",
                "acceptEdits",
                "--allowedTools",
                "Bash,Edit,Write,Read,Glob,Grep",
            ]),
            review: s(&[
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                // The allowed tools run, anything else is denied without asking (2.1.332 no longer
                // lists `default`).
                "--permission-mode",
                "dontAsk",
                "--allowedTools",
                "Read,Glob,Grep,Bash(git diff:*),Bash(git log:*),Bash(git show:*)",
            ]),
            delivery: Delivery::Stdin,
            output: OutputKind::ClaudeResult,
            model_flag: Some("--model"),
            env: &[],
            review_env: None,
            checked_version: Some("2.1.337"),
            not_proven: None,
            when_confined: &[],
            // `-p --resume <id>` continues the session with the prompt read from stdin.
            resume: Some(&["--resume", "{session}"]),
            acp: Some(AcpLaunch {
                program: Some("claude-agent-acp"),
                args: &[],
                adapter: Some("@zed-industries/claude-agent-acp"),
                checked_version: Some("0.23.1"),
                not_proven: None,
                when_confined: &[],
                // Claude Code refuses to start as root unless told it is sandboxed — which it is,
                // by us (the adapter asks for its permission-skipping mode's availability).
                env_when_confined: &[("IS_SANDBOX", "1")],
            }),
        },
        AgentProfile {
            id: "codex",
            binary: "codex",
            implementation: s(&["exec", "--json", "--skip-git-repo-check", "--sandbox", "workspace-write", "-"]),
            review: s(&["exec", "--json", "--skip-git-repo-check", "--sandbox", "read-only", "-"]),
            delivery: Delivery::Stdin,
            output: OutputKind::CodexJsonl,
            model_flag: Some("-m"),
            env: &[],
            review_env: None,
            checked_version: Some("codex-cli 0.171.0"),
            not_proven: None,
            when_confined: &[("--sandbox", "danger-full-access")],
            // `codex exec [its options] resume <id> -`: the session continued, the prompt from stdin.
            resume: Some(&["resume", "{session}"]),
            acp: Some(AcpLaunch {
                program: Some("codex-acp"),
                args: &[],
                adapter: Some("@zed-industries/codex-acp"),
                checked_version: Some("0.16.0"),
                not_proven: None,
                // As for its CLI: its own bubblewrap sandbox cannot start inside ours.
                when_confined: &["-c", "sandbox_mode=\"danger-full-access\""],
                env_when_confined: &[],
            }),
        },
        AgentProfile {
            id: "gemini",
            binary: "gemini",
            // `-p` needs a value; piped stdin is appended to it.
            implementation: s(&[
                "-p",
                READ_STDIN,
                "--output-format",
                "json",
                "--approval-mode",
                "yolo",
                "--skip-trust",
            ]),
            review: s(&["-p", READ_STDIN, "--output-format", "json", "--approval-mode", "plan", "--skip-trust"]),
            delivery: Delivery::Stdin,
            output: OutputKind::JsonDocument,
            model_flag: Some("-m"),
            env: &[],
            review_env: None,
            checked_version: Some("0.61.0"),
            not_proven: None,
            when_confined: &[],
            resume: None,
            acp: Some(AcpLaunch {
                program: None,
                args: &["--acp"],
                adapter: None,
                checked_version: Some("0.61.0"),
                not_proven: None,
                when_confined: &[],
                env_when_confined: &[],
            }),
        },
        AgentProfile {
            id: "copilot",
            binary: "copilot",
            // Piped stdin is the prompt when no -p is given; JSONL events give the answer, the
            // session id and the exit code.
            implementation: s(&["--allow-all-tools", "--output-format", "json"]),
            // Review: git inspection only, file writes denied (deny rules win over allow rules).
            review: s(&[
                "--allow-tool=shell(git diff:*)",
                "--allow-tool=shell(git log:*)",
                "--allow-tool=shell(git show:*)",
                "--allow-tool=shell(git status)",
                "--deny-tool=write",
                "--no-ask-user",
                "--output-format",
                "json",
            ]),
            delivery: Delivery::Stdin,
            output: OutputKind::CopilotJsonl,
            model_flag: Some("--model"),
            env: &[],
            review_env: None,
            checked_version: Some("GitHub Copilot CLI 1.0.102"),
            not_proven: None,
            when_confined: &[],
            resume: None,
            acp: Some(AcpLaunch {
                program: None,
                args: &["--acp"],
                adapter: None,
                checked_version: Some("GitHub Copilot CLI 1.0.102"),
                not_proven: None,
                when_confined: &[],
                env_when_confined: &[],
            }),
        },
        AgentProfile {
            id: "qwen",
            binary: "qwen",
            // `-p` is deprecated in 0.15: the prompt comes on stdin alone.
            implementation: s(&["--output-format", "json", "--approval-mode", "yolo"]),
            review: s(&["--output-format", "json", "--approval-mode", "plan"]),
            delivery: Delivery::Stdin,
            output: OutputKind::JsonDocument,
            model_flag: Some("-m"),
            env: &[],
            review_env: None,
            checked_version: Some("0.24.4"),
            not_proven: None,
            when_confined: &[],
            resume: None,
            acp: Some(AcpLaunch {
                program: None,
                args: &["--acp"],
                adapter: None,
                checked_version: Some("0.24.4"),
                not_proven: None,
                when_confined: &[],
                env_when_confined: &[],
            }),
        },
        AgentProfile {
            id: "opencode",
            binary: "opencode",
            // `opencode run` ignores stdin: the message is positional (long prompts go in a file).
            implementation: s(&["run", "--format", "json", "--agent", "build", "{prompt}"]),
            review: s(&["run", "--format", "json", "--agent", "plan", "{prompt}"]),
            delivery: Delivery::Arg,
            output: OutputKind::OpencodeJsonl,
            model_flag: Some("-m"),
            env: &[("OPENCODE_PERMISSION", r#"{"*":"allow"}"#)],
            // Review: read and inspect only; the last matching rule wins.
            review_env: Some(&[(
                "OPENCODE_PERMISSION",
                r#"{"*":"deny","read":"allow","list":"allow","glob":"allow","grep":"allow","bash":{"*":"deny","git diff*":"allow","git log*":"allow","git show*":"allow","git status*":"allow"},"edit":"deny","webfetch":"deny"}"#,
            )]),
            checked_version: Some("1.18.33"),
            not_proven: None,
            when_confined: &[],
            resume: None,
            acp: Some(AcpLaunch {
                program: None,
                args: &["acp"],
                adapter: None,
                checked_version: Some("1.18.33"),
                not_proven: None,
                when_confined: &[],
                env_when_confined: &[],
            }),
        },
        AgentProfile {
            id: "cursor",
            binary: "cursor-agent",
            implementation: s(&["-p", "--output-format", "stream-json", "--force", "--trust"]),
            review: s(&["-p", "--output-format", "stream-json", "--trust"]),
            delivery: Delivery::Stdin,
            output: OutputKind::ClaudeResult,
            model_flag: Some("--model"),
            env: &[],
            review_env: None,
            checked_version: None,
            not_proven: Some(
                "cursor-agent is not published on npm or PyPI (only a download script): it cannot be installed here; flags from its documentation",
            ),
            when_confined: &[],
            resume: None,
            acp: None,
        },
        AgentProfile {
            id: "kilocode",
            // kilo is an opencode fork: `run` takes the message as an argument, `--auto` approves
            // what is not denied; its `ask` agent only reads (its `plan` agent writes `.kilo` into
            // the worktree).
            binary: "kilo",
            implementation: s(&["run", "--format", "json", "--auto", "{prompt}"]),
            review: s(&["run", "--format", "json", "--agent", "ask", "{prompt}"]),
            delivery: Delivery::Arg,
            output: OutputKind::OpencodeJsonl,
            model_flag: Some("-m"),
            env: &[],
            review_env: Some(&[(
                "KILO_PERMISSION",
                r#"{"*":"deny","read":"allow","list":"allow","glob":"allow","grep":"allow","bash":{"*":"deny","git diff*":"allow","git log*":"allow","git show*":"allow","git status*":"allow"},"edit":"deny","webfetch":"deny"}"#,
            )]),
            // 7.8.1 is the newest on npm, but its Linux binary packages are not published.
            checked_version: Some("7.7.7"),
            not_proven: None,
            when_confined: &[],
            resume: None,
            acp: Some(AcpLaunch {
                program: None,
                args: &["acp"],
                adapter: None,
                checked_version: Some("7.7.7"),
                not_proven: None,
                when_confined: &[],
                env_when_confined: &[],
            }),
        },
        AgentProfile {
            id: "augment",
            binary: "auggie",
            implementation: s(&["--print", "--quiet", "--instruction-file", "{prompt_file}"]),
            review: s(&["--print", "--quiet", "--instruction-file", "{prompt_file}"]),
            delivery: Delivery::File,
            output: OutputKind::Text,
            model_flag: Some("-m"),
            env: &[],
            review_env: None,
            checked_version: None,
            not_proven: Some(
                "auggie talks only to Augment's own service, which has no loopback stand-in yet; argv checked with auggie 0.36.0",
            ),
            when_confined: &[],
            resume: None,
            acp: Some(AcpLaunch {
                program: None,
                args: &["--acp"],
                adapter: None,
                checked_version: None,
                not_proven: Some("as for its CLI: Augment's own service has no loopback stand-in here yet"),
                when_confined: &[],
                env_when_confined: &[],
            }),
        },
        AgentProfile {
            id: "aider",
            binary: "aider",
            // Non-interactive: one message from a file, every question answered yes; aider's own
            // commits stay on (the executor still checks what was committed).
            implementation: s(&AIDER_COMMON
                .iter()
                .copied()
                .chain(["--message-file", "{prompt_file}"])
                .collect::<Vec<_>>()),
            // `ask` mode answers without editing files.
            review: s(&AIDER_COMMON
                .iter()
                .copied()
                .chain(["--chat-mode", "ask", "--message-file", "{prompt_file}"])
                .collect::<Vec<_>>()),
            delivery: Delivery::File,
            output: OutputKind::Text,
            model_flag: Some("--model"),
            env: &[],
            review_env: None,
            checked_version: Some("aider 0.86.2"),
            not_proven: None,
            when_confined: &[],
            resume: None,
            acp: None,
        },
        AgentProfile {
            id: crate::ids::OPENAI_API,
            // Not a program: an in-process tool-calling loop over the chat-completions protocol.
            binary: crate::ids::OPENAI_API,
            implementation: Vec::new(),
            review: Vec::new(),
            delivery: Delivery::Stdin,
            output: OutputKind::Text,
            model_flag: None,
            env: &[],
            review_env: None,
            checked_version: None,
            // Proven in process against the model stand-in by core/tests/suite/openai_api.rs.
            not_proven: None,
            when_confined: &[],
            resume: None,
            acp: None,
        },
    ]
}

/// aider's flags for both roles: no prompts, no colors or streaming on a pipe, no update or model
/// checks that would wait for an answer.
const AIDER_COMMON: &[&str] = &[
    "--yes-always",
    "--no-pretty",
    "--no-stream",
    "--no-check-update",
    "--no-show-model-warnings",
    "--no-fancy-input",
    "--no-analytics",
    // Not into the user's .gitignore, and its histories not into the worktree.
    "--no-gitignore",
    "--input-history-file",
    "/dev/null",
    "--chat-history-file",
    "/dev/null",
];
