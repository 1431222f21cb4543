//! Deploy records on both engines, through the real pipeline with a real
//! app process (`solo-test-app`): releases and versions, a live deploy, a
//! failed one with its log tail, a rollback, the current release after a
//! restart mid-deploy, and the delivery figures.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use solo_audit::Actor;
use solo_deploy::archive::{Manifest, pack};
use solo_deploy::{
    AppSpec, DeploySettings, Deploys, HealthSpec, Proxy, ProxyMetrics, Requester, RestartSpec,
    RunKind, RunState, WatchSpec, deploy_archive, rollback,
};
use solo_observe::Redactor;
use solo_store::Db;
use solo_test_support::app::test_app;
use solo_test_support::engines::migrate;
use solo_test_support::storage_tests;

fn app() -> AppSpec {
    AppSpec {
        name: "shop".into(),
        start: format!("exec {}", test_app().display()),
        env: BTreeMap::new(),
        health: HealthSpec {
            path: "/healthz".into(),
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(2),
            successes: 2,
            wait: Duration::from_secs(3),
        },
        watch: WatchSpec {
            window: Duration::ZERO,
            max_error_percent: 5,
            min_requests: 20,
            health_failures: 3,
        },
        restart: RestartSpec {
            max_restarts: 5,
            window: Duration::from_secs(60),
        },
        drain_timeout: Duration::from_secs(5),
        stop_timeout: Duration::from_secs(5),
        keep_releases: 2,
    }
}

fn deploys(db: &Db, data_dir: &Path) -> Deploys {
    Deploys::new(
        db.clone(),
        DeploySettings {
            app: Some(app()),
            data_dir: data_dir.to_owned(),
            max_archive_bytes: 1 << 20,
            max_unpacked_bytes: 1 << 22,
        },
        Proxy::new(ProxyMetrics::default(), Duration::from_secs(10), 1 << 20, 1),
        Redactor::new(),
    )
}

/// A release archive of the test app saying `version` in `mode`.
fn archive(dir: &Path, version: &str, mode: &str, message: &str) -> (std::path::PathBuf, String) {
    let src = dir.join(format!("src-{version}"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("version.txt"), version).unwrap();
    std::fs::write(src.join("mode.txt"), mode).unwrap();
    let manifest = Manifest {
        app: "shop".into(),
        commit: format!("{:0<40}", version),
        committed_at: Some(chrono::Utc::now()),
        messages: vec![message.into()],
        steps: vec![],
    };
    let path = dir.join(format!("{version}.tar.gz"));
    pack(
        &src,
        &["version.txt".into(), "mode.txt".into()],
        &manifest,
        std::fs::File::create(&path).unwrap(),
    )
    .unwrap();
    let checksum = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(std::fs::read(&path).unwrap()))
    );
    (path, checksum)
}

fn who() -> Requester {
    Requester {
        actor: Actor::Token {
            id: "t1".into(),
            name: "ci".into(),
        },
        request_id: Some("req-1".into()),
        client: None,
    }
}

async fn again_deploy(deploys: &Deploys, archive: &Path, sum: &str) -> solo_deploy::Run {
    deploy_archive(deploys, archive, sum, &who(), None)
        .await
        .unwrap()
}

async fn answer(deploys: &Deploys) -> String {
    let port = deploys.status().unwrap().port.unwrap();
    reqwest::get(format!("http://127.0.0.1:{port}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

storage_tests! {
    async fn deploys_failures_and_rollbacks_are_recorded_and_the_current_release_survives_a_restart(db: Db) {
        migrate(&db, &[solo_audit::MIGRATIONS, solo_deploy::MIGRATIONS]).await;
        let work = tempfile::tempdir().unwrap();
        let data = work.path().join("data");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let node = deploys(&db, &data);
        let running = tokio::spawn(node.clone().run(stop_rx));

        let (one, sum) = archive(work.path(), "one", "healthy", "feat: first");
        let run = deploy_archive(&node, &one, &sum, &who(), None).await.unwrap();
        assert_eq!((run.kind, run.state, run.version.as_str()), (RunKind::Deploy, RunState::Live, "0.1.0"));
        assert_eq!(run.actor, "token:ci");
        assert_eq!(answer(&node).await, "hello from one");

        let (bad, sum) = archive(work.path(), "bad", "never-healthy", "fix: oops");
        let run = deploy_archive(&node, &bad, &sum, &who(), None).await.unwrap();
        assert_eq!((run.state, run.version.as_str()), (RunState::Failed, "0.1.1"));
        assert!(run.error.as_deref().unwrap().contains("not healthy"), "{run:?}");
        assert!(run.log_tail.as_deref().unwrap().contains("mode never-healthy"), "{run:?}");
        assert_eq!(answer(&node).await, "hello from one", "the old release serves");

        let (two, sum) = archive(work.path(), "two", "healthy", "BREAKING: new api");
        let run = deploy_archive(&node, &two, &sum, &who(), None).await.unwrap();
        assert_eq!((run.state, run.version.as_str()), (RunState::Live, "1.0.0"));
        assert_eq!(run.previous_version.as_deref(), Some("0.1.0"));
        assert_eq!(answer(&node).await, "hello from two");

        let run = rollback(&node, None, RunKind::Rollback, &who(), Some("bad".into()), None).await.unwrap();
        assert_eq!((run.kind, run.state, run.version.as_str()), (RunKind::Rollback, RunState::Live, "0.1.0"));
        assert_eq!(answer(&node).await, "hello from one");
        let error = rollback(&node, Some("9.9.9"), RunKind::Rollback, &who(), None, None).await.unwrap_err();
        assert!(error.to_string().contains("no release has the version 9.9.9"), "{error}");

        // keep_releases = 2 keeps the newest two, and 0.1.0 serves.
        let releases = node.releases().await.unwrap();
        assert!(releases.iter().all(|r| !r.pruned));

        let stats = node.stats().await.unwrap();
        assert_eq!((stats.deploys, stats.live, stats.failed_or_rolled_back, stats.rollbacks), (3, 2, 2, 1));

        // A deploy cut off mid-health (solo dying), then a new node on the
        // same database and data: the run is interrupted, 0.1.0 serves.
        let (slow, sum) = archive(work.path(), "three", "slow-start", "feat: slow");
        let cut = tokio::time::timeout(Duration::from_millis(700), deploy_archive(&node, &slow, &sum, &who(), None)).await;
        assert!(cut.is_err(), "the deploy was still waiting for health");
        stop_tx.send(true).unwrap();
        running.await.unwrap().unwrap();

        let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let again = deploys(&db, &data);
        let _running = tokio::spawn(again.clone().run(stop_rx));
        for _ in 0..100 {
            if again.status().and_then(|s| s.version).is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(again.status().unwrap().version.as_deref(), Some("0.1.0"));
        assert_eq!(answer(&again).await, "hello from one");
        let runs = again.runs(10).await.unwrap();
        assert_eq!((runs[0].version.as_str(), runs[0].state), ("1.1.0", RunState::Interrupted));
        assert_eq!(runs[1].state, RunState::Live, "the rollback's run still serves");

        // The next deploy goes live from there and prunes what is beyond
        // keep_releases, except the release before it (0.1.0).
        let (four, sum) = archive(work.path(), "four", "healthy", "fix: tidy");
        let run = again_deploy(&again, &four, &sum).await;
        assert_eq!((run.state, run.version.as_str()), (RunState::Live, "1.1.1"));
        let releases = again.releases().await.unwrap();
        let kept: Vec<(&str, bool)> = releases.iter().map(|r| (r.version.as_str(), r.pruned)).collect();
        assert_eq!(kept, [("1.1.1", false), ("1.1.0", false), ("1.0.0", true), ("0.1.1", true), ("0.1.0", false)]);
        assert!(!data.join("releases/shop").join(&releases[2].dir).exists());
        assert!(data.join("releases/shop").join(&releases[4].dir).exists());
    }
}
