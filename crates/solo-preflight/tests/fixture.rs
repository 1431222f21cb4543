//! Preflight over a real git repository holding one instance of every
//! class of problem, plus look-alikes that must pass.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use solo_preflight::{Check, Options, RUST_DEBUG_MACRO, run};

fn write(root: &Path, file: &str, text: &str) {
    let path = root.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn git(root: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

#[test]
fn every_class_of_problem_is_found_where_it_is_and_nothing_else() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    // Problems.
    write(
        root,
        "src/main.rs",
        &format!("fn main() {{\n    let x = 1;\n    {RUST_DEBUG_MACRO}x);\n}}\n"),
    );
    write(
        root,
        "web/app.js",
        "export function go() {\n  console.log('here');\n}\n",
    );
    write(
        root,
        "web/cart.test.js",
        "describe.only('cart', () => {});\n",
    );
    write(root, "tools/ship.py", "import os\nimport pdb\n");
    write(
        root,
        "config/aws.py",
        "AWS_ACCESS_KEY_ID = \"AKIAIOSFODNN7EXAMPLE\"\n",
    );
    write(
        root,
        "deploy/id_rsa",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n",
    );
    write(
        root,
        "app/settings.rb",
        "x = 1\napi_token = \"q8Kx2LmZ9pR4tW7vY1cB3nF6\"\n",
    );
    write(root, "lib/ext.js", "// custom\nlogDebug('x')\n");
    // Look-alikes that must pass.
    write(
        root,
        "README.md",
        &format!("Use console.log( and {RUST_DEBUG_MACRO} while developing.\n"),
    );
    write(
        root,
        "src/lib.rs",
        "// we never ship dbg\nconst PASSWORD_HINT: &str = \"at least twelve\";\npub const X: u8 = 1;\n",
    );
    write(root, "config/dev.py", "password = \"changeme-changeme\"\n");
    // Allow-listed.
    write(
        root,
        "tests/fixtures/key.pem",
        "-----BEGIN PRIVATE KEY-----\nfake\n",
    );
    write(
        root,
        ".solo-allow",
        "# a test key, not a secret\ntests/fixtures/key.pem\n",
    );
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "init"]);
    // Uncommitted.
    write(root, "README.md", "changed\n");

    let options = Options {
        debug_patterns: [("js".to_owned(), vec!["logDebug(".to_owned()])].into(),
        allow_file: ".solo-allow".into(),
        required_env: vec![
            "PATH".into(),
            "SHOP_NOT_SET_ANYWHERE".into(),
            "FROM_STACK".into(),
        ],
        provided_env: vec!["FROM_STACK".into()],
        test: Some("echo running; echo 'assertion failed: cart total' >&2; exit 3".into()),
        skip: vec![],
    };
    let report = run(root, &options);
    let got: Vec<(Check, Option<&str>, Option<usize>)> = report
        .findings
        .iter()
        .map(|f| (f.check, f.file.as_deref(), f.line))
        .collect();
    assert_eq!(
        got,
        vec![
            (Check::Debug, Some("lib/ext.js"), Some(2)),
            (Check::Debug, Some("src/main.rs"), Some(3)),
            (Check::Debug, Some("tools/ship.py"), Some(2)),
            (Check::Debug, Some("web/app.js"), Some(2)),
            (Check::Debug, Some("web/cart.test.js"), Some(1)),
            (Check::Secret, Some("app/settings.rb"), Some(2)),
            (Check::Secret, Some("config/aws.py"), Some(1)),
            (Check::Secret, Some("deploy/id_rsa"), Some(1)),
            (Check::Uncommitted, Some("README.md"), None),
            (Check::Env, None, None),
            (Check::Test, None, None),
        ],
        "{:#?}",
        report.findings
    );
    assert_eq!(report.allowed, 1, "the allow-listed key");
    let env = report
        .findings
        .iter()
        .find(|f| f.check == Check::Env)
        .unwrap();
    assert!(
        env.message.contains("SHOP_NOT_SET_ANYWHERE"),
        "{}",
        env.message
    );
    let test = report
        .findings
        .iter()
        .find(|f| f.check == Check::Test)
        .unwrap();
    assert!(
        test.message.contains("assertion failed: cart total"),
        "{}",
        test.message
    );

    // Fixed, committed, passing: nothing left.
    write(
        root,
        "README.md",
        &format!("Use console.log( and {RUST_DEBUG_MACRO} while developing.\n"),
    );
    let clean = Options {
        test: Some("true".into()),
        required_env: vec![],
        ..options.clone()
    };
    for file in [
        "src/main.rs",
        "web/app.js",
        "web/cart.test.js",
        "tools/ship.py",
        "config/aws.py",
        "deploy/id_rsa",
        "app/settings.rb",
        "lib/ext.js",
    ] {
        std::fs::remove_file(root.join(file)).unwrap();
    }
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "clean"]);
    let report = run(root, &clean);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}
