//! Links the `kitty-orchestrator` binary at a fixed address (not position-independent): a PIE
//! binary of this size carries ~26 000 relative relocations that the dynamic loader applies at
//! every start, writing to (and so copying) every page that holds a pointer — measured as a
//! tenth of a `status --json` of 1000 WPs. The code itself is unchanged (it stays PIC); only
//! the final link resolves those addresses once, at build time.
fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.contains("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
