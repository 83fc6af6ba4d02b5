//! Records the git commit this gateway is built from (for `/system/info`, which faas-cli
//! shows as the gateway's and the provider's `sha`), when the build has a git work tree.

use std::path::Path;
use std::process::Command;

fn main() {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let sha = git(&["rev-parse", "HEAD"]);
    let message = git(&["log", "-1", "--format=%s"]);
    // Cargo takes one line per variable: the subject only, without control characters.
    let message: String = message
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    println!("cargo:rustc-env=SWITCHYARD_GIT_SHA={sha}");
    println!("cargo:rustc-env=SWITCHYARD_GIT_MESSAGE={message}");
    // Built again when the checked-out commit changes.
    let dir = git(&["rev-parse", "--git-dir"]);
    if !dir.is_empty() {
        let dir = Path::new(&dir);
        // Only files that exist: Cargo takes a missing one (a clone without `packed-refs`)
        // as changed, and would build the gateway and all that depends on it every time.
        for file in ["HEAD", "packed-refs", "refs/heads"] {
            let path = dir.join(file);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
