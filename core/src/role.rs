//! Which job an agent does on a WP: shared by the executor (`KITTY_ROLE`, log names), the state
//! (`Kitty-Role`), agent profiles (argv per role) and the engine.

use serde::{Deserialize, Serialize};

/// Which job an agent does on a WP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Writes the code.
    Implementation,
    /// Reviews it and gives a verdict.
    Review,
}

impl Role {
    /// `"implementation"` or `"review"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Implementation => "implementation",
            Role::Review => "review",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}
