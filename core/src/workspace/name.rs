//! A workspace's name from its URL, and whether two URLs name the same repository.

use super::error::WorkspaceError;

/// The repository name of `url`, as `git clone` names its directory: the last path component
/// without `.git` (`https://host/org/app.git` → `app`, `git@host:org/app` → `app`,
/// `file:///srv/app.git/` → `app`).
pub fn repo_name(url: &str) -> Result<String, WorkspaceError> {
    let bad = |why: &str| WorkspaceError::BadUrl { url: mask(url), why: why.to_string() };
    let url = url.trim();
    // Only the path names the repository: not a scheme URL's host, not an scp-like `host:`.
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => match url.split_once(':') {
            Some((host, rest)) if !host.contains('/') => rest,
            _ => url,
        },
    };
    let trimmed = path.trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/.git").unwrap_or(trimmed);
    let last = trimmed.rsplit(['/', '\\']).next().unwrap_or("");
    let name = last.strip_suffix(".git").unwrap_or(last);
    if name.is_empty() || name == "." || name == ".." {
        return Err(bad("it has no repository name at its end (expected …/<name> or …/<name>.git)"));
    }
    if name.starts_with('.') || name.chars().any(|c| c.is_control()) {
        return Err(bad("its repository name starts with `.` or holds control characters"));
    }
    Ok(name.to_string())
}

/// Whether two remote URLs name the same repository: equal once a trailing `/` and `.git` are
/// dropped (`…/app.git` and `…/app/` are the same clone).
pub fn same_url(a: &str, b: &str) -> bool {
    fn norm(url: &str) -> &str {
        let url = url.trim().trim_end_matches('/');
        url.strip_suffix(".git").unwrap_or(url)
    }
    norm(a) == norm(b)
}

/// `url` with any credentials masked, for errors.
pub(crate) fn mask(url: &str) -> String {
    crate::redact::Redactor::from_env(&[]).apply(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_last_component() {
        for (url, name) in [
            ("https://github.com/org/app.git", "app"),
            ("git@github.com:org/app", "app"),
            ("file:///srv/git/app.git/", "app"),
            ("/srv/git/app/.git", "app"),
            ("ssh://host:22/app.js.git", "app.js"),
        ] {
            assert_eq!(repo_name(url).unwrap(), name, "{url}");
        }
        for url in ["https://host/", "file:///", "..", "https://host/.hidden.git"] {
            let err = repo_name(url).unwrap_err();
            assert!(err.to_string().contains("cannot name a workspace"), "{url}: {err}");
        }
    }

    #[test]
    fn urls_differing_in_a_slash_or_dot_git_are_the_same() {
        assert!(same_url("file:///srv/app.git", "file:///srv/app/"));
        assert!(!same_url("file:///srv/app.git", "file:///srv/other.git"));
    }

    #[test]
    fn credentials_never_reach_an_error() {
        let err = repo_name("https://user:s3cretTOKENvalue@host/").unwrap_err().to_string();
        assert!(!err.contains("s3cretTOKENvalue"), "{err}");
    }
}
