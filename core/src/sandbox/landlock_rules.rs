//! Landlock rulesets: built in the parent (opening every writable path), applied in the child
//! between fork and exec by one system call.

use std::path::PathBuf;
use std::sync::OnceLock;

use landlock::{
    ABI, Access, AccessFs, BitFlags, LandlockStatus, RestrictionStatus, Ruleset, RulesetAttr, RulesetCreated,
    RulesetCreatedAttr, RulesetStatus, Scope, path_beneath_rules,
};

use super::{Confinement, SandboxMode};

/// The newest Landlock ABI whose rights we ask for (older kernels enforce what they know).
const ABI_WANTED: ABI = ABI::V6;

/// What an agent may do in the git directories it writes (its admin directory and its private
/// store): files and directories, renames and links among them — never a symlink, FIFO, socket
/// or device, which git never makes there and which would lead or hang whoever reads them next.
fn plain_rights() -> BitFlags<AccessFs> {
    AccessFs::from_all(ABI_WANTED)
        & !(AccessFs::MakeSym | AccessFs::MakeFifo | AccessFs::MakeSock | AccessFs::MakeChar | AccessFs::MakeBlock)
}

/// What a confined process may not reach outside its own sandbox (Landlock ABI 6): signals to
/// other processes (the orchestrator, the user's), and abstract unix sockets.
fn scopes() -> BitFlags<Scope> {
    Scope::Signal | Scope::AbstractUnixSocket
}

/// Whether this machine can confine, as found once per process.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Support {
    /// Landlock is enforced here (fully or in part).
    pub available: bool,
    /// `fully_enforced`, `partially_enforced` (an older ABI) or `not_enforced`.
    pub status: String,
    /// Why not, when not.
    pub why_not: Option<String>,
    /// The kernel's Landlock ABI version (`None`: no Landlock).
    pub abi: Option<u32>,
    /// The scopes in force besides file-system rights: `signal` and `abstract_unix_socket` from
    /// ABI 6 on (a confined agent cannot signal processes outside its sandbox or connect to
    /// their abstract sockets); empty on older kernels.
    pub scopes: Vec<String>,
}

/// Probes Landlock once: a throwaway thread restricts itself and reports what was enforced
/// (a restriction binds only the thread that makes it, which then ends).
/// `KITTY_SANDBOX_UNSUPPORTED=1` simulates a kernel without Landlock (for tests).
pub fn support() -> Support {
    static FOUND: OnceLock<Support> = OnceLock::new();
    if std::env::var_os("KITTY_SANDBOX_UNSUPPORTED").is_some_and(|v| v == "1") {
        return Support {
            available: false,
            status: "not_enforced".into(),
            why_not: Some("Landlock is unavailable (simulated by KITTY_SANDBOX_UNSUPPORTED=1)".into()),
            abi: None,
            scopes: Vec::new(),
        };
    }
    FOUND
        .get_or_init(|| {
            let probe = std::thread::spawn(|| -> Result<RestrictionStatus, String> {
                let ruleset = Ruleset::default()
                    .handle_access(AccessFs::from_all(ABI_WANTED))
                    .and_then(|r| r.scope(scopes()))
                    .and_then(|r| r.create())
                    .and_then(|r| r.add_rules(path_beneath_rules(["/"], AccessFs::from_all(ABI_WANTED))))
                    .map_err(|e| e.to_string())?;
                ruleset.restrict_self().map_err(|e| e.to_string())
            });
            match probe.join() {
                Ok(Ok(status)) => {
                    let name = match status.ruleset {
                        RulesetStatus::FullyEnforced => "fully_enforced",
                        RulesetStatus::PartiallyEnforced => "partially_enforced",
                        RulesetStatus::NotEnforced => "not_enforced",
                    };
                    let available = status.ruleset != RulesetStatus::NotEnforced;
                    let abi = match status.landlock {
                        LandlockStatus::Available { effective_abi, kernel_abi } => {
                            Some(kernel_abi.map_or(effective_abi as u32, |v| v as u32))
                        }
                        _ => None,
                    };
                    let scoped = available && abi.is_some_and(|v| v >= 6);
                    Support {
                        available,
                        status: name.into(),
                        why_not: (!available).then(|| "the kernel does not enforce Landlock".to_string()),
                        abi,
                        scopes: if scoped {
                            vec!["signal".to_string(), "abstract_unix_socket".to_string()]
                        } else {
                            Vec::new()
                        },
                    }
                }
                Ok(Err(why)) => Support {
                    available: false,
                    status: "not_enforced".into(),
                    why_not: Some(why),
                    abi: None,
                    scopes: Vec::new(),
                },
                Err(_) => Support {
                    available: false,
                    status: "not_enforced".into(),
                    why_not: Some("the Landlock probe panicked".into()),
                    abi: None,
                    scopes: Vec::new(),
                },
            }
        })
        .clone()
}

/// A ruleset ready to apply in a child, or the reason it runs unconfined.
pub enum Prepared {
    /// Apply this in the child.
    Confine(RulesetCreated),
    /// Run unconfined: `off`, or `best_effort` without Landlock (the reason).
    Unconfined(Option<String>),
}

/// Builds the ruleset for `confinement`: everything readable, the writable paths writable.
/// `Err` (for `required` without Landlock, or a ruleset that cannot be built) says why the
/// agent must not start.
pub fn prepare(confinement: &Confinement) -> Result<Prepared, String> {
    if confinement.mode == SandboxMode::Off {
        return Ok(Prepared::Unconfined(None));
    }
    let found = support();
    if !found.available {
        let why = found.why_not.unwrap_or_else(|| "Landlock is unavailable".into());
        return match confinement.mode {
            SandboxMode::Required => Err(format!(
                "sandbox = \"required\" but {why}; set sandbox = \"best_effort\" or \"off\" to run unconfined"
            )),
            _ => Ok(Prepared::Unconfined(Some(why))),
        };
    }
    let existing = |paths: &[PathBuf]| -> Vec<PathBuf> { paths.iter().filter(|p| p.exists()).cloned().collect() };
    let ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(ABI_WANTED))
        .and_then(|r| r.scope(scopes()))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(["/"], AccessFs::from_read(ABI_WANTED))))
        .and_then(|r| r.add_rules(path_beneath_rules(existing(&confinement.writable), AccessFs::from_all(ABI_WANTED))))
        .and_then(|r| r.add_rules(path_beneath_rules(existing(&confinement.git_writable), plain_rights())))
        .map_err(|e| format!("cannot build the Landlock ruleset: {e}"))?;
    Ok(Prepared::Confine(ruleset))
}

/// Applies `ruleset` in the child of `cmd` between fork and exec; a child that cannot be
/// confined does not start (its spawn fails with EPERM).
pub fn confine_child(cmd: &mut tokio::process::Command, ruleset: RulesetCreated) {
    let mut ruleset = Some(ruleset);
    // SAFETY: runs in the forked child before exec; it makes two system calls (prctl and
    // landlock_restrict_self) through the already-built ruleset and allocates nothing on success.
    unsafe {
        cmd.pre_exec(move || {
            let Some(ruleset) = ruleset.take() else { return Ok(()) };
            match ruleset.restrict_self() {
                Ok(status) if status.ruleset != RulesetStatus::NotEnforced => Ok(()),
                _ => Err(std::io::Error::from_raw_os_error(nix::libc::EPERM)),
            }
        });
    }
}
