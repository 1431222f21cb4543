//! `solo logs [-f] [--release V]`: the app's output, from the files the
//! node keeps in its data directory (secrets already redacted there). Works
//! with the node down: the files are on this machine.

use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{GlobalArgs, LogsArgs};
use crate::exit::{CliError, Exit};
use crate::settings;

pub fn run(global: &GlobalArgs, args: &LogsArgs) -> Result<(), CliError> {
    let (config_path, stack) = settings::load_stack(global)?;
    let Some(app) = &stack.app else {
        return Err(CliError::new(
            Exit::Config,
            "no_app",
            anyhow::anyhow!(
                "{} has no [app] section: there is no app to show logs of",
                config_path.display()
            ),
        ));
    };
    let client = settings::client_settings(global, &config_path, &stack);
    let dir = client.data_dir.join("logs").join(&app.name);
    let file = pick(&dir, args.release.as_deref())?;
    print_tail(&file, args.lines)?;
    if args.follow {
        follow(&file)?;
    }
    Ok(())
}

/// The release's log, or the newest one.
fn pick(dir: &Path, release: Option<&str>) -> Result<PathBuf, CliError> {
    let entries = std::fs::read_dir(dir).map_err(|_| {
        CliError::new(
            Exit::Failure,
            "no_logs",
            anyhow::anyhow!(
                "no logs yet in {}: nothing has been deployed on this machine",
                dir.display()
            ),
        )
    })?;
    let mut logs: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .filter(|p| {
            release.is_none_or(|v| {
                p.file_stem()
                    .and_then(|s| s.to_str())
                    .is_some_and(|s| s == v || s.starts_with(&format!("{v}-")))
            })
        })
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    logs.sort();
    logs.pop().map(|(_, p)| p).ok_or_else(|| {
        CliError::new(
            Exit::Failure,
            "no_logs",
            anyhow::anyhow!(
                "no log {}in {}; `solo releases` lists the versions",
                release.map(|v| format!("of {v} ")).unwrap_or_default(),
                dir.display()
            ),
        )
    })
}

fn print_tail(file: &Path, lines: usize) -> Result<(), CliError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        CliError::failure(anyhow::Error::new(e).context(format!("cannot read {}", file.display())))
    })?;
    let all: Vec<&str> = text.lines().collect();
    let mut out = std::io::stdout().lock();
    for line in &all[all.len().saturating_sub(lines)..] {
        let _ = writeln!(out, "{line}");
    }
    Ok(())
}

/// Prints what is appended, following the file across rotations.
fn follow(file: &Path) -> Result<(), CliError> {
    let open = |path: &Path| -> Result<(std::fs::File, u64), CliError> {
        let mut f = std::fs::File::open(path).map_err(|e| {
            CliError::failure(
                anyhow::Error::new(e).context(format!("cannot read {}", path.display())),
            )
        })?;
        let end = f.seek(SeekFrom::End(0)).unwrap_or(0);
        Ok((f, end))
    };
    let (mut current, mut position) = open(file)?;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        if size < position {
            // Rotated: the live file starts again.
            (current, _) = open(file)?;
            current.seek(SeekFrom::Start(0)).ok();
            position = 0;
        }
        let mut reader = BufReader::new(&current);
        let mut out = std::io::stdout().lock();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            position += line.len() as u64;
            let _ = out.write_all(line.as_bytes());
            line.clear();
        }
        let _ = out.flush();
    }
}
