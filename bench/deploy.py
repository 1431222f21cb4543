#!/usr/bin/env python3
"""Deploy benchmark: solo's proxy against a direct connection and nginx,
the time from `solo deploy` to the switch, rollback time, and failed
requests during a reload under load against pm2's zero-downtime reload.

    bench/deploy.py [--runs 3] [--seconds 10] [--pm2 DIR]

Needs wrk and nginx (Debian: apt-get install wrk nginx-light), node, and
pm2 (npm install pm2 into DIR, default /tmp/pm2bench). Builds solo and the
test app (crates/solo-test-support/src/bin/solo-test-app.rs) in release.
Prints Markdown tables and one JSON line. Never a pass/fail test.

- proxy: wrk -t2 -c64 (throughput, p50/p99) and wrk -t1 -c1 (latency added
  at low load) against the app directly, through solo's proxy, and through
  nginx configured as the same reverse proxy (keep-alive upstream, two
  workers, no access log), interleaved RUNS times; medians.
- deploy: wall time of `solo deploy --skip-preflight` of a prebuilt release
  (no build step), and the node's own time from receiving it to the switch.
- rollback: wall time of `solo rollback`.
- reload under load: a Node.js app (bench/app/server.js) under wrk -c32
  while solo deploys a new release of it, and while pm2 (cluster mode, two
  instances, wait_ready) reloads it; errors and non-2xx answers counted.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, path="/", timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nothing answers 200 on {port}{path}")


def wrk(port, seconds, threads, connections, path="/"):
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label):
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)\b", out)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non2xx = int(m.group(1)) if m else 0
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50_ms": ms("50"), "p99_ms": ms("99"), "errors": errors, "non2xx": non2xx, "requests": total}


class Solo:
    """A project (git repo) with [app] and [proxy], and `solo up` on it."""

    def __init__(self, solo, start, files, proxy_port, health="/healthz"):
        self.solo = solo
        self.dir = tempfile.mkdtemp(prefix="solo-bench-deploy-")
        self.proxy_port = proxy_port
        with open(os.path.join(self.dir, "solo.toml"), "w") as f:
            f.write(f"""version = 1
[app]
name = "bench"
start = "{start}"
files = {json.dumps(files)}
drain_timeout = "10s"
[app.health]
path = "{health}"
interval = "50ms"
successes = 1
[app.watch]
window = "0s"
[proxy]
listen = ["127.0.0.1:{proxy_port}"]
""")
        self.git("init", "-q")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOLO_")}
        self.proc = subprocess.Popen(
            [solo, "up", "--config", os.path.join(self.dir, "solo.toml"), "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=self.dir)
        self.addr = None
        for raw in self.proc.stdout:
            if b'"msg":"ready"' in raw:
                self.addr = json.loads(raw)["addr"]
                break
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def git(self, *args):
        subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@example.com", *args],
                       cwd=self.dir, check=True, capture_output=True)

    def write(self, name, text):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)

    def cli(self, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOLO_")}
        started = time.perf_counter()
        out = subprocess.run([self.solo, "--config", os.path.join(self.dir, "solo.toml"), "--listen", self.addr, *args],
                             capture_output=True, text=True, env=env)
        took = time.perf_counter() - started
        if out.returncode != 0:
            raise RuntimeError(f"solo {args}: {out.stderr}")
        return took, json.loads(out.stdout) if "--json" in args else None

    def deploy(self, version):
        self.write("version.txt", version)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", f"fix: {version}")
        return self.cli("deploy", "--skip-preflight", "--json")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


NGINX_CONF = """worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream app {{ server 127.0.0.1:{app}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
        }}
    }}
}}
"""


def start_nginx(app_port, port):
    d = tempfile.mkdtemp(prefix="solo-bench-nginx-")
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=d, app=app_port, port=port))
    subprocess.run(["nginx", "-c", conf, "-p", d], check=True)
    return d, conf


def stop_nginx(d, conf):
    subprocess.run(["nginx", "-c", conf, "-p", d, "-s", "stop"], capture_output=True)
    time.sleep(0.3)
    shutil.rmtree(d, ignore_errors=True)


def median(values):
    return statistics.median(values) if values else None


def under_load(port, seconds, action_at, action):
    """wrk -c32 for `seconds`, running `action` after `action_at` s."""
    result = {}
    t = threading.Thread(target=lambda: result.update(wrk(port, seconds, 2, 32)))
    t.start()
    time.sleep(action_at)
    action()
    t.join()
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--pm2", default="/tmp/pm2bench")
    args = parser.parse_args()

    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "solo", "-p", "solo-test-support", "--bin", "solo", "--bin", "solo-test-app"],
                   cwd=ROOT, check=True)
    solo = os.path.join(target, "release", "solo")
    app = os.path.join(target, "release", "solo-test-app")
    results = {}

    # --- Proxy overhead: direct vs solo vs nginx, on the same app binary.
    direct_dir = tempfile.mkdtemp(prefix="solo-bench-app-")
    with open(os.path.join(direct_dir, "version.txt"), "w") as f:
        f.write("direct")
    app_port = free_port()
    direct = subprocess.Popen([app], cwd=direct_dir, env={**os.environ, "PORT": str(app_port)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(app_port)
    node = Solo(solo, f"exec {app}", ["version.txt"], free_port())
    node.deploy("one")
    wait_http(node.proxy_port)
    nginx_port = free_port()
    nginx_dir, nginx_conf = start_nginx(app_port, nginx_port)
    wait_http(nginx_port)
    targets = {"direct": app_port, "solo": node.proxy_port, "nginx": nginx_port}
    loaded = {k: [] for k in targets}
    single = {k: [] for k in targets}
    for _ in range(args.runs):
        for name, port in targets.items():
            loaded[name].append(wrk(port, args.seconds, 2, 64))
            single[name].append(wrk(port, max(3, args.seconds // 2), 1, 1))
    for name in targets:
        results[f"proxy_{name}"] = {
            "rps": median([r["rps"] for r in loaded[name]]),
            "p50_ms": median([r["p50_ms"] for r in loaded[name]]),
            "p99_ms": median([r["p99_ms"] for r in loaded[name]]),
            "c1_p50_ms": median([r["p50_ms"] for r in single[name]]),
            "c1_p99_ms": median([r["p99_ms"] for r in single[name]]),
            "errors": sum(r["errors"] + r["non2xx"] for r in loaded[name] + single[name]),
        }
        print(json.dumps({"proxy": name, **results[f"proxy_{name}"]}), flush=True)
    stop_nginx(nginx_dir, nginx_conf)
    direct.terminate()

    # --- Deploy to switch, and rollback, with the fast-starting test app.
    deploys, switch_ms, rollbacks = [], [], []
    for n in range(5):
        took, run = node.deploy(f"v{n}")
        deploys.append(took * 1000)
        node_steps = {s["name"]: s["ms"] for s in run["steps"]}
        switch_ms.append(sum(node_steps.get(s, 0) for s in ("release", "start", "health", "switch")))
        took, run = node.cli("rollback", "--json")
        rollbacks.append(took * 1000)
    results["deploy_wall_ms"] = median(deploys)
    results["deploy_to_switch_ms"] = median(switch_ms)
    results["rollback_ms"] = median(rollbacks)
    results["rollback_max_ms"] = max(rollbacks)
    print(json.dumps({"deploy_wall_ms": results["deploy_wall_ms"], "deploy_to_switch_ms": results["deploy_to_switch_ms"],
                      "rollback_ms": results["rollback_ms"], "rollback_max_ms": results["rollback_max_ms"]}), flush=True)
    node.stop()

    # --- Failed requests during a reload under load: solo vs pm2, same Node app.
    server_js = os.path.join(ROOT, "bench", "app", "server.js")
    node_app = Solo(solo, "exec node server.js", ["server.js", "version.txt"], free_port())
    shutil.copy(server_js, os.path.join(node_app.dir, "server.js"))
    node_app.deploy("one")
    wait_http(node_app.proxy_port)
    solo_reloads = []
    for n in range(args.runs):
        r = under_load(node_app.proxy_port, args.seconds, 3, lambda: node_app.deploy(f"r{n}"))
        solo_reloads.append(r)
    node_app.stop()
    results["reload_solo"] = {"requests": sum(r["requests"] for r in solo_reloads),
                              "failed": sum(r["errors"] + r["non2xx"] for r in solo_reloads)}
    print(json.dumps({"reload": "solo", **results["reload_solo"]}), flush=True)

    pm2 = os.path.join(args.pm2, "node_modules", ".bin", "pm2")
    if os.path.exists(pm2):
        pm2_dir = tempfile.mkdtemp(prefix="solo-bench-pm2-")
        shutil.copy(server_js, os.path.join(pm2_dir, "server.js"))
        port = free_port()
        env = {**os.environ, "PM2_HOME": os.path.join(pm2_dir, ".pm2")}
        with open(os.path.join(pm2_dir, "ecosystem.config.js"), "w") as f:
            f.write(f"""module.exports = {{ apps: [{{ name: "bench", script: "server.js", cwd: "{pm2_dir}",
  instances: 2, exec_mode: "cluster", wait_ready: true, listen_timeout: 10000, kill_timeout: 10000,
  env: {{ PORT: "{port}" }} }}] }};
""")
        subprocess.run([pm2, "start", "ecosystem.config.js"], cwd=pm2_dir, env=env, check=True, capture_output=True)
        wait_http(port)
        version = subprocess.run([pm2, "--version"], env=env, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        pm2_reloads = []
        for _ in range(args.runs):
            r = under_load(port, args.seconds, 3, lambda: subprocess.run([pm2, "reload", "bench"], cwd=pm2_dir, env=env, capture_output=True))
            pm2_reloads.append(r)
        subprocess.run([pm2, "kill"], env=env, capture_output=True)
        shutil.rmtree(pm2_dir, ignore_errors=True)
        results["reload_pm2"] = {"version": version, "requests": sum(r["requests"] for r in pm2_reloads),
                                 "failed": sum(r["errors"] + r["non2xx"] for r in pm2_reloads)}
        print(json.dumps({"reload": "pm2", **results["reload_pm2"]}), flush=True)
    else:
        print(f"pm2 not found at {pm2}: npm install pm2 --prefix {args.pm2}", file=sys.stderr)

    # --- Report.
    d, s, n = results["proxy_direct"], results["proxy_solo"], results["proxy_nginx"]
    print()
    print("| path | req/s (c64) | p50 | p99 | p50 at c1 | p99 at c1 |")
    print("|---|---|---|---|---|---|")
    for name, r in (("direct", d), ("solo proxy", s), ("nginx", n)):
        print(f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {r['c1_p50_ms']:.3f} ms | {r['c1_p99_ms']:.3f} ms |")
    print()
    print(f"solo throughput: {s['rps'] / d['rps']:.2f}x direct, {s['rps'] / n['rps']:.2f}x nginx")
    print(f"latency added at c1: solo p50 +{s['c1_p50_ms'] - d['c1_p50_ms']:.3f} ms, p99 +{s['c1_p99_ms'] - d['c1_p99_ms']:.3f} ms; "
          f"nginx p50 +{n['c1_p50_ms'] - d['c1_p50_ms']:.3f} ms, p99 +{n['c1_p99_ms'] - d['c1_p99_ms']:.3f} ms")
    print(f"deploy (prebuilt) wall {results['deploy_wall_ms']:.0f} ms, received-to-switched {results['deploy_to_switch_ms']:.0f} ms; "
          f"rollback {results['rollback_ms']:.0f} ms (max {results['rollback_max_ms']:.0f} ms)")
    print(f"reload under load: solo {results['reload_solo']['failed']} failed of {results['reload_solo']['requests']}", end="")
    if "reload_pm2" in results:
        print(f"; pm2 {results['reload_pm2']['version']} {results['reload_pm2']['failed']} failed of {results['reload_pm2']['requests']}")
    else:
        print()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
