//! `fs/read_text_file` and `fs/write_text_file`, served by us and confined beneath the worktree
//! ([`crate::agent_path::resolve`]): never out of it, never through a link, never into `.git`
//! for a write, and never a write for a reviewer. Writes go through [`crate::beneath`], so a link
//! raced in after the check is not followed either.

use std::path::Path;

use agent_client_protocol::ErrorCode;
use agent_client_protocol::v1::schema::{ReadTextFileRequest, WriteTextFileRequest};

use crate::agent_path::resolve;
use crate::role::Role;

/// Largest file read or written for an agent.
pub(super) const MAX_FILE: u64 = 16 * 1024 * 1024;

/// A refusal, as a JSON-RPC error the agent can read.
pub(super) fn refusal(message: impl Into<String>) -> agent_client_protocol::Error {
    agent_client_protocol::Error::new(ErrorCode::INVALID_PARAMS, message)
}

/// The file's text (lines `line..line+limit`, 1-based, when asked); empty for a file that does
/// not exist yet.
pub(super) fn read(root: &Path, request: &ReadTextFileRequest) -> Result<String, agent_client_protocol::Error> {
    let asked = request.path.to_string_lossy();
    let file = resolve(root, &asked, false).map_err(refusal)?;
    let meta = match std::fs::metadata(&file.full) {
        // As editors serve it (Zed opens a new, empty buffer): agents read a file before they
        // create it, to show a diff, and some fail on any error (gemini-cli 0.61 cannot read
        // the JSON-RPC error as "not found").
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        other => other.map_err(|e| not_found(&file.relative, e))?,
    };
    if !meta.is_file() {
        return Err(refusal(format!("`{}` is not a file", file.relative)));
    }
    if meta.len() > MAX_FILE {
        return Err(refusal(format!("`{}` is {} bytes; at most {MAX_FILE} are read", file.relative, meta.len())));
    }
    let bytes = std::fs::read(&file.full).map_err(|e| not_found(&file.relative, e))?;
    let text = String::from_utf8(bytes).map_err(|_| refusal(format!("`{}` is not UTF-8 text", file.relative)))?;
    if request.line.is_none() && request.limit.is_none() {
        return Ok(text);
    }
    let skip = request.line.map_or(0, |l| l.saturating_sub(1) as usize);
    let take = request.limit.map_or(usize::MAX, |l| l as usize);
    Ok(text.split_inclusive('\n').skip(skip).take(take).collect())
}

fn not_found(relative: &str, err: std::io::Error) -> agent_client_protocol::Error {
    let code = if err.kind() == std::io::ErrorKind::NotFound {
        ErrorCode::RESOURCE_NOT_FOUND
    } else {
        ErrorCode::INTERNAL_ERROR
    };
    agent_client_protocol::Error::new(code, format!("`{relative}`: {err}"))
}

/// Writes the file for an implementer. Returns the path relative to the worktree.
pub(super) fn write(
    root: &Path,
    role: Role,
    request: &WriteTextFileRequest,
) -> Result<String, agent_client_protocol::Error> {
    let asked = request.path.to_string_lossy();
    if role == Role::Review {
        return Err(refusal(format!("`{asked}`: a reviewer does not write files")));
    }
    if request.content.len() as u64 > MAX_FILE {
        return Err(refusal(format!("the content is {} bytes; at most {MAX_FILE} are written", request.content.len())));
    }
    let file = resolve(root, &asked, true).map_err(refusal)?;
    use std::os::unix::fs::PermissionsExt;
    let relative = Path::new(&file.relative);
    let mode = crate::beneath::open_existing(root, relative)
        .and_then(|f| f.metadata())
        .map_or(0o644, |m| m.permissions().mode() & 0o7777);
    crate::beneath::replace(root, relative, request.content.as_bytes(), mode)
        .map_err(|e| refusal(format!("cannot write `{}`: {e}", file.relative)))?;
    Ok(file.relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_served_inside_the_worktree_only() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("wt");
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join("a.txt"), "one\ntwo\nthree\n").unwrap();
        std::os::unix::fs::symlink(tmp.path(), root.join("out")).unwrap();
        let root = root.canonicalize().unwrap();
        let read_req = |p: &str| ReadTextFileRequest::new("s", p);
        assert_eq!(read(&root, &read_req("a.txt")).unwrap(), "one\ntwo\nthree\n");
        assert_eq!(read(&root, &read_req("a.txt").line(2).limit(1)).unwrap(), "two\n");
        assert_eq!(read(&root, &read_req("nope.txt")).unwrap(), "", "a file not yet created reads empty");
        assert!(read(&root, &read_req("/etc/passwd")).is_err());
        assert!(read(&root, &read_req("out/x")).is_err());
        let write_req = |p: &str| WriteTextFileRequest::new("s", p, "new\n");
        assert_eq!(write(&root, Role::Implementation, &write_req("src/b.txt")).unwrap(), "src/b.txt");
        assert_eq!(std::fs::read_to_string(root.join("src/b.txt")).unwrap(), "new\n");
        for bad in ["../x", "/tmp/x", ".git/hooks/pre-commit", "out/x"] {
            assert!(write(&root, Role::Implementation, &write_req(bad)).is_err(), "{bad}");
        }
        let reviewer = write(&root, Role::Review, &write_req("c.txt")).unwrap_err();
        assert!(reviewer.message.contains("reviewer"), "{}", reviewer.message);
        assert!(!root.join("c.txt").exists());
    }
}
