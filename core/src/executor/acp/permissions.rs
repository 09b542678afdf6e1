//! Answering `session/request_permission` by policy, never by asking anyone: an implementer may
//! edit inside its worktree and run commands (its confinement still holds both); a reviewer may
//! read, search and run commands under its read-only confinement, and every write — an edit, a
//! delete, a move, a mode switch, a tool we cannot classify — is refused. An edit that names a
//! path outside the worktree, or inside `.git`, is refused for everyone.

use std::path::Path;

use agent_client_protocol::v1::schema::{
    PermissionOption, PermissionOptionKind, RequestPermissionOutcome, SelectedPermissionOutcome, ToolCallContent,
    ToolCallUpdate, ToolKind,
};

use crate::agent_path::resolve;
use crate::role::Role;

/// Keys of a tool's raw input that name a file, in the CLIs we know.
const PATH_KEYS: [&str; 6] = ["path", "file_path", "filePath", "absolute_path", "filename", "notebook_path"];

/// Whether `call` (of `kind`) may go ahead for `role` in worktree `root`: `Err` says why not.
pub(super) fn decide(role: Role, root: &Path, call: &ToolCallUpdate, kind: ToolKind) -> Result<String, String> {
    let writes = matches!(kind, ToolKind::Edit | ToolKind::Delete | ToolKind::Move);
    if role == Role::Review {
        return match kind {
            ToolKind::Read | ToolKind::Search | ToolKind::Think | ToolKind::Fetch | ToolKind::Execute => {
                Ok("a reviewer may look; its confinement is read-only".into())
            }
            _ => Err(format!("a reviewer does not write (a {} tool)", super::updates::kind_name(kind))),
        };
    }
    if writes {
        for path in named_paths(call) {
            resolve(root, &path, true).map_err(|why| format!("refused: {why}"))?;
        }
        return Ok("an edit inside the worktree".into());
    }
    Ok("the implementer works in its confined worktree".into())
}

/// Every path the call names: its locations, its diffs, and the file keys of its raw input.
fn named_paths(call: &ToolCallUpdate) -> Vec<String> {
    let fields = &call.fields;
    let mut paths: Vec<String> =
        fields.locations.iter().flatten().map(|l| l.path.to_string_lossy().into_owned()).collect();
    for content in fields.content.iter().flatten() {
        if let ToolCallContent::Diff(diff) = content {
            paths.push(diff.path.to_string_lossy().into_owned());
        }
    }
    if let Some(input) = fields.raw_input.as_ref().and_then(|v| v.as_object()) {
        for key in PATH_KEYS {
            if let Some(path) = input.get(key).and_then(|v| v.as_str()) {
                paths.push(path.to_string());
            }
        }
    }
    paths
}

/// The option that says `allowed` (once rather than always), or a cancelled answer when the agent
/// offered none that does.
pub(super) fn answer(options: &[PermissionOption], allowed: bool) -> RequestPermissionOutcome {
    let wanted: [PermissionOptionKind; 2] = if allowed {
        [PermissionOptionKind::AllowOnce, PermissionOptionKind::AllowAlways]
    } else {
        [PermissionOptionKind::RejectOnce, PermissionOptionKind::RejectAlways]
    };
    wanted
        .iter()
        .find_map(|kind| options.iter().find(|o| o.kind == *kind))
        .map(|o| RequestPermissionOutcome::Selected(SelectedPermissionOutcome::new(o.option_id.clone())))
        .unwrap_or(RequestPermissionOutcome::Cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_client_protocol::v1::schema::{ToolCallLocation, ToolCallUpdateFields};

    fn call(paths: &[&str]) -> ToolCallUpdate {
        let locations: Vec<ToolCallLocation> = paths.iter().map(|p| ToolCallLocation::new(*p)).collect();
        ToolCallUpdate::new("t1", ToolCallUpdateFields::new().locations(locations))
    }

    #[test]
    fn edits_stay_inside_and_reviewers_do_not_write() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let inside = root.join("src/a.rs").display().to_string();
        assert!(decide(Role::Implementation, &root, &call(&[&inside]), ToolKind::Edit).is_ok());
        assert!(decide(Role::Implementation, &root, &call(&["src/b.rs"]), ToolKind::Edit).is_ok());
        let outside = decide(Role::Implementation, &root, &call(&["/etc/passwd"]), ToolKind::Edit).unwrap_err();
        assert!(outside.contains("outside the worktree"), "{outside}");
        let git = decide(Role::Implementation, &root, &call(&[".git/config"]), ToolKind::Move).unwrap_err();
        assert!(git.contains(".git"), "{git}");
        assert!(decide(Role::Implementation, &root, &call(&[]), ToolKind::Execute).is_ok());
        for kind in [ToolKind::Edit, ToolKind::Delete, ToolKind::Move, ToolKind::SwitchMode, ToolKind::Other] {
            assert!(decide(Role::Review, &root, &call(&[&inside]), kind).is_err(), "{kind:?}");
        }
        assert!(decide(Role::Review, &root, &call(&[]), ToolKind::Read).is_ok());
        let raw = ToolCallUpdate::new(
            "t2",
            ToolCallUpdateFields::new().raw_input(serde_json::json!({"file_path": "../../escape"})),
        );
        assert!(decide(Role::Implementation, &root, &raw, ToolKind::Edit).is_err());
    }

    #[test]
    fn the_narrowest_matching_option_is_chosen() {
        let options = vec![
            PermissionOption::new("always", "Always", PermissionOptionKind::AllowAlways),
            PermissionOption::new("once", "Once", PermissionOptionKind::AllowOnce),
            PermissionOption::new("no", "No", PermissionOptionKind::RejectOnce),
        ];
        let picked = |allowed| match answer(&options, allowed) {
            RequestPermissionOutcome::Selected(s) => s.option_id.to_string(),
            _ => "cancelled".into(),
        };
        assert_eq!(picked(true), "once");
        assert_eq!(picked(false), "no");
        assert!(matches!(answer(&options[..2], false), RequestPermissionOutcome::Cancelled));
    }
}
