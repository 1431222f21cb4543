//! The small web app the deploy tests deploy (`src/bin/solo-test-app.rs`),
//! built once per test process with the same cargo and target directory
//! that built the tests.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The test app's binary, built on first use.
pub fn test_app() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            // The tests run from <target>/debug/deps/<test>; the app lands in <target>/debug.
            let exe = std::env::current_exe().expect("the test's own path");
            let profile_dir = exe
                .parent()
                .and_then(|deps| deps.parent())
                .expect("a test binary lives in <target>/<profile>/deps")
                .to_owned();
            let target_dir = profile_dir.parent().expect("<target>/<profile>").to_owned();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args([
                    "build",
                    "-q",
                    "-p",
                    "solo-test-support",
                    "--bin",
                    "solo-test-app",
                ])
                .env("CARGO_TARGET_DIR", &target_dir)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building solo-test-app failed");
            let app = profile_dir.join("solo-test-app");
            assert!(app.exists(), "{} was not built", app.display());
            app
        })
        .clone()
}
