//! Which repository a remote URL names: host, owner and name, from the https, ssh and scp-like
//! forms (`https://github.com/o/r.git`, `git@github.com:o/r.git`, `ssh://git@host:22/o/r`), and
//! — for hosts reached by path (a local bare repository, `git://` on loopback) — the last two
//! path components.

/// A repository on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoId {
    /// The host (`github.com`; empty for a local path).
    pub host: String,
    /// The owner (user or organization).
    pub owner: String,
    /// The repository's name (without `.git`).
    pub name: String,
}

impl RepoId {
    /// `owner/name`.
    pub fn slug(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

fn valid(part: &str) -> bool {
    !part.is_empty()
        && part != "."
        && part != ".."
        && part.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// The repository `url` names, or `None` when it names none we can tell.
pub fn parse(url: &str) -> Option<RepoId> {
    let url = url.trim();
    let (host, path) = if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(scheme, "https" | "http" | "ssh" | "git" | "git+ssh" | "file") {
            return None;
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit('@').next().unwrap_or(authority);
        let host = host.split(':').next().unwrap_or(host);
        (if scheme == "file" { String::new() } else { host.to_string() }, path.to_string())
    } else if let Some((user_host, path)) = url.split_once(':').filter(|(h, _)| !h.contains('/')) {
        // scp-like: [user@]host:owner/name
        (user_host.rsplit('@').next().unwrap_or(user_host).to_string(), path.to_string())
    } else {
        (String::new(), url.to_string())
    };
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').filter(|p| !p.is_empty()).collect();
    let [.., owner, name] = parts.as_slice() else { return None };
    let name = name.strip_suffix(".git").unwrap_or(name);
    (valid(owner) && valid(name)).then(|| RepoId { host, owner: owner.to_string(), name: name.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls_in_every_form_name_their_repository() {
        for (url, host, slug) in [
            ("https://github.com/octo/hello.git", "github.com", "octo/hello"),
            ("https://x-access-token:abc@github.com/octo/hello", "github.com", "octo/hello"),
            ("git@github.com:octo/hello.git", "github.com", "octo/hello"),
            ("ssh://git@ghe.example.com:2222/octo/hello.git", "ghe.example.com", "octo/hello"),
            ("git://127.0.0.1:9418/octo/hello.git", "127.0.0.1", "octo/hello"),
            ("/srv/git/octo/hello.git", "", "octo/hello"),
        ] {
            let id = parse(url).unwrap_or_else(|| panic!("{url}"));
            assert_eq!((id.host.as_str(), id.slug().as_str()), (host, slug), "{url}");
        }
        for url in ["hello.git", "https://github.com/", "ftp://x/a/b", "https://h/a/../b", "git@h:a b/c"] {
            assert_eq!(parse(url), None, "{url}");
        }
    }
}
