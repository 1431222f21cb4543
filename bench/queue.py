#!/usr/bin/env python3
"""Queue benchmark: solo (SQLite and PostgreSQL) against graphile-worker,
pg-boss and the SQL floor, on one PostgreSQL, in one run.

    bench/queue.py [--runs 3] [--jobs 50000] [--pickups 200]

Starts a throwaway PostgreSQL 15 cluster with default durability (fsync
and synchronous_commit on; only port, socket and listen address set) in a
temporary directory, unless BENCH_DATABASE_URL names a server to use.
Builds solo's side (`crates/solo-jobs/examples/queue_bench.rs`) in release,
then runs, interleaved RUNS times: solo-sqlite, solo-postgres (a fresh
database each run) and ../shared/peers/queue/run.sh 1 JOBS (its own
schemas). Prints every run's JSON line, the medians, solo's medians as
ratios to each peer's, and the issue's goals. Never a pass/fail test.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(os.path.dirname(ROOT), "shared", "peers", "queue")
if not os.path.isdir(PEERS):
    PEERS = os.path.join(ROOT, "..", "shared", "peers", "queue")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin():
    for version in ("15", "16", "17", "14"):
        path = f"/usr/lib/postgresql/{version}/bin"
        if os.path.exists(os.path.join(path, "postgres")):
            return path
    sys.exit("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")


class Cluster:
    """A PostgreSQL cluster with default settings, as `postgres` when root."""

    def __init__(self):
        self.bin = pg_bin()
        self.dir = tempfile.mkdtemp(prefix="solo-bench-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self.run([f"{self.bin}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        self.run([
            f"{self.bin}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "start",
            "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1",
        ])

    def run(self, argv):
        if self.as_root:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)

    def url(self, database):
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self):
        try:
            self.run([f"{self.bin}/pg_ctl", "-D", self.data, "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def psql(admin_url, sql):
    subprocess.run(["psql", admin_url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def with_database(url, name):
    return url.rsplit("/", 1)[0] + "/" + name


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--pickups", type=int, default=200)
    args = parser.parse_args()

    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "solo-jobs", "--example", "queue_bench"],
                   cwd=ROOT, check=True)
    solo_bench = os.path.join(target, "release", "examples", "queue_bench")

    cluster = None
    base_url = os.environ.get("BENCH_DATABASE_URL")
    if not base_url:
        cluster = Cluster()
        base_url = cluster.url("postgres")
    admin_url = with_database(base_url, "postgres")
    try:
        psql(admin_url, "DROP DATABASE IF EXISTS solo_bench_peers")
        psql(admin_url, "CREATE DATABASE solo_bench_peers")
        peers_url = with_database(base_url, "solo_bench_peers")
        results = []
        for run in range(args.runs):
            for engine in ("sqlite", "postgres"):
                env = dict(os.environ)
                if engine == "postgres":
                    name = f"solo_bench_{run}"
                    psql(admin_url, f"DROP DATABASE IF EXISTS {name}")
                    psql(admin_url, f"CREATE DATABASE {name}")
                    env["BENCH_DATABASE_URL"] = with_database(base_url, name)
                out = subprocess.run(
                    [solo_bench, "--engine", engine, "--jobs", str(args.jobs), "--pickups", str(args.pickups)],
                    env=env, check=True, capture_output=True, text=True).stdout
                line = json.loads(out.strip().splitlines()[-1])
                print(json.dumps(line), flush=True)
                results.append(line)
            peer_env = dict(os.environ, PEER_DATABASE_URL=peers_url)
            out = subprocess.run(["./run.sh", "1", str(args.jobs)], cwd=PEERS, env=peer_env, check=True,
                                 capture_output=True, text=True).stdout
            for raw in out.strip().splitlines():
                if raw.startswith("{"):
                    line = json.loads(raw)
                    print(json.dumps(line), flush=True)
                    results.append(line)
        report(results)
    finally:
        if cluster:
            cluster.stop()


def median(results, peer, key):
    values = [r[key] for r in results if r.get("peer") == peer and r.get(key) is not None]
    return statistics.median(values) if values else None


def report(results):
    peers = []
    for r in results:
        if r["peer"] not in peers:
            peers.append(r["peer"])
    keys = ("enqueue_per_s", "e2e_per_s", "pickup_p50_ms", "pickup_p99_ms")
    medians = {p: {k: median(results, p, k) for k in keys} for p in peers}

    def fmt(v, key):
        if v is None:
            return "—"
        return f"{v:,.0f}" if key.endswith("per_s") else f"{v:.2f} ms"

    print("\n| queue | enqueue/s | end-to-end/s | pickup p50 | pickup p99 |")
    print("|---|---|---|---|---|")
    for p in peers:
        print(f"| {p} | " + " | ".join(fmt(medians[p][k], k) for k in keys) + " |")

    others = [p for p in peers if not p.startswith("solo-")]
    print("\nsolo's medians as ratios (× the peer's; for pickup, the peer's time ÷ solo's):")
    for solo in [p for p in peers if p.startswith("solo-")]:
        for other in others:
            parts = []
            for k in keys:
                a, b = medians[solo][k], medians[other][k]
                if a and b:
                    ratio = a / b if k.endswith("per_s") else b / a
                    parts.append(f"{k} {ratio:.2f}×")
            print(f"  {solo} vs {other}: " + ", ".join(parts))

    best = lambda k: max((medians[p][k] or 0) for p in others if "floor" not in p and "limit" not in p)
    print("\ngoals:")
    for solo in [p for p in peers if p.startswith("solo-")]:
        m = medians[solo]
        print(f"  {solo}: e2e ≥ 2× best peer: {m['e2e_per_s'] >= 2 * best('e2e_per_s')} "
              f"({m['e2e_per_s'] / best('e2e_per_s'):.2f}×); "
              f"enqueue ≥ 2× best peer: {m['enqueue_per_s'] >= 2 * best('enqueue_per_s')} "
              f"({m['enqueue_per_s'] / best('enqueue_per_s'):.2f}×); "
              f"pickup p50 < 2 ms: {m['pickup_p50_ms'] < 2}; p99 < 10 ms: {m['pickup_p99_ms'] < 10}")
    if "solo-sqlite" in medians and "solo-postgres" in medians:
        s, p = medians["solo-sqlite"], medians["solo-postgres"]
        print(f"  SQLite ≥ PostgreSQL: e2e {s['e2e_per_s'] >= p['e2e_per_s']}, "
              f"enqueue {s['enqueue_per_s'] >= p['enqueue_per_s']}")
    print(json.dumps({"medians": medians}))


if __name__ == "__main__":
    main()
