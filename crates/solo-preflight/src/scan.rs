//! Walking the repository and reading its text files line by line.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::patterns::{entropy, secret_assignment, secret_shapes};
use crate::{Check, Finding};

/// Files larger than this are not source code.
const MAX_FILE: u64 = 1024 * 1024;
/// A value this random (bits per character) is not a word.
const SECRET_ENTROPY: f64 = 3.5;

/// The files to scan, relative: what git knows (tracked and untracked,
/// ignored excluded), or every file outside `.git` when not in git.
pub(crate) fn files(root: &Path, skip: &[String]) -> Vec<String> {
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split('\0')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        });
    let mut files = listed.unwrap_or_else(|| {
        let mut found = Vec::new();
        walk(root, root, &mut found);
        found
    });
    files.retain(|f| {
        !skip
            .iter()
            .any(|s| f == s || f.starts_with(&format!("{}/", s.trim_end_matches('/'))))
    });
    files.sort();
    files.dedup();
    files
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if entry.file_name() != ".git" {
                walk(root, &path, out);
            }
        } else if kind.is_file()
            && let Ok(relative) = path.strip_prefix(root)
        {
            out.push(relative.to_string_lossy().into_owned());
        }
    }
}

pub(crate) fn scan_file(
    root: &Path,
    file: &str,
    debug: &BTreeMap<String, Vec<String>>,
    findings: &mut Vec<Finding>,
) {
    let path = root.join(file);
    let Ok(meta) = std::fs::metadata(&path) else {
        return;
    };
    if !meta.is_file() || meta.len() > MAX_FILE {
        return;
    }
    let Ok(bytes) = std::fs::read(&path) else {
        return;
    };
    if bytes.iter().take(8192).any(|b| *b == 0) {
        return; // binary
    }
    let text = String::from_utf8_lossy(&bytes);
    let ext = Path::new(file)
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let patterns = debug.get(&ext);
    for (n, line) in text.lines().enumerate() {
        let at = |check, message: String| Finding {
            check,
            file: Some(file.to_owned()),
            line: Some(n + 1),
            message,
        };
        if let Some(pattern) =
            patterns.and_then(|list| list.iter().find(|p| line.contains(p.as_str())))
        {
            findings.push(at(
                Check::Debug,
                format!("leftover debugging code: `{pattern}`"),
            ));
        }
        if let Some((name, _)) = secret_shapes().iter().find(|(_, re)| re.is_match(line)) {
            findings.push(at(
                Check::Secret,
                format!("{name} in the code: move it to the secrets vault"),
            ));
            continue;
        }
        if let Some(value) = secret_assignment().captures(line).and_then(|c| c.get(1))
            && entropy(value.as_str()) >= SECRET_ENTROPY
        {
            findings.push(at(
                Check::Secret,
                "a high-entropy value assigned to a secret-looking name: move it to the secrets vault"
                    .to_owned(),
            ));
        }
    }
}
