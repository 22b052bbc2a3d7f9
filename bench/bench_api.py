"""Load-test the GraphQL API on 127.0.0.1: the widget's account query and a paginated deals query.

Usage::

    python bench/bench_api.py                        # the demo's store if there is one, else builds a sample
    python bench/bench_api.py --store sqlite:////data/graph.db --home /data
    python bench/bench_api.py --as admin --workers 1 --concurrency 1 16 64 --duration 6

What it does:

1. Data: `--store/--home` if given; else `dealgraph.db` + `.dealgraph/` in the working directory when
   `dealgraph demo --no-serve` made them; else it generates, loads, trains and scores a default-size
   sample (2000 accounts) into `var/bench/` once and reuses it (`--rebuild` starts over).
2. It copies the SQLite store to a temporary folder (the rescoring phase writes to the copy, never to
   yours) and keeps its API keys in a temporary key file.
3. It starts `dealgraph serve` on a free port (as many workers as `serve` starts by default: one per CPU),
   warms it up, and, as reps (one key per rep; `--as admin` for one
   admin key), sends for each concurrency level:
   - `account`: the CRM widget's query (`api.widget.QUERY`) for accounts the rep has open deals on,
     drawn at random;
   - `deals`: `deals(first: 10, after: …)`, every page of each rep's walk to the end.
4. It repeats everything while another process rewrites the latest scores of all open deals, in
   transactions of 100, at `--rescore-rate` scores a second (default 100; 0: flat out), and reports
   its write rate.

Load generator: wrk (Debian's `wrk` package; C, a small share of the CPU) when installed, cycling
through `--requests` prepared requests for `--duration` seconds after 2 s of warm-up; else (or with
`--generator python`) httpx + asyncio in this process, which costs about as much CPU as the server.
Closed loop either way: each of the `concurrency` connections sends its next request when the last
answers. Errors are non-200 answers, GraphQL `errors`, and transport failures. Figures are latencies
seen by the client, on the same 2-core machine as the server (and the writer), as the table says.
The server keeps answers in its response cache (docs/api.md): repeated account queries are answered
from memory until a score they read is rewritten; `DEALGRAPH_RESPONSE_CACHE_ENTRIES=0` measures
without it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from ontology.names import Label, Rel

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from api.settings import default_workers  # noqa: E402
from api.widget import QUERY as WIDGET_QUERY  # noqa: E402 - exactly what the widget sends

DEALS_QUERY = """query DealsPage($after: String) {
  deals(first: 10, after: $after) {
    totalCount
    edges { cursor node { id name amount stage closeDate account { id name } score { probability band } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def _cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=REPO, env=env, check=True)


def prepare(args: argparse.Namespace) -> tuple[str, Path]:
    """The store URL and home to benchmark (building the default sample when there is none)."""
    if args.store or args.home:
        if not (args.store and args.home):
            sys.exit("give both --store and --home, or neither")
        return args.store, Path(args.home)
    if Path("dealgraph.db").exists() and Path(".dealgraph/models").exists():
        return f"sqlite:///{Path('dealgraph.db').resolve()}", Path(".dealgraph").resolve()
    root = REPO / "var" / "bench"
    url, home = f"sqlite:///{root / 'dealgraph.db'}", root / "home"
    if args.rebuild and root.exists():
        shutil.rmtree(root)
    if not (root / "READY").exists():
        print(f"building the default sample ({args.accounts} accounts) in {root}: sample, load, train, score ...",
              flush=True)
        root.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(REPO), "DEALGRAPH_STORE": url, "DEALGRAPH_HOME": str(home)}
        _cli(env, "sample", "--out", str(root / "sample"), "--accounts", str(args.accounts))
        _cli(env, "load", str(root / "sample"))
        _cli(env, "train", "--truth", str(root / "sample" / "truth.csv"))
        _cli(env, "score")
        (root / "READY").write_text(datetime.now(UTC).isoformat())
    return url, home


def copy_store(url: str, into: Path) -> str:
    """A private copy of a SQLite store (consistent even while something writes to the original)."""
    if not url.startswith("sqlite:///"):
        sys.exit(f"the benchmark copies the store before writing to it and only knows SQLite: {url}")
    src = sqlite3.connect(url[len("sqlite:///"):])
    dst_path = into / "bench.db"
    dst = sqlite3.connect(dst_path)
    with dst:
        src.backup(dst)
    src.close()
    dst.execute("PRAGMA journal_mode=WAL")
    dst.close()
    return f"sqlite:///{dst_path}"


@dataclass
class Workload:
    """Who asks for what: (bearer key, account ids it can see with open deals) per virtual user identity."""

    users: list[tuple[str, list[str]]]
    open_deals: int
    principal: str


def make_workload(url: str, keys_file: Path, as_role: str, n_reps: int) -> Workload:
    from api.auth import KeyStore, Role
    from graph import open_store

    keys = KeyStore(keys_file)
    with open_store(url) as store:
        open_rows, after = [], None
        while True:
            page = store.open_deals_page(500, after)
            open_rows += page.deals
            if not page.has_next:
                break
            after = (page.deals[-1]["_rank"], page.deals[-1]["id"])
        ids = [r["id"] for r in open_rows]
        owners = store.neighbours(Label.DEAL, ids, Rel.OWNED_BY)
        accounts = store.neighbours(Label.DEAL, ids, Rel.FOR_ACCOUNT)
    by_rep: dict[str, set[str]] = {}
    for deal_id in ids:
        for rep in owners.get(deal_id, []):
            by_rep.setdefault(rep.node["id"], set()).update(a.node["id"] for a in accounts.get(deal_id, []))
    if as_role == "admin":
        key = keys.create(Role.ADMIN, name="bench")[1]
        return Workload([(key, sorted(set().union(*by_rep.values())))], len(ids), "one admin key")
    busiest = sorted(by_rep, key=lambda r: (-len(by_rep[r]), r))[:n_reps]
    users = [(keys.create(Role.REP, rep_id=rep, name=f"bench {rep}")[1], sorted(by_rep[rep])) for rep in busiest]
    return Workload(users, len(ids), f"{len(users)} rep keys (the reps with most accounts in play)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, home: Path, keys_file: Path, workers: int, log: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "DEALGRAPH_STORE": url, "DEALGRAPH_HOME": str(home),
           "DEALGRAPH_KEYS_FILE": str(keys_file), "DEALGRAPH_WORKERS": str(workers), "DEALGRAPH_ENV": "production",
           "DEALGRAPH_AUTH": "required"}
    out = log.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"the server did not become ready; see {log}:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    wall: float = 0.0
    summary: dict[str, float] | None = None  # wrk's own figures (microseconds), when wrk measured

    def row(self) -> dict[str, float]:
        if self.summary is not None:
            s = self.summary
            return {"requests": int(s["requests"]), "throughput": s["requests"] / self.wall if self.wall else 0.0,
                    "p50": s["p50"] / 1000, "p95": s["p95"] / 1000, "p99": s["p99"] / 1000, "max": s["max"] / 1000,
                    "errors": self.errors}
        lat = sorted(self.latencies)
        q = (statistics.quantiles(lat, n=100, method="inclusive") if len(lat) >= 2 else lat * 99) if lat else [0] * 99
        return {"requests": len(lat), "throughput": len(lat) / self.wall if self.wall else 0.0,
                "p50": q[49] * 1000, "p95": q[94] * 1000, "p99": q[98] * 1000,
                "max": (lat[-1] if lat else 0) * 1000, "errors": self.errors}


async def run_level(base: str, kind: str, workload: Workload, concurrency: int, duration: float, limit: int,
                    warmup: int, seed: int) -> Result:
    """`concurrency` virtual users in a closed loop: `warmup` requests unmeasured, then the measurement."""
    import httpx

    rng = random.Random(seed)
    result = Result()
    cursors: dict[int, str | None] = {}
    budget = {"left": 0, "stop_at": 0.0}

    async def one(n: int, client: httpx.AsyncClient) -> tuple[bool, float, str | None]:
        key, accounts = workload.users[n % len(workload.users)]
        if kind == "account":
            body = {"query": WIDGET_QUERY, "variables": {"id": rng.choice(accounts)}, "operationName": "AccountWidget"}
        else:
            body = {"query": DEALS_QUERY, "variables": {"after": cursors.get(n)}, "operationName": "DealsPage"}
        start = time.perf_counter()
        try:
            response = await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {key}"})
            data = response.json() if response.status_code == 200 else None
        except httpx.HTTPError as e:
            return False, time.perf_counter() - start, f"{type(e).__name__}: {e}"
        elapsed = time.perf_counter() - start
        if data is None or "errors" in data:
            return False, elapsed, f"HTTP {response.status_code}: {response.text[:300]}"
        if kind == "deals":
            page = data["data"]["deals"]["pageInfo"]
            cursors[n] = page["endCursor"] if page["hasNextPage"] else None  # at the end, start again
        return True, elapsed, None

    async def user(n: int, client: httpx.AsyncClient, measured: bool) -> None:
        while True:
            if measured and (budget["left"] <= 0 or time.perf_counter() >= budget["stop_at"]):
                return
            if not measured and budget["left"] <= 0:
                return
            budget["left"] -= 1
            ok, elapsed, problem = await one(n, client)
            if measured:
                result.latencies.append(elapsed)
                if not ok:
                    result.errors += 1
                    result.first_error = result.first_error or problem

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        budget["left"] = warmup
        await asyncio.gather(*(user(i, client, measured=False) for i in range(concurrency)))
        budget["left"], budget["stop_at"] = limit, time.perf_counter() + duration
        started = time.perf_counter()
        await asyncio.gather(*(user(i, client, measured=True) for i in range(concurrency)))
        result.wall = time.perf_counter() - started
    return result


#: Scores a second the rescoring phase writes, in transactions of 100: the default sample's 954 open deals
#: rewritten every ~10 s. `dealgraph score` on this machine writes them once in ~2 minutes (explaining each),
#: so this is a scoring run an order of magnitude faster than ours; `--rescore-rate 0` writes flat out.
RESCORE_RATE = 100.0

#: Unmeasured seconds of load before each wrk measurement.
WRK_WARMUP_S = 2.0
#: Unmeasured load on a fresh server, per query, before the first row.
SERVER_WARMUP_S = 4.0
SERVER_WARMUP_CONCURRENCY = 16

WRK_SCRIPT = r"""
-- Generated by bench/bench_api.py: replays REQUESTS round-robin, counts errors (non-200 or GraphQL errors).
local threads = {}
function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end
function init(args)
  n = offset
  errors = 0
  first_error = ""
  prepared = {}
  for i, r in ipairs(REQUESTS) do
    prepared[i] = wrk.format("POST", "/graphql", {["Content-Type"] = "application/json",
                                                   ["Authorization"] = "Bearer " .. r[1]}, r[2])
  end
end
function request()
  n = n + 1
  return prepared[(n % #prepared) + 1]
end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    errors = errors + 1
    if first_error == "" then first_error = "HTTP " .. status .. ": " .. string.sub(body, 1, 200) end
  end
end
function done(summary, latency, requests)
  local e, first = 0, ""
  for _, t in ipairs(threads) do
    e = e + t:get("errors")
    if first == "" then first = t:get("first_error") end
  end
  local socket = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("WRK-RESULT %d %.6f %.1f %.1f %.1f %.1f %d %s\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    e + socket, (first:gsub("\n", " "))))
end
"""


def _lua_string(text: str) -> str:
    """`text` as a Lua string literal (every byte outside plain ASCII letters and digits escaped)."""
    # always 3 digits: a digit may follow
    return '"' + "".join(chr(b) if chr(b).isalnum() or chr(b) in " _:,{}()$!" else f"\\{b:03d}"
                         for b in text.encode()) + '"'


def request_mix(base: str, kind: str, workload: Workload, count: int, seed: int) -> list[tuple[str, str]]:
    """`count` (key, JSON body) pairs as the Python generator would send them: accounts drawn at random per
    rep; for `deals`, every page of each rep's walk to the end (cursors read from the server first)."""
    import httpx

    rng = random.Random(seed)
    if kind == "account":
        out = []
        for n in range(count):
            key, accounts = workload.users[n % len(workload.users)]
            out.append((key, json.dumps({"query": WIDGET_QUERY, "variables": {"id": rng.choice(accounts)},
                                         "operationName": "AccountWidget"})))
        return out
    pages = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for key, _ in workload.users:
            after = None
            while True:
                body = {"query": DEALS_QUERY, "variables": {"after": after}, "operationName": "DealsPage"}
                pages.append((key, json.dumps(body)))
                info = client.post("/graphql", json=body, headers={"Authorization": f"Bearer {key}"}).json()
                page = info["data"]["deals"]["pageInfo"]
                if not page["hasNextPage"] or len(pages) >= count:
                    break
                after = page["endCursor"]
    rng.shuffle(pages)
    return pages


def run_wrk(base: str, mix: list[tuple[str, str]], concurrency: int, duration: float, warmup_s: float,
            folder: Path) -> Result:
    """One closed-loop measurement with wrk (C; a fraction of the CPU the Python generator needs)."""
    script = folder / "bench.lua"
    script.write_text("REQUESTS = {\n" + ",\n".join(f"{{{_lua_string(k)}, {_lua_string(b)}}}" for k, b in mix)
                      + "\n}\n" + WRK_SCRIPT)
    threads = str(min(2, concurrency))

    def wrk(seconds: float) -> list[str]:
        cmd = ["wrk", "-t", threads, "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s", "--timeout", "30s",
               "-s", str(script), base + "/"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        line = next((x for x in done.stdout.splitlines() if x.startswith("WRK-RESULT")), None)
        if done.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-1000:] or done.stdout[-1000:]}")
        return line.split(" ", 8)[1:]

    if warmup_s > 0:
        wrk(warmup_s)
    requests, seconds, p50, p95, p99, worst, errors, *first = wrk(duration)
    result = Result(wall=float(seconds), errors=int(errors), first_error=(first or [""])[0].strip() or None)
    result.summary = {"requests": int(requests), "p50": float(p50), "p95": float(p95), "p99": float(p99),
                      "max": float(worst)}
    return result


def cache_counts(base: str) -> dict[str, float]:
    """The server's response cache counters (`/metrics`): hits and misses."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    counts = {"hit": 0.0, "miss": 0.0}
    for family in text_string_to_metric_families(httpx.get(f"{base}/metrics", timeout=10).text):
        for sample in family.samples:
            if sample.name == "dealgraph_response_cache_total":
                counts[sample.labels["result"]] = sample.value
    return counts


def describe_cache(before: dict[str, float], after: dict[str, float]) -> str:
    hits, misses = after["hit"] - before["hit"], after["miss"] - before["miss"]
    if not hits + misses:
        return "nothing cacheable answered (cache off?)"
    return f"{hits / (hits + misses):.1%} of {hits + misses:.0f} answers from memory"


def rescore_loop(url: str, stop_file: Path, rate: float = 0.0) -> None:
    """(Child process.) Rewrite the latest score of every open deal, batch after batch, until `stop_file` exists:
    as fast as it can, or `rate` scores a second."""
    from graph import open_store

    rng = random.Random(1)
    with open_store(url) as store:
        ids, after = [], None
        while True:
            page = store.open_deals_page(500, after)
            ids += [d["id"] for d in page.deals]
            if not page.has_next:
                break
            after = (page.deals[-1]["_rank"], page.deals[-1]["id"])
        written, batches, started = 0, 0, time.perf_counter()
        while not stop_file.exists():
            for i in range(0, len(ids), 100):
                records = list(store.latest_scores(ids[i : i + 100]).values())
                now = datetime.now(UTC)
                fresh = [replace(r, probability=min(0.999, max(0.001, r.probability + rng.uniform(-0.02, 0.02))),
                                 scored_at=now) for r in records]
                written += store.write_scores(fresh)
                batches += 1
                if rate > 0:  # paced: sleep until this batch is due
                    time.sleep(max(0.0, started + written / rate - time.perf_counter()))
                if stop_file.exists():
                    break
        seconds = time.perf_counter() - started
    print(json.dumps({"scores_written": written, "transactions": batches, "seconds": seconds}), flush=True)


def print_table(rows: list[dict], meta: list[str]) -> None:
    print()
    for line in meta:
        print(line)
    head = f"{'rescoring':<10} {'query':<8} {'conc':>4} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} " \
           f"{'p99 ms':>8} {'max ms':>8} {'errors':>6}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['rescoring']:<10} {r['query']:<8} {r['concurrency']:>4} {r['requests']:>8} {r['throughput']:>8.0f} "
              f"{r['p50']:>8.1f} {r['p95']:>8.1f} {r['p99']:>8.1f} {r['max']:>8.1f} {r['errors']:>6}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store URL to benchmark (copied first)")
    parser.add_argument("--home", help="its dealgraph home (models are read from it)")
    parser.add_argument("--accounts", type=int, default=2000, help="size of a sample built here (default 2000)")
    parser.add_argument("--rebuild", action="store_true", help="build the sample in var/bench again")
    parser.add_argument("--as", dest="as_role", choices=["rep", "admin"], default="rep", help="who asks (default rep)")
    parser.add_argument("--reps", type=int, default=10, help="rep keys to spread requests over (default 10)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per measurement (default 6)")
    parser.add_argument("--requests", type=int, default=5000, help="most requests per measurement (default 5000)")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured requests before each (default 100)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help=f"uvicorn worker processes (default: serve's, one per CPU: {default_workers()})")
    parser.add_argument("--no-rescore", action="store_true", help="skip the phase with rescoring in parallel")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--rescore-rate", type=float, default=RESCORE_RATE,
                        help=f"scores a second the rescoring writer writes (default {RESCORE_RATE:g}; 0: as fast as "
                             "it can, a stress test)")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto",
                        help="load generator: wrk (Debian package) or this process's httpx (auto: wrk when installed)")
    parser.add_argument("--server-log", metavar="PATH",
                        help="keep the server's log (one JSON line per request: duration_ms, cache hit/miss) here")
    parser.add_argument("--rescore-loop", nargs=3, metavar=("STORE_URL", "STOP_FILE", "RATE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rescore_loop:
        rescore_loop(args.rescore_loop[0], Path(args.rescore_loop[1]), float(args.rescore_loop[2]))
        return 0

    use_wrk = args.generator == "wrk" or (args.generator == "auto" and shutil.which("wrk") is not None)
    if args.generator == "wrk" and shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk); --generator python uses no extra tools")
    url, home = prepare(args)
    tmp = Path(tempfile.mkdtemp(prefix="dealgraph-bench-"))
    rows: list[dict] = []
    server = None
    try:
        bench_url = copy_store(url, tmp)
        keys_file = tmp / "keys.db"
        workload = make_workload(bench_url, keys_file, args.as_role, args.reps)
        server, base = start_server(bench_url, home, keys_file, args.workers, tmp / "server.log")

        def measure(kind: str, conc: int, seconds: float) -> Result:
            if use_wrk:
                return run_wrk(base, request_mix(base, kind, workload, args.requests, seed=conc), conc, seconds,
                               WRK_WARMUP_S, tmp)
            return asyncio.run(run_level(base, kind, workload, conc, seconds, args.requests, args.warmup, seed=conc))

        # A fresh server is cold (each worker's first executions, store pages, caches): without this the first
        # row alone measured it (p99 ~50 ms at concurrency 1 against ~1 ms when it came later). Concurrency 16
        # reaches every worker; a keep-alive connection stays with one.
        for kind in ("account", "deals"):
            measure(kind, SERVER_WARMUP_CONCURRENCY, SERVER_WARMUP_S)
        phases = [("off", False)] + ([] if args.no_rescore else [("on", True)])
        rescore_stats = None
        cache_lines: list[str] = []
        for label, rescoring in phases:
            writer = None
            stop_file = tmp / "stop-rescoring"
            if rescoring:
                writer = subprocess.Popen([sys.executable, __file__, "--rescore-loop", bench_url, str(stop_file),
                                           str(args.rescore_rate)],
                                          cwd=REPO, stdout=subprocess.PIPE, text=True,
                                          env={**os.environ, "PYTHONPATH": str(REPO)})
                time.sleep(1.0)  # let it get going
            counted = cache_counts(base)
            for kind in ("account", "deals"):
                for conc in args.concurrency:
                    res = measure(kind, conc, args.duration)
                    row = {"rescoring": label, "query": kind, "concurrency": conc, **res.row()}
                    rows.append(row)
                    note = f"  first error: {res.first_error}" if res.first_error else ""
                    print(f"  {label:<3} {kind:<7} c={conc:<3} {row['requests']:>6} req  {row['throughput']:7.0f}/s  "
                          f"p50 {row['p50']:6.1f}  p99 {row['p99']:6.1f} ms  errors {row['errors']}{note}", flush=True)
            cache_lines.append(f"response cache, rescoring {label}: {describe_cache(counted, cache_counts(base))}")
            if writer is not None:
                stop_file.touch()
                out, _ = writer.communicate(timeout=120)
                rescore_stats = json.loads(out.strip().splitlines()[-1])
        meta = [
            f"dealgraph API benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs shared by the "
            "server, this load generator and (phase 2) the rescoring writer",
            f"server: dealgraph serve, {args.workers} uvicorn worker(s); principals: {workload.principal}; "
            f"store: copy of {url} ({workload.open_deals} open deals)",
            f"server warmed up first: {SERVER_WARMUP_S:g}s of each query at concurrency {SERVER_WARMUP_CONCURRENCY}",
            (f"each row: wrk, {args.duration:g}s after {WRK_WARMUP_S:g}s of warm-up, cycling through "
             f"{args.requests} prepared requests; closed loop, latency seen by the client" if use_wrk else
             f"each row: httpx, {args.duration:g}s or {args.requests} requests after {args.warmup} warm-up requests; "
             "closed loop, latency seen by the client"),
            *cache_lines,
        ]
        if rescore_stats:
            meta.append(f"rescoring ({'flat out' if args.rescore_rate <= 0 else f'paced at {args.rescore_rate:g}/s'}): "
                        f"{rescore_stats['scores_written']} scores rewritten in "
                        f"{rescore_stats['transactions']} transactions over {rescore_stats['seconds']:.0f}s "
                        f"({rescore_stats['scores_written'] / max(rescore_stats['seconds'], 1e-9):.0f} scores/s)")
        print_table(rows, meta)
        if args.json:
            Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
            if args.server_log:
                shutil.copyfile(tmp / "server.log", args.server_log)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
