//! The node registry's storage, on both engines from one set of bodies.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use solo_cluster::{Cluster, MIGRATIONS, NodeInfo, NodeState};
use solo_store::Db;
use solo_test_support::engines::migrate;
use solo_test_support::storage_tests;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

fn node(id: &str, started: i64) -> NodeInfo {
    NodeInfo {
        node_id: id.into(),
        hostname: format!("host-{id}"),
        version: "1.2.3".into(),
        listen: "127.0.0.1:7070".into(),
        started_at: at(started),
    }
}

async fn registry(db: &Db) -> Cluster {
    migrate(db, &[MIGRATIONS]).await;
    Cluster::new(db.clone())
}

storage_tests! {
    async fn registers_and_lists_nodes_newest_first(db: Db) {
        let cluster = registry(&db).await;
        cluster.register(&node("a", 0), at(0)).await.unwrap();
        cluster.register(&node("b", 10), at(10)).await.unwrap();
        let nodes = cluster.nodes().await.unwrap();
        assert_eq!(nodes.iter().map(|n| n.node_id.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(nodes[1].hostname, "host-a");
        assert_eq!(nodes[1].started_at, at(0));
        assert_eq!(nodes[1].heartbeat_at, at(0));
        assert_eq!(nodes[1].stopped_at, None);
    }

    async fn heartbeats_keep_a_node_up_and_silence_is_noticed(db: Db) {
        let cluster = registry(&db).await;
        cluster.register(&node("a", 0), at(0)).await.unwrap();
        assert!(cluster.heartbeat("a", at(25)).await.unwrap());
        let limit = Duration::seconds(30);
        let a = cluster.nodes().await.unwrap().remove(0);
        assert_eq!(a.heartbeat_at, at(25));
        assert_eq!(a.state(at(50), limit), NodeState::Up);
        assert_eq!(a.state(at(56), limit), NodeState::Silent);
        assert!(!cluster.heartbeat("unknown", at(30)).await.unwrap(), "tells the caller to register again");
    }

    async fn a_clean_stop_is_recorded_and_a_restart_clears_it(db: Db) {
        let cluster = registry(&db).await;
        cluster.register(&node("a", 0), at(0)).await.unwrap();
        cluster.stopped("a", at(40)).await.unwrap();
        let a = cluster.nodes().await.unwrap().remove(0);
        assert_eq!(a.stopped_at, Some(at(40)));
        assert_eq!(a.state(at(41), Duration::seconds(30)), NodeState::Stopped);

        let mut again = node("a", 100);
        again.version = "1.3.0".into();
        cluster.register(&again, at(100)).await.unwrap();
        let a = cluster.nodes().await.unwrap();
        assert_eq!(a.len(), 1, "same id, same row");
        assert_eq!((a[0].version.as_str(), a[0].started_at, a[0].stopped_at), ("1.3.0", at(100), None));
    }

    async fn prunes_only_long_silent_nodes(db: Db) {
        let cluster = registry(&db).await;
        cluster.register(&node("old", 0), at(0)).await.unwrap();
        cluster.register(&node("fresh", 0), at(0)).await.unwrap();
        cluster.heartbeat("fresh", at(1000)).await.unwrap();
        assert_eq!(cluster.prune(at(500)).await.unwrap(), 1);
        let left: Vec<_> = cluster.nodes().await.unwrap().into_iter().map(|n| n.node_id).collect();
        assert_eq!(left, ["fresh"]);
    }

    async fn millisecond_times_survive_the_round_trip(db: Db) {
        let cluster = registry(&db).await;
        let precise = Utc.timestamp_millis_opt(1_800_000_000_123).unwrap();
        let mut n = node("a", 0);
        n.started_at = precise;
        cluster.register(&n, precise).await.unwrap();
        let a = cluster.nodes().await.unwrap().remove(0);
        assert_eq!(a.started_at, precise);
        assert_eq!(a.heartbeat_at, precise);
    }
}
