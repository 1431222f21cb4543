//! `solo preflight` (and the first step of `solo deploy`): the checks from
//! `solo-preflight`, configured by solo.toml's `[app]` and `[preflight]`.

use std::path::Path;

use solo_config::StackFile;
use solo_preflight::{Options, Report};

use crate::cli::GlobalArgs;
use crate::exit::{CliError, Exit};
use crate::{output, settings};

pub fn run(global: &GlobalArgs) -> Result<(), CliError> {
    let (config_path, stack) = settings::load_stack(global)?;
    let root = settings::config_dir(&config_path);
    let report = check(&root, &stack);
    output::emit(global.json, &report, || human(&report));
    if report.findings.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            Exit::Failure,
            "preflight_failed",
            anyhow::anyhow!(
                "preflight found {} problems; fix them, or allow-list false positives in {}",
                report.findings.len(),
                stack.preflight.allow_file.display()
            ),
        ))
    }
}

/// Runs the checks on the repository at `root`.
pub fn check(root: &Path, stack: &StackFile) -> Report {
    let app = stack.app.as_ref();
    let data_dir = stack.node.data_dir_or_default();
    let options = Options {
        debug_patterns: stack.preflight.debug_patterns.clone(),
        allow_file: stack.preflight.allow_file.clone(),
        required_env: app.map(|a| a.required_env.clone()).unwrap_or_default(),
        provided_env: app
            .map(|a| a.env.keys().cloned().collect())
            .unwrap_or_default(),
        test: app.and_then(|a| a.test.clone()),
        skip: vec![
            data_dir
                .to_string_lossy()
                .trim_start_matches("./")
                .to_owned(),
        ],
    };
    solo_preflight::run(root, &options)
}

pub fn human(report: &Report) -> String {
    let mut out = String::new();
    for finding in &report.findings {
        let place = match (&finding.file, finding.line) {
            (Some(file), Some(line)) => format!("{file}:{line}: "),
            (Some(file), None) => format!("{file}: "),
            _ => String::new(),
        };
        let check = serde_json::to_value(finding.check)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        out.push_str(&format!("{place}[{check}] {}\n", finding.message));
    }
    out.push_str(&format!(
        "{} findings in {} files{}\n",
        report.findings.len(),
        report.files_scanned,
        if report.allowed > 0 {
            format!(" ({} allow-listed)", report.allowed)
        } else {
            String::new()
        }
    ));
    out
}
