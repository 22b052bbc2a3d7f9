"""An admin's request latency while unauthenticated callers send wrong secrets for a known API key id.

Usage::

    python bench/bench_auth_flood.py                       # this checkout's server
    python bench/bench_auth_flood.py --cwd /path/to/other/checkout --attackers 48 --duration 10

It starts `dealgraph serve` (one worker) on an empty SQLite store in a temporary folder, creates an admin
key and warms it up, measures the admin's `{ viewer { role } }` alone, then again while `--attackers`
threads send the same key id with wrong secrets as fast as they are answered: once all from one address,
once each from its own (`X-Forwarded-For`, which uvicorn trusts from 127.0.0.1, as from a proxy there).
Prints median, p95 and max of the admin's latencies and what status codes the attackers got.
Issue 15 measured ~30 ms -> 2 s before the negative cache, the rate limit and the one-at-a-time scrypt.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
QUERY = {"query": "{ viewer { role } }"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin_latencies(url: str, key: str, seconds: float) -> list[float]:
    took = []
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            start = time.perf_counter()
            assert client.post(url, json=QUERY).status_code == 200
            took.append((time.perf_counter() - start) * 1000)
            time.sleep(0.05)
    return took


def flood(url: str, key: str, attackers: int, spread: bool, stop: threading.Event, statuses: Counter) -> list:
    def attack(n: int) -> None:
        headers = {"X-Forwarded-For": f"198.51.100.{n % 250}" if spread else "198.51.100.1"}
        with httpx.Client(timeout=30) as client:
            i = 0
            while not stop.is_set():
                wrong = key[: len("dgk_") + 13] + f"{n:05d}{i:038d}"
                statuses[client.post(url, json=QUERY, headers={**headers, "Authorization": f"Bearer {wrong}"})
                         .status_code] += 1
                i += 1

    threads = [threading.Thread(target=attack, args=(n,), daemon=True) for n in range(attackers)]
    for t in threads:
        t.start()
    return threads


def report(name: str, took: list[float], statuses: Counter | None = None) -> None:
    ordered = sorted(took)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    extra = f"  attackers got {dict(statuses)}" if statuses is not None else ""
    print(f"{name:<28} n={len(took):<4} median {statistics.median(took):7.1f} ms  p95 {p95:7.1f} ms  "
          f"max {max(took):7.1f} ms{extra}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cwd", type=Path, default=ROOT, help="checkout whose `dealgraph serve` runs")
    parser.add_argument("--attackers", type=int, default=48)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DEALGRAPH_STORE": f"sqlite:///{tmp}/graph.db", "DEALGRAPH_HOME": tmp,
               "DEALGRAPH_WORKERS": "1", "DEALGRAPH_LOG_FORMAT": "text", "PYTHONPATH": str(args.cwd),
               "PYTHONDONTWRITEBYTECODE": "1"}
        key = next(w for w in subprocess.run(
            [sys.executable, "-m", "api.cli", "keys", "create", "--role", "admin"], cwd=args.cwd, env=env,
            capture_output=True, text=True, check=True).stdout.split() if w.startswith("dgk_"))
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], cwd=args.cwd,
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/graphql"
        try:
            for _ in range(300):
                try:
                    if httpx.post(url, json=QUERY, headers={"Authorization": f"Bearer {key}"}).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            report("alone", admin_latencies(url, key, args.duration))
            for spread in (False, True):
                stop, statuses = threading.Event(), Counter()
                threads = flood(url, key, args.attackers, spread, stop, statuses)
                time.sleep(1)
                took = admin_latencies(url, key, args.duration)
                stop.set()
                for t in threads:
                    t.join(timeout=30)
                report(f"{args.attackers} attackers, {'many addresses' if spread else 'one address'}", took, statuses)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
