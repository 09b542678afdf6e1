//! How the prompt reaches the agent (stdin, an argument, or a file for prompts too long or too
//! flag-like for argv), and the `KITTY_*` variables every agent gets.

use std::path::{Path, PathBuf};

use super::types::{ARG_PROMPT_LIMIT, AgentRun};
use crate::command::{Delivery, Driver};

pub(super) fn prompt_file_path(log_path: &Path) -> PathBuf {
    log_path.with_extension("prompt.md")
}

/// Final argv, the prompt for stdin (if any) and the prompt file (if any).
pub(super) fn prepare_prompt(run: &AgentRun) -> std::io::Result<(Vec<String>, Option<String>, Option<PathBuf>)> {
    let mut args = run.command.args.clone();
    let write_file = || -> std::io::Result<PathBuf> {
        let path = prompt_file_path(&run.log_path);
        std::fs::write(&path, &run.prompt)?;
        Ok(path)
    };
    let substitute = |args: &mut Vec<String>, placeholder: &str, value: &str| {
        if let Some(slot) = args.iter_mut().find(|a| a.contains(placeholder)) {
            *slot = slot.replace(placeholder, value);
        } else {
            args.push(value.to_string());
        }
    };
    if run.command.driver == Driver::Acp {
        // The protocol goes over stdin (a pipe, no prompt written to it); the prompt is sent
        // as `session/prompt`.
        return Ok((args, Some(String::new()), None));
    }
    match run.command.delivery {
        Delivery::Stdin => Ok((args, Some(run.prompt.clone()), None)),
        Delivery::File => {
            let path = write_file()?;
            substitute(&mut args, "{prompt_file}", &path.display().to_string());
            Ok((args, None, Some(path)))
        }
        Delivery::Arg => {
            // Long prompts exceed argv limits, and a prompt starting with `-` (YAML frontmatter
            // is `---`) would be parsed as a flag: both go through a file.
            if run.prompt.len() <= ARG_PROMPT_LIMIT && !run.prompt.trim_start().starts_with('-') {
                substitute(&mut args, "{prompt}", &run.prompt);
                Ok((args, None, None))
            } else {
                let path = write_file()?;
                let instruction = format!(
                    "Your task is in the file {}. Read that whole file and carry out its instructions.",
                    path.display()
                );
                substitute(&mut args, "{prompt}", &instruction);
                Ok((args, None, Some(path)))
            }
        }
    }
}

/// `KITTY_*` variables every agent gets.
pub(super) fn kitty_env(run: &AgentRun, prompt_file: Option<&Path>) -> Vec<(String, String)> {
    let mut env = vec![
        ("KITTY_FEATURE".to_string(), run.feature.clone()),
        ("KITTY_WP".to_string(), run.wp.clone()),
        ("KITTY_WORKTREE".to_string(), run.cwd.display().to_string()),
        ("KITTY_ROLE".to_string(), run.role.as_str().to_string()),
        ("KITTY_ATTEMPT".to_string(), run.attempt.to_string()),
        ("KITTY_AGENT".to_string(), run.command.agent.clone()),
    ];
    if let Some(path) = prompt_file {
        env.push(("KITTY_PROMPT_FILE".to_string(), path.display().to_string()));
    }
    env
}
