#!/usr/bin/env python3
"""Foundation benchmark: start-up to ready, idle memory, binary size, and
/healthz throughput over loopback.

    cargo build --release
    bench/foundation.py [--bin target/release/solo] [--runs 20] [--seconds 10]

Needs wrk (Debian: apt-get install wrk) for the throughput figure.
Set BENCH_DATABASE_URL=postgres://… to also time start-up against PostgreSQL.
Prints a Markdown table and one JSON line. Never a pass/fail test.
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


class Node:
    """`solo up` on 127.0.0.1:0 in `directory`; stdout drained in a thread."""

    def __init__(self, binary, directory, database_url=None):
        self.directory = directory
        config = os.path.join(directory, "solo.toml")
        if not os.path.exists(config):
            with open(config, "w") as f:
                f.write("version = 1\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOLO_")}
        if database_url:
            env["SOLO_DATABASE_URL"] = database_url
        self.ready = threading.Event()
        self.addr = None
        self.startup_ms = None
        self.t_spawn = time.perf_counter()
        self.proc = subprocess.Popen(
            [os.path.abspath(binary), "up", "--config", config, "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=directory)
        self.t_ready_line = None
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for raw in self.proc.stdout:
            if not self.ready.is_set() and b'"msg":"ready"' in raw:
                self.t_ready_line = time.perf_counter()
                line = json.loads(raw)
                self.addr = line["addr"]
                self.startup_ms = line.get("startup_ms")
                self.ready.set()

    def wait_ready(self, timeout=30):
        if not self.ready.wait(timeout):
            raise RuntimeError("solo did not become ready")
        return self.t_ready_line - self.t_spawn

    def stop(self):
        self.proc.terminate()
        self.proc.wait(15)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None


def readyz_ok(addr):
    host, port = addr.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(32).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def time_startups(binary, runs, database_url=None, fresh=True):
    """Spawn -> `ready` log line, and spawn -> first 200 from /readyz (ms)."""
    to_line, to_readyz, internal = [], [], []
    keep = tempfile.mkdtemp(prefix="solo-bench-")
    for _ in range(runs):
        directory = tempfile.mkdtemp(prefix="solo-bench-") if fresh else keep
        node = Node(binary, directory, database_url)
        to_line.append(node.wait_ready() * 1000)
        while not readyz_ok(node.addr):
            pass
        to_readyz.append((time.perf_counter() - node.t_spawn) * 1000)
        internal.append(node.startup_ms)
        node.stop()
        if fresh:
            shutil.rmtree(directory, ignore_errors=True)
    shutil.rmtree(keep, ignore_errors=True)
    return to_line, to_readyz, internal


def wrk(addr, seconds, connections, threads):
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", f"http://{addr}/healthz"],
        capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def ms(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50_ms": ms("50"), "p99_ms": ms("99"),
            "non_2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else None}


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = int(open("/proc/meminfo").readline().split()[1])
    return f"{os.cpu_count()} cores, {cpu}, {mem_kib // 1024 // 1024} GiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default="target/release/solo")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    results = {"version": version, "machine": machine(),
               "binary_bytes": os.path.getsize(binary)}

    for label, fresh in (("first start (migrates)", True), ("restart (schema current)", False)):
        line, readyz, internal = time_startups(binary, args.runs, fresh=fresh)
        results[f"startup_{'fresh' if fresh else 'restart'}"] = {
            "ready_line_p50_ms": statistics.median(line), "ready_line_p90_ms": percentile(line, 90),
            "readyz_p50_ms": statistics.median(readyz), "readyz_p90_ms": percentile(readyz, 90),
            "internal_p50_ms": statistics.median(internal), "label": label}

    database_url = os.environ.get("BENCH_DATABASE_URL")
    if database_url:
        time_startups(binary, 1, database_url=database_url)  # migrates the database once
        line, readyz, internal = time_startups(binary, args.runs, database_url=database_url)
        results["startup_postgres"] = {
            "readyz_p50_ms": statistics.median(readyz), "readyz_p90_ms": percentile(readyz, 90),
            "internal_p50_ms": statistics.median(internal), "label": "PostgreSQL (schema current)"}

    directory = tempfile.mkdtemp(prefix="solo-bench-")
    node = Node(binary, directory)
    node.wait_ready()
    time.sleep(5)
    results["idle_rss_kib"] = node.rss_kib()
    if shutil.which("wrk"):
        wrk(node.addr, 2, args.connections, 2)  # warm-up
        results["healthz"] = wrk(node.addr, args.seconds, args.connections, 2)
        results["healthz"]["connections"] = args.connections
        results["rss_after_load_kib"] = node.rss_kib()
    else:
        print("wrk not found: skipping the throughput figure (apt-get install wrk)", file=sys.stderr)
    node.stop()
    shutil.rmtree(directory, ignore_errors=True)

    print(f"## {version} on {results['machine']}\n")
    print("| figure | value |\n|---|---|")
    print(f"| release binary size | {results['binary_bytes'] / 1024 / 1024:.1f} MiB |")
    for key in ("startup_fresh", "startup_restart", "startup_postgres"):
        if key in results:
            r = results[key]
            print(f"| start-up to ready, {r['label']}: spawn → 200 from /readyz, p50 / p90 "
                  f"| {r['readyz_p50_ms']:.1f} / {r['readyz_p90_ms']:.1f} ms (solo's own figure p50 {r['internal_p50_ms']:.1f} ms) |")
    print(f"| idle RSS after 5 s | {results['idle_rss_kib'] / 1024:.1f} MiB |")
    if "healthz" in results:
        h = results["healthz"]
        print(f"| /healthz, wrk {h['connections']} connections 2 threads {args.seconds}s | "
              f"{h['rps']:,.0f} req/s, p50 {h['p50_ms']:.2f} ms, p99 {h['p99_ms']:.2f} ms, non-2xx {h['non_2xx']} |")
        print(f"| RSS after the load | {results['rss_after_load_kib'] / 1024:.1f} MiB |")
    print()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
