#!/usr/bin/env python3
"""Access benchmark: sign-in time (argon2id dominates it), and what
authentication adds to a request.

    cargo build --release
    bench/access.py [--bin target/release/solo] [--logins 30] [--seconds 10]

The overhead figure serves the same route (/metrics) twice: from a node with
`public_metrics = true` (no credentials checked) and from one with
`public_metrics = false`, called with an API token and with a session
cookie. Needs wrk (Debian: apt-get install wrk). Prints a Markdown table and
one JSON line. Never a pass/fail test.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from foundation import Node, machine, percentile  # noqa: E402

PASSWORD = "tangerine-oboe-43-glacier"


def cli(binary, directory, args, stdin=""):
    out = subprocess.run([binary, "--config", os.path.join(directory, "solo.toml"), *args],
                         input=stdin, capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if not k.startswith("SOLO_")})
    if out.returncode != 0:
        raise RuntimeError(f"solo {args}: {out.stderr}")
    return out.stdout


def node_with(binary, config):
    directory = tempfile.mkdtemp(prefix="solo-bench-")
    with open(os.path.join(directory, "solo.toml"), "w") as f:
        f.write(config)
    node = Node(binary, directory)
    node.wait_ready()
    return node


def login(addr):
    body = json.dumps({"name": "ann", "password": PASSWORD}).encode()
    request = urllib.request.Request(f"http://{addr}/api/v1/auth/login", data=body,
                                     headers={"content-type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        cookie = response.headers["set-cookie"].split(";")[0]
        response.read()
    return (time.perf_counter() - started) * 1000, cookie


def wrk(url, seconds, connections, header=None):
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if header:
        command += ["-H", header]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": ms("50"), "p99_ms": ms("99"),
            "non_2xx": int(errors.group(1)) if errors else 0}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default="target/release/solo")
    parser.add_argument("--logins", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    if not shutil.which("wrk"):
        sys.exit("wrk not found (apt-get install wrk)")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    results = {"version": version, "machine": machine()}

    # Sign-in: one argon2id verification (m=19 MiB, t=3, p=1) plus a session write.
    node = node_with(binary, "version = 1\n[http]\npublic_metrics = false\n")
    cli(binary, node.directory, ["users", "add", "ann", "--role", "viewer"], PASSWORD + "\n")
    login(node.addr)  # warm-up
    times = [login(node.addr)[0] for _ in range(args.logins)]
    results["login_ms"] = {"p50": statistics.median(times), "p90": percentile(times, 90),
                           "min": min(times), "n": len(times)}
    token = json.loads(cli(binary, node.directory,
                           ["tokens", "create", "--name", "bench", "--role", "viewer", "--json"]))["token"]
    _, cookie = login(node.addr)

    url = f"http://{node.addr}/metrics"
    wrk(url, 2, args.connections, f"Authorization: Bearer {token}")  # warm-up
    results["metrics_token"] = wrk(url, args.seconds, args.connections, f"Authorization: Bearer {token}")
    results["metrics_session"] = wrk(url, args.seconds, args.connections, f"Cookie: {cookie}")
    node.stop()
    shutil.rmtree(node.directory, ignore_errors=True)

    public = node_with(binary, "version = 1\n[http]\npublic_metrics = true\n")
    url = f"http://{public.addr}/metrics"
    wrk(url, 2, args.connections)  # warm-up
    results["metrics_public"] = wrk(url, args.seconds, args.connections)
    public.stop()
    shutil.rmtree(public.directory, ignore_errors=True)

    base = results["metrics_public"]
    print(f"## {version} on {results['machine']}\n")
    print("| figure | value |\n|---|---|")
    login_ms = results["login_ms"]
    print(f"| sign-in (POST /api/v1/auth/login), {login_ms['n']} sequential, p50 / p90 | "
          f"{login_ms['p50']:.1f} / {login_ms['p90']:.1f} ms |")
    for key, label in (("metrics_public", "GET /metrics, no credentials checked"),
                       ("metrics_token", "GET /metrics with an API token"),
                       ("metrics_session", "GET /metrics with a session cookie")):
        r = results[key]
        ratio = r["rps"] / base["rps"]
        print(f"| {label}, wrk {args.connections} conns {args.seconds}s | {r['rps']:,.0f} req/s "
              f"({ratio:.2f}× the unauthenticated rate), p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
              f"non-2xx {r['non_2xx']} |")
    print()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
