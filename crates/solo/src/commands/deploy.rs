//! `solo deploy`, `solo rollback`, `solo releases`: the CLI side of
//! deploys. Preflight, build and packing happen here, where the code is;
//! the node (this machine's, or `--remote`) unpacks, starts, checks,
//! switches and drains, and streams each step back.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use solo_config::AppSection;
use solo_deploy::archive::{Manifest, pack};
use solo_deploy::{DeliveryStats, Release, Run, RunState, Step};

use crate::cli::{DeployArgs, GlobalArgs, ReleasesArgs, ReleasesCommand, RollbackArgs};
use crate::commands::node_api::{Need, NodeApi, api_error};
use crate::exit::{CliError, Exit};
use crate::{output, settings};

/// What the node answers on `GET /api/v1/releases`.
#[derive(Debug, Deserialize, serde::Serialize)]
struct Releases {
    serving: Option<Serving>,
    releases: Vec<Release>,
    runs: Vec<Run>,
}

#[derive(Debug, Deserialize, serde::Serialize)]
struct Serving {
    app: String,
    version: Option<String>,
    pid: Option<i32>,
    port: Option<u16>,
    crash_loop: bool,
}

/// One line of a streamed deploy or rollback.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Line {
    Progress {
        step: String,
        state: String,
        ms: Option<u64>,
        detail: Option<String>,
    },
    Done {
        run: Box<Run>,
    },
    Failed {
        error: LineError,
    },
}

#[derive(Debug, Deserialize)]
struct LineError {
    message: String,
}

fn api(global: &GlobalArgs, remote: Option<&str>) -> Result<NodeApi, CliError> {
    match remote {
        Some(url) => NodeApi::remote(url, None),
        None => NodeApi::local(global, Need::Operate, None),
    }
}

pub async fn deploy(global: &GlobalArgs, args: &DeployArgs) -> Result<(), CliError> {
    let (config_path, stack) = settings::load_stack(global)?;
    let Some(app) = stack.app.clone() else {
        return Err(CliError::new(
            Exit::Config,
            "no_app",
            anyhow::anyhow!(
                "{} has no [app] section: add one with `name` and `start` (see `solo init`)",
                config_path.display()
            ),
        ));
    };
    let root = settings::config_dir(&config_path);
    let api = api(global, args.remote.as_deref())?;
    let show = Show::new(global.json);
    let started = Instant::now();
    let mut steps: Vec<Step> = Vec::new();

    // Preflight.
    if args.skip_preflight {
        show.step_done("preflight", 0, true, Some("skipped (--skip-preflight)"));
        steps.push(Step {
            name: "preflight".into(),
            ms: 0,
            ok: true,
            detail: Some("skipped (--skip-preflight)".into()),
        });
    } else {
        show.step_started("preflight");
        let at = Instant::now();
        let report = crate::commands::preflight::check(&root, &stack);
        let ms = at.elapsed().as_millis() as u64;
        if !report.findings.is_empty() {
            show.step_done(
                "preflight",
                ms,
                false,
                Some(&format!("{} findings", report.findings.len())),
            );
            eprint!("{}", crate::commands::preflight::human(&report));
            return Err(CliError::new(
                Exit::NotLive,
                "preflight_failed",
                anyhow::anyhow!(
                    "preflight found {} problems; fix them (or allow-list false positives in {}), then deploy again",
                    report.findings.len(),
                    stack.preflight.allow_file.display()
                ),
            ));
        }
        show.step_done("preflight", ms, true, None);
        steps.push(Step {
            name: "preflight".into(),
            ms,
            ok: true,
            detail: None,
        });
    }

    // Build.
    if let Some(build) = &app.build {
        show.step_started("build");
        let at = Instant::now();
        run_build(build, &root)?;
        let ms = at.elapsed().as_millis() as u64;
        show.step_done("build", ms, true, None);
        steps.push(Step {
            name: "build".into(),
            ms,
            ok: true,
            detail: None,
        });
    }

    // Pack.
    show.step_started("pack");
    let at = Instant::now();
    let releases: Releases = api.get_json("/api/v1/releases").await?;
    let last_commit = releases.releases.first().map(|r| r.commit.clone());
    let facts = git_facts(&root, last_commit.as_deref());
    let files = release_files(&app, &root)?;
    let mut manifest = Manifest {
        app: app.name.clone(),
        commit: facts.commit.clone(),
        committed_at: facts.committed_at,
        messages: facts.messages.clone(),
        steps: steps.clone(),
    };
    let archive = tempfile::NamedTempFile::new().map_err(|e| {
        CliError::failure(anyhow::Error::new(e).context("cannot create a temporary file"))
    })?;
    let packed_ms = at.elapsed().as_millis() as u64;
    manifest.steps.push(Step {
        name: "pack".into(),
        ms: packed_ms,
        ok: true,
        detail: None,
    });
    pack(
        &root,
        &files,
        &manifest,
        std::io::BufWriter::new(archive.as_file()),
    )
    .map_err(|e| CliError::failure(anyhow::Error::new(e).context("cannot pack the release")))?;
    // Checksummed by streaming the file: the archive is never held in memory.
    let (checksum, size) = file_digest(archive.path()).map_err(|e| {
        CliError::failure(anyhow::Error::new(e).context("cannot read the packed release"))
    })?;
    show.step_done(
        "pack",
        at.elapsed().as_millis() as u64,
        true,
        Some(&format!("{} files, {}", files.len(), human_bytes(size))),
    );

    // Upload; the node does the rest and tells as it goes.
    show.step_started("upload");
    let at = Instant::now();
    let request = api
        .request(reqwest::Method::POST, "/api/v1/deploys")
        .header("content-type", "application/gzip")
        .header("accept", "application/x-ndjson")
        .header("x-solo-checksum", format!("sha256:{checksum}"))
        .header("content-length", size)
        .body(reqwest::Body::from(tokio::fs::File::from_std(
            archive.reopen().map_err(|e| {
                CliError::failure(anyhow::Error::new(e).context("cannot read the packed release"))
            })?,
        )));
    let response = api.send(request).await?;
    show.step_done("upload", at.elapsed().as_millis() as u64, true, None);
    let run = follow(response, &api.base, &show).await?;
    if args.tag && run.state == RunState::Live && facts.commit != "unknown" {
        let tag = format!("v{}", run.version);
        match git(&root, &["tag", &tag, &facts.commit]) {
            Some(_) => show.line(&format!(
                "tagged {} as {tag}",
                &facts.commit[..facts.commit.len().min(7)]
            )),
            None => show.line(&format!(
                "could not tag the commit as {tag} (does the tag exist?)"
            )),
        }
    }
    finish(run, &show, started, global.json)
}

pub async fn rollback(global: &GlobalArgs, args: &RollbackArgs) -> Result<(), CliError> {
    let api = api(global, args.remote.as_deref())?;
    let show = Show::new(global.json);
    let started = Instant::now();
    let request = api
        .request(reqwest::Method::POST, "/api/v1/releases/rollback")
        .header("accept", "application/x-ndjson")
        .json(&serde_json::json!({ "to": args.to, "reason": args.reason }));
    let response = api.send(request).await?;
    let run = follow(response, &api.base, &show).await?;
    finish(run, &show, started, global.json)
}

pub async fn releases(global: &GlobalArgs, args: &ReleasesArgs) -> Result<(), CliError> {
    let api = NodeApi::local(global, Need::Read, Some(std::time::Duration::from_secs(10)))?;
    match args.command {
        None => {
            let releases: Releases = api.get_json("/api/v1/releases").await?;
            output::emit(global.json, &releases, || human_releases(&releases));
        }
        Some(ReleasesCommand::Stats) => {
            let stats: DeliveryStats = api.get_json("/api/v1/releases/stats").await?;
            output::emit(global.json, &stats, || human_stats(&stats));
        }
    }
    Ok(())
}

/// Reads the node's progress lines until the run (or an error) arrives.
async fn follow(mut response: reqwest::Response, base: &str, show: &Show) -> Result<Run, CliError> {
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(api_error(status, &body, base));
    }
    let mut pending = Vec::new();
    loop {
        let chunk =
            response.chunk().await.map_err(|e| {
                CliError::failure(anyhow::Error::new(e).context(
                    "the node stopped answering mid-run; `solo releases` shows how it ended",
                ))
            })?;
        let Some(chunk) = chunk else {
            return Err(CliError::failure(anyhow::anyhow!(
                "the node ended its answer without the outcome; `solo releases` shows how the run ended"
            )));
        };
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            match serde_json::from_slice::<Line>(&line) {
                Ok(Line::Progress {
                    step,
                    state,
                    ms,
                    detail,
                }) => match state.as_str() {
                    "started" => show.step_started(&step),
                    other => {
                        show.step_done(&step, ms.unwrap_or(0), other == "done", detail.as_deref())
                    }
                },
                Ok(Line::Done { run }) => return Ok(*run),
                Ok(Line::Failed { error }) => {
                    return Err(CliError::new(
                        Exit::NotLive,
                        "deploy_failed",
                        anyhow::anyhow!(error.message),
                    ));
                }
                Err(_) => {}
            }
        }
    }
}

fn finish(run: Run, show: &Show, started: Instant, json: bool) -> Result<(), CliError> {
    let live = matches!(run.state, RunState::Live);
    if json {
        output::emit(true, &run, String::new);
    } else {
        show.line(&if live {
            format!(
                "live: {} {} in {}",
                run.app,
                run.version,
                human_ms(started.elapsed().as_millis() as u64)
            )
        } else {
            let mut text = format!(
                "{} {} did not go live: {}",
                run.kind.as_str(),
                run.version,
                run.error.as_deref().unwrap_or("unknown")
            );
            if let Some(previous) = &run.previous_version {
                text.push_str(&format!("\n{previous} still serves"));
            }
            if let Some(tail) = run.log_tail.as_deref().filter(|t| !t.is_empty()) {
                text.push_str("\nits last log lines:\n");
                for line in tail.lines() {
                    text.push_str(&format!("  {line}\n"));
                }
            }
            text
        });
    }
    if live {
        Ok(())
    } else {
        Err(CliError::new(
            Exit::NotLive,
            "not_live",
            anyhow::anyhow!(
                "{} {} did not go live: {}",
                run.kind.as_str(),
                run.version,
                run.error.unwrap_or_default()
            ),
        ))
    }
}

/// SHA-256 (hex) and size of a file, read in chunks.
fn file_digest(path: &Path) -> std::io::Result<(String, u64)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0_u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

fn run_build(build: &str, root: &Path) -> Result<(), CliError> {
    // The build's output goes to stderr: stdout stays clean for --json.
    let stdout = std::io::stderr()
        .lock()
        .flush()
        .ok()
        .and_then(|_| {
            use std::os::fd::AsFd;
            std::io::stderr().as_fd().try_clone_to_owned().ok()
        })
        .map(Stdio::from)
        .unwrap_or_else(Stdio::inherit);
    let status = Command::new("sh")
        .arg("-c")
        .arg(build)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(stdout)
        .status()
        .map_err(|e| {
            CliError::failure(
                anyhow::Error::new(e).context(format!("cannot run the build `{build}`")),
            )
        })?;
    if !status.success() {
        return Err(CliError::new(
            Exit::NotLive,
            "build_failed",
            anyhow::anyhow!("the build `{build}` failed ({status}); nothing was deployed"),
        ));
    }
    Ok(())
}

struct GitFacts {
    commit: String,
    committed_at: Option<chrono::DateTime<chrono::Utc>>,
    messages: Vec<String>,
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(root)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The commit deployed, when it was made, and the messages since the
/// release before (they choose the version).
fn git_facts(root: &Path, last_commit: Option<&str>) -> GitFacts {
    let Some(commit) = git(root, &["rev-parse", "HEAD"]).map(|c| c.trim().to_owned()) else {
        return GitFacts {
            commit: "unknown".into(),
            committed_at: None,
            messages: Vec::new(),
        };
    };
    let committed_at = git(root, &["log", "-1", "--format=%cI", "HEAD"])
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    let range = match last_commit {
        Some(last) if git(root, &["cat-file", "-e", &format!("{last}^{{commit}}")]).is_some() => {
            format!("{last}..HEAD")
        }
        _ => "-1".to_owned(),
    };
    let args: Vec<&str> = if range == "-1" {
        vec!["log", "-1", "--format=%B%x1e", "HEAD"]
    } else {
        vec!["log", "--format=%B%x1e", &range]
    };
    let messages = git(root, &args)
        .map(|text| {
            text.split('\u{1e}')
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty())
                .collect()
        })
        .unwrap_or_default();
    GitFacts {
        commit,
        committed_at,
        messages,
    }
}

/// `[app] files`, or every file git tracks (minus solo's data directory).
fn release_files(app: &AppSection, root: &Path) -> Result<Vec<String>, CliError> {
    let files: Vec<String> = if app.files.is_empty() {
        let listed = git(root, &["ls-files", "-z"]).ok_or_else(|| {
            CliError::new(
                Exit::Config,
                "no_files",
                anyhow::anyhow!(
                    "{} is not in a git repository: list what a release keeps in [app] files",
                    root.display()
                ),
            )
        })?;
        listed
            .split('\0')
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        app.files.clone()
    };
    let missing: Vec<&String> = files.iter().filter(|f| !root.join(f).exists()).collect();
    if let Some(first) = missing.first() {
        return Err(CliError::new(
            Exit::Config,
            "missing_file",
            anyhow::anyhow!(
                "{first} (in [app] files, or tracked by git) does not exist; did the build make it?"
            ),
        ));
    }
    Ok(files)
}

/// Steps as they happen: on a terminal a line that turns from `…` into
/// `✓`/`✗`; elsewhere one line per finished step. Quiet with --json.
struct Show {
    json: bool,
    terminal: bool,
}

impl Show {
    fn new(json: bool) -> Self {
        Show {
            json,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn step_started(&self, step: &str) {
        if !self.json && self.terminal {
            eprint!("  … {step}");
            let _ = std::io::stderr().flush();
        }
    }

    fn step_done(&self, step: &str, ms: u64, ok: bool, detail: Option<&str>) {
        if self.json {
            return;
        }
        let mark = if ok { "✓" } else { "✗" };
        let detail = detail.map(|d| format!("  {d}")).unwrap_or_default();
        let clear = if self.terminal { "\r\x1b[2K" } else { "" };
        eprintln!("{clear}  {mark} {step:<10} {:>8}{detail}", human_ms(ms));
    }

    fn line(&self, text: &str) {
        if !self.json {
            eprintln!("{}", text.trim_end());
        }
    }
}

fn human_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn human_releases(releases: &Releases) -> String {
    let serving = releases.serving.as_ref().and_then(|s| s.version.clone());
    let mut out = String::new();
    if let Some(s) = &releases.serving {
        out.push_str(&format!(
            "{}: {}{}\n",
            s.app,
            s.version
                .as_deref()
                .map_or("nothing serving".to_owned(), |v| format!("{v} serving")),
            if s.crash_loop {
                " (CRASH LOOP: not restarted)"
            } else {
                ""
            }
        ));
    }
    out.push_str("VERSION         COMMIT   CREATED               BY            \n");
    for r in &releases.releases {
        let mark = if Some(&r.version) == serving.as_ref() {
            "*"
        } else if r.pruned {
            "-"
        } else {
            " "
        };
        out.push_str(&format!(
            "{mark}{:<15}{:<9}{:<22}{}\n",
            r.version,
            r.commit.chars().take(7).collect::<String>(),
            r.created_at.format("%Y-%m-%d %H:%M:%S"),
            r.created_by
        ));
    }
    if !releases.runs.is_empty() {
        out.push_str(
            "\nRUN   KIND           VERSION         STATE        STARTED               BY\n",
        );
        for run in releases.runs.iter().take(15) {
            out.push_str(&format!(
                "{:<6}{:<15}{:<16}{:<13}{:<22}{}{}\n",
                run.id,
                run.kind.as_str(),
                run.version,
                run.state.as_str(),
                run.started_at.format("%Y-%m-%d %H:%M:%S"),
                run.actor,
                run.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ));
        }
    }
    out
}

fn human_stats(stats: &DeliveryStats) -> String {
    let rate = stats
        .change_failure_rate
        .map_or("—".to_owned(), |r| format!("{:.0}%", r * 100.0));
    format!(
        "last {} days\n  deploys           {} ({} live, {:.1} per week)\n  change failures   {} ({rate})\n  rollbacks         {}\n  time to restore   {}\n  lead time         {}\n",
        stats.window_days,
        stats.deploys,
        stats.live,
        stats.per_week,
        stats.failed_or_rolled_back,
        stats.rollbacks,
        stats.time_to_restore_ms.map_or("—".to_owned(), human_ms),
        stats
            .lead_time_s
            .map_or("—".to_owned(), |s| human_ms(s as u64 * 1000)),
    )
}
