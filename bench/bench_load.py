"""Benchmark loading the sample export into SQLite, end to end (parse, validate, identity, resolve, write).

Usage::

    nice -n 19 python bench/bench_load.py [--accounts 12500] [--runs 1] [--seed 7] [--profile] [--floor]
                                          [--export DIR] [--compare CHECKOUT]

The sample is generated once (not timed); each run then loads it into a fresh SQLite file in a fresh
subprocess, so its peak RSS (``VmHWM`` on Linux) belongs to that run alone. Wall time covers the
``load_export`` call only (interpreter start-up and imports excluded; "import RSS" is the baseline they
cost). "CPU s" is the process's CPU time over the same call: on a machine shared with other jobs, wall time
mostly measures the others; CPU time is the steadier figure to compare two versions by (`--export` reuses
one generated sample, so they load the same rows). Rows are the CSV rows the loader reads (``truth.csv``
is not loaded); about 80 per account since stage history and activities, so 12500 accounts give about a
million. ``--compare CHECKOUT`` loads the same sample with another checkout's loader too (e.g. main:
``git archive main | tar -x -C /tmp/main``), runs interleaved so both see the same machine; the table
(markdown, for docs/loading.md) gives medians per loader and the load average before and after. Phases
are timed by wrapping the loader's steps:

- parse: reading CSV and validating every row against the ontology (``Loader._parse_file``);
- identity: duplicate resolution and redirection (``merge_duplicates``);
- resolve: natural-key lookups, dangling references, duplicate keys, and quarantining what they reject, its
  rows read again by line (``_translate``, ``_resolve``, ``_keep_latest``, ``_quarantine_rejected``);
- plan: what a full export retires (``plan_retired_*``; empty for the default delta mode);
- write: merges, batched upserts and retirements (``record_merges``, ``_write``, ``apply_changes``).

``--profile`` runs one more load under cProfile and prints the top costs.
``--floor`` times, after each load, what reading the files and SQLite's own inserts of the stored records cost
alone: what no Python per row can make cheaper (docs/loading.md, "The floors").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHASES = ("parse", "identity", "resolve", "plan", "write")

_CHILD = """
import cProfile, io, json, pstats, resource, sys, tempfile, time
from collections import defaultdict
from pathlib import Path
sys.path.insert(0, sys.argv[1])
export, profile, want_floor = Path(sys.argv[2]), sys.argv[3] == "1", sys.argv[4] == "1"


def peak_rss():
    # This process's peak RSS in bytes. Linux: VmHWM, since ru_maxrss survives exec and so would count the
    # parent's memory at fork (the generated sample); elsewhere ru_maxrss (bytes on macOS, KiB on Linux).
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def floors(store, export, files, path):
    # What a load cannot go below, measured on this machine in this process. "sqlite": the loaded store's records
    # inserted again into a fresh store, already as the values SQLite binds (no Python per record), with a load's
    # statements, 50,000-row transactions and deferred dst indexes: SQLite's own share of the write. "csv": every
    # file the load read, through the csv module with nothing done per row; "arrow": the same through pyarrow's
    # reader, when pyarrow is installed (it is not a dependency).
    import csv
    from graph.lineage import LINEAGE_COLUMNS
    from graph.sqlite import (SQLiteStore, edge_columns, edge_table, insert_flat, node_columns, node_table,
                              upsert_statements)
    tables = [(node_table(label), [*node_columns(node), *LINEAGE_COLUMNS], [node.key])
              for label, node in store.schema.nodes.items()]
    tables += [(edge_table(name), [*edge_columns(rel), *LINEAGE_COLUMNS], ["src"] if rel.functional else
                ["src", "dst", "key"]) for name, rel in store.schema.relations.items()]
    conn = store._connection()
    loaded = []
    for table, columns, key in tables:
        select = ", ".join(f'"{c}"' for c in columns)
        flat = [v for row in conn.execute(f"SELECT {select} FROM {table} ORDER BY rowid") for v in tuple(row)]
        loaded.append((table, columns, key, flat, len(flat) // len(columns)))
    fresh = SQLiteStore(path, store.schema)
    start, cpu_start = time.perf_counter(), time.process_time()
    with fresh.bulk_writes(store.schema.relations):
        for table, columns, key, flat, count in loaded:
            sql, many, per = upsert_statements(table, columns, key)
            width = len(columns)
            for first in range(0, count, L.BATCH_SIZE):
                part = flat[first * width : (first + L.BATCH_SIZE) * width]
                with fresh._transaction() as tx:
                    insert_flat(tx, sql, many, per, width, (part, len(part) // width))
    out = {"records": sum(r[4] for r in loaded),
           "sqlite": (time.perf_counter() - start, time.process_time() - cpu_start)}
    fresh.close()
    start, cpu_start = time.perf_counter(), time.process_time()
    for name in files:
        with (export / name).open(encoding="utf-8-sig", newline="") as fh:
            for _ in csv.reader(fh):
                pass
    out["csv"] = (time.perf_counter() - start, time.process_time() - cpu_start)
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:
        return out
    start, cpu_start = time.perf_counter(), time.process_time()
    for name in files:
        table = pacsv.read_csv(export / name, convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in next(csv.reader((export / name).open(encoding="utf-8-sig")))}))
    out["arrow"] = (time.perf_counter() - start, time.process_time() - cpu_start)
    return out


import loaders.load as L
from graph import open_store, sqlite_url
from loaders import load_mapping
imported = peak_rss()
phases = defaultdict(float)

def timed(phase, fn):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            phases[phase] += time.perf_counter() - start
    return wrapper

from graph.ledger import Ledger
Ledger.record_merges = timed("write", Ledger.record_merges)
for name, phase in [("_parse_file", "parse"), ("_translate", "resolve"), ("_resolve", "resolve"),
                    ("_keep_latest", "resolve"), ("_quarantine_rejected", "resolve"), ("_write", "write")]:
    setattr(L.Loader, name, timed(phase, getattr(L.Loader, name)))
for name, phase in [("merge_duplicates", "identity"), ("plan_retired_nodes", "plan"), ("plan_retired_edges", "plan"),
                    ("apply_changes", "write")]:
    setattr(L, name, timed(phase, getattr(L, name)))
with tempfile.TemporaryDirectory() as tmp:
    store = open_store(sqlite_url(Path(tmp) / "g.db"))
    mapping = load_mapping("salesforce", store.schema)
    profiler = cProfile.Profile() if profile else None
    start, cpu_start = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    summary = L.load_export(store, export, mapping, Path(tmp) / "q")
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak = peak_rss()  # the load's: the floors below hold the whole store in memory
    floor = floors(store, export, sorted({f.file for f in summary.files}), Path(tmp) / "floor.db") if want_floor else {}
    store.close()
    db_bytes = (Path(tmp) / "g.db").stat().st_size
top = ""
if profiler:
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
    top = text.getvalue()
print(json.dumps({"wall": wall, "cpu": cpu, "rows": summary.totals()["read"], "totals": summary.totals(), "peak": peak,
                  "imported": imported, "phases": phases, "merges": summary.merges, "db_bytes": db_bytes,
                  "reconciles": summary.reconciles, "profile": top, "floor": floor}))
"""


def run_once(export: Path, profile: bool = False, repo: Path = REPO, floor: bool = False) -> dict:
    """Load `export` into a fresh SQLite store in a fresh interpreter, with the loader of `repo`; its measurements
    (with `floor`, also what reading and SQLite alone cost, after the load: see `floors` in the child)."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(repo), str(export), "1" if profile else "0", "1" if floor else "0"],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Generate the sample, load it `--runs` times with each loader asked for (runs interleaved) and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=12500, help="sample size (12500 gives ~1M source rows)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="one more run under cProfile: the top costs")
    parser.add_argument("--floor", action="store_true",
                        help="after each load, time what reading the files and SQLite's own inserts cost alone")
    parser.add_argument("--compare", type=Path, metavar="CHECKOUT",
                        help="also load with the loader of another checkout (e.g. `git archive` of main, unpacked)")
    parser.add_argument(
        "--export",
        type=Path,
        help="load this sample directory (made by `loaders.sample` with the "
        "same --accounts) instead of generating one: a 1M-row sample takes ~40 s to generate",
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from loaders.sample import generate_sample

    variants: dict[str, dict] = {"this": {}}
    if args.compare:
        variants[args.compare.name] = {"repo": args.compare.resolve()}
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    load_before = _loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        export = args.export or generate_sample(Path(tmp) / "export", accounts=args.accounts, seed=args.seed).out_dir
        for _ in range(args.runs):  # interleaved, so the loaders share the machine's moods
            for name, options in variants.items():
                runs[name].append(run_once(export, floor=args.floor and name == "this", **options))
        profiled = run_once(export, profile=True) if args.profile else None

    print(
        f"python {platform.python_version()} on {platform.machine()}, {_cpu_count()} CPUs; SQLite store; "
        f"{args.runs} run(s) each, medians, max peak RSS; load average {load_before} before, {_loadavg()} after"
    )
    header = (f"| loader | rows read | wall s | rows/s | CPU s | rows/CPU s | "
              f"{' | '.join(f'{p} s' for p in PHASES if p != 'plan')} | peak RSS MiB | store MiB |")
    print(header)
    print("|" + "|".join("---" if i < 2 else "---:" for i in range(header.count("|") - 1)) + "|")
    for name, done in runs.items():
        wall, cpu = statistics.median(r["wall"] for r in done), statistics.median(r["cpu"] for r in done)
        rows = done[0]["rows"]
        phases = " | ".join(f"{statistics.median(r['phases'].get(p, 0.0) for r in done):.2f}"
                            for p in PHASES if p != "plan")
        print(f"| {name} | {rows:,} | {wall:.2f} | {rows / wall:,.0f} | {cpu:.2f} | {rows / cpu:,.0f} | {phases} | "
              f"{max(r['peak'] for r in done) / 2**20:,.0f} | {done[0]['db_bytes'] / 2**20:,.0f} |")
    first = runs["this"][0]
    print(f"\nloaded/quarantined/merged: {first['totals']}; merges by rule: {first['merges']}; "
          f"reconciles: {first['reconciles']}; import RSS {first['imported'] / 2**20:.0f} MiB")
    if any(r["totals"] != first["totals"] for done in runs.values() for r in done):
        print("the loaders' counts differ:", {name: done[0]["totals"] for name, done in runs.items()})
    if args.floor:
        print_floors(runs["this"])
    if profiled:
        print("\ncProfile, top 15 by own time (one run; profiling slows it down):")
        print(profiled["profile"])


def print_floors(done: list[dict]) -> None:
    """What the load cannot go below: its rows/s if reading (csv module, or pyarrow) and SQLite's own inserts
    were all it did, against the load itself (medians)."""
    rows, records = done[0]["rows"], done[0]["floor"]["records"]
    print(f"\nfloors, medians: {rows:,} rows read made {records:,} records (nodes and edges) in the store")
    print("| alone | wall s | CPU s | rows/s if this were all |\n|---|---:|---:|---:|")
    for part, what in (("csv", "read every file, csv module"), ("arrow", "read every file, pyarrow"),
                       ("sqlite", "SQLite inserts of those records, values ready, no Python per record")):
        if all(part in r["floor"] for r in done):
            wall = statistics.median(r["floor"][part][0] for r in done)
            cpu = statistics.median(r["floor"][part][1] for r in done)
            print(f"| {what} | {wall:.2f} | {cpu:.2f} | {rows / wall:,.0f} |")
    wall = statistics.median(r["wall"] for r in done)
    print(f"| the load itself | {wall:.2f} | {statistics.median(r['cpu'] for r in done):.2f} | {rows / wall:,.0f} |")


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    main()
