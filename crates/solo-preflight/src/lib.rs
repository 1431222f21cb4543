//! Preflight: what must be true before code ships. Five checks, each
//! finding naming its file and line where it has one:
//!
//! - **debug**: leftover debugging code, by file extension (Rust's debug
//!   macro, `console.log(`, `debugger;`, `import pdb`, `.only(`, …) plus
//!   the stack's own patterns;
//! - **secret**: private keys, common cloud key formats, and long
//!   high-entropy values assigned to names like `secret` or `token`;
//! - **uncommitted**: changes git has not committed;
//! - **env**: variables the stack declares required but nothing provides;
//! - **test**: the configured test command failing.
//!
//! An allow-list file lets known false positives pass: one `path:line` or
//! `path` per line, `#` comments.

mod patterns;
mod scan;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

pub use patterns::{RUST_DEBUG_MACRO, default_debug_patterns};

/// Which check found something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Debug,
    Secret,
    Uncommitted,
    Env,
    Test,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: Check,
    /// Relative to the repository.
    pub file: Option<String>,
    pub line: Option<usize>,
    pub message: String,
}

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Extension → extra patterns, added to [`default_debug_patterns`].
    pub debug_patterns: BTreeMap<String, Vec<String>>,
    /// The allow-list file, relative to the repository.
    pub allow_file: PathBuf,
    /// Variables that must be set.
    pub required_env: Vec<String>,
    /// Names the stack provides itself (`[app] env`), besides the process's.
    pub provided_env: Vec<String>,
    /// A shell command that must pass.
    pub test: Option<String>,
    /// Paths (relative) never scanned: solo's data directory, build output.
    pub skip: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Findings the allow-list let pass.
    pub allowed: usize,
    pub files_scanned: usize,
}

/// Runs every check on the repository at `root`.
pub fn run(root: &Path, options: &Options) -> Report {
    let allow = Allow::read(&root.join(&options.allow_file));
    let mut findings = Vec::new();
    let files = scan::files(root, &options.skip);
    let debug = patterns::debug_table(&options.debug_patterns);
    for file in &files {
        scan::scan_file(root, file, &debug, &mut findings);
    }
    findings.extend(uncommitted(root));
    findings.extend(missing_env(options));
    if let Some(test) = &options.test {
        findings.extend(run_test(root, test));
    }
    let before = findings.len();
    findings.retain(|f| !allow.allows(f));
    findings.sort_by(|a, b| (a.check, &a.file, a.line).cmp(&(b.check, &b.file, b.line)));
    Report {
        allowed: before - findings.len(),
        findings,
        files_scanned: files.len(),
    }
}

/// The allow-list: `path:line` or `path`, `#` comments.
struct Allow {
    entries: Vec<(String, Option<usize>)>,
}

impl Allow {
    fn read(path: &Path) -> Self {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let entries = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or_default().trim())
            .filter(|l| !l.is_empty())
            .map(|l| match l.rsplit_once(':') {
                Some((path, line)) if line.parse::<usize>().is_ok() => {
                    (path.to_owned(), line.parse().ok())
                }
                _ => (l.to_owned(), None),
            })
            .collect();
        Allow { entries }
    }

    fn allows(&self, finding: &Finding) -> bool {
        let Some(file) = &finding.file else {
            return false;
        };
        self.entries
            .iter()
            .any(|(path, line)| path == file && (line.is_none() || *line == finding.line))
    }
}

fn uncommitted(root: &Path) -> Vec<Finding> {
    let Ok(output) = Command::new("git")
        .args(["status", "--porcelain=v1", "-z"])
        .current_dir(root)
        .stderr(Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    if !output.status.success() {
        // Not a git repository: nothing to say about commits.
        return Vec::new();
    }
    String::from_utf8_lossy(&output.stdout)
        .split('\0')
        .filter(|entry| entry.len() > 3)
        .map(|entry| {
            let (status, path) = entry.split_at(3);
            Finding {
                check: Check::Uncommitted,
                file: Some(path.to_owned()),
                line: None,
                message: format!(
                    "not committed ({}): a release must be a commit someone can find again",
                    status.trim()
                ),
            }
        })
        .collect()
}

fn missing_env(options: &Options) -> Vec<Finding> {
    options
        .required_env
        .iter()
        .filter(|name| {
            !options.provided_env.contains(name)
                && std::env::var_os(name).is_none_or(|v| v.is_empty())
        })
        .map(|name| Finding {
            check: Check::Env,
            file: None,
            line: None,
            message: format!(
                "{name} is required ([app] required_env) but not set: add it to [app] env or the environment"
            ),
        })
        .collect()
}

fn run_test(root: &Path, test: &str) -> Option<Finding> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(test)
        .current_dir(root)
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(output) if output.status.success() => None,
        Ok(output) => {
            let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stderr));
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Some(Finding {
                check: Check::Test,
                file: None,
                line: None,
                message: format!("`{test}` failed ({}):\n{}", output.status, tail.join("\n")),
            })
        }
        Err(error) => Some(Finding {
            check: Check::Test,
            file: None,
            line: None,
            message: format!("`{test}` could not run: {error}"),
        }),
    }
}
