//! Git in test repositories (the deploy and preflight tests commit real
//! releases).

use std::path::Path;
use std::process::Command;

/// Runs `git args…` in `dir` as a fixed test author; panics with git's
/// message when it fails.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
