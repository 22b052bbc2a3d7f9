"""Benchmark: the sampled model at scale — train, score + explain, a 1% delta rescored incrementally.

    python bench/bench_scale.py                # 120, 1,200, 12,000 accounts: ~10k, ~100k, ~1M source rows
    python bench/bench_scale.py --accounts 120 1200 --full-batch   # the smaller two, sampled beside full-batch
    python bench/bench_scale.py --accounts 2000 --full-batch   # the default sample, sampled beside full-batch
    python bench/bench_scale.py --accounts 12000          # ~1M rows alone (about 85 an account)

Set DEALGRAPH_THREADS to the cores the run may take (2 on an idle 2-core machine: training's and explaining's
steps then run in two forked workers; `gnn.forked`).
    python bench/bench_scale.py --delta-only COPY.db HOME DELTA   # the delta part alone, on a scored store's copy

Per size, in a fresh subprocess (so peak RSS is that size's own): the sample is
generated and loaded, the sampled model (`TrainConfig.fanout`) trained, and
every open deal scored and explained. Then a delta export is loaded: 1% of the
opportunities with their amounts raised 10% (a day's edits; no new facts after
the newest, so the scoring clock stays where it was — a deal's age is an input,
and a moved clock changes every deal). Only deals whose sampled computation
graph changed are rescored and explained (`score_open_deals(changed_only=True)`),
then compared with a full rescore by the same model: `max diff` is over every
open deal's latest score. With `--full-batch` the full-batch model is trained
on the same store afterwards, for its AUROC and time (peak RSS is taken before).

Below each size's row: the load average when it started, CPU seconds per phase (the machine is shared, so
CPU time is the steadier figure), and the inner steps' wall and CPU seconds (`PHASES`, nested: validation's
`logits_of` runs inside `fit_graph_model`, `examples_at` inside `build_examples`). With two threads, training
runs the cutoffs' examples and the grid's fits in forked workers (`gnn.forked`): their inner steps
(`examples_at`, `fit_graph_model` and what runs inside it) are not timed, `build_examples` and `tune` are,
and CPU seconds include the workers'.

Figures, not assertions: the machine is shared and noisy; compare within one run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DELTA_SHARE = 0.01


def delta_export(sample: Path, delta: Path, seed: int = 7) -> int:
    """A delta export in `delta`: 1% of the opportunities, each with its amount raised by 10% (a day's edits
    to deals), and every other file with its header only (the loader wants the export's required files)."""
    delta.mkdir()
    for path in sample.glob("*.csv"):
        if path.name == "truth.csv":
            continue
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            rows, fields = list(reader), reader.fieldnames or []
        chosen: list[dict[str, str]] = []
        if path.name == "Opportunity.csv":
            rng = np.random.default_rng(seed)
            picked = rng.choice(len(rows), size=max(1, int(DELTA_SHARE * len(rows))), replace=False)
            chosen = [rows[i] | {"Amount": f"{float(rows[i]['Amount'] or 0) * 1.1:.2f}"} for i in sorted(picked)]
        with (delta / path.name).open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fields, quoting=csv.QUOTE_ALL)
            writer.writeheader()
            writer.writerows(chosen)
    return _count(delta / "Opportunity.csv")


#: The inner steps timed per phase (module, attribute): wall and CPU seconds, calls. Training and scoring
#: nest (`logits_of` runs inside `fit_graph_model` for validation), so the phases overlap; the table says so.
PHASES = (
    ("graph.snapshot", "Snapshot.timeline"),
    ("gnn.dataset", "examples_at"),
    ("gnn.dataset", "build_examples"),
    ("gnn.fit", "tune"),
    ("gnn.fit", "fit_graph_model"),
    ("gnn.minibatch", "batch_logits"),
    ("gnn.fit", "logits_of"),
    ("gnn.fit", "_val_logits"),  # early stopping's reads, on graphs cut once per fit
    ("gnn.fit", "fit_platt"),
    ("gnn.wide", "fit_wide"),
    ("gnn.score", "open_examples"),
    ("gnn.score", "fingerprints"),
    ("gnn.score", "predict_examples"),
    ("gnn.explain_pool", "explain_all"),  # CPU s include its worker processes' (once exited)
    ("graph.store", "GraphStore.snapshot"),
    ("graph.sqlite", "SQLiteStore.snapshot"),
    ("gnn.score", "own_digests"),
    ("gnn.score", "_snapshot_id"),
    ("graph.store", "GraphStore.latest_scores"),
    ("graph.sqlite", "SQLiteStore.write_scores"),
)


def time_phases(phases: tuple[tuple[str, str], ...] = PHASES) -> dict[str, list[float]]:
    """Wrap each named function wherever it is bound (its module and every module that imported it), adding
    [wall s, CPU s, calls] per name to the returned dict as the run goes. Only for this benchmark's child."""
    import importlib

    totals: dict[str, list[float]] = {}
    for module_name, attr in phases:
        module = importlib.import_module(module_name)
        owner, name = (module, attr) if "." not in attr else (getattr(module, attr.split(".")[0]), attr.split(".")[1])
        original = getattr(owner, name)
        totals[attr] = [0.0, 0.0, 0]
        wrapped = _timer(original, totals[attr])
        setattr(owner, name, wrapped)
        if owner is module:  # `from gnn.fit import logits_of` elsewhere: rebind those names too
            for other in list(sys.modules.values()):
                if getattr(other, "__name__", "").split(".")[0] in ("gnn", "graph") and \
                        getattr(other, name, None) is original:
                    setattr(other, name, wrapped)
    return totals


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (the forked workers of training and explaining)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _timer(fn: Callable, total: list[float]) -> Callable:
    depth = [0]  # recursive or nested calls of the same function count once

    def timed(*args, **kwargs):
        if depth[0]:
            return fn(*args, **kwargs)
        depth[0] += 1
        wall, cpu = time.perf_counter(), cpu_seconds()
        try:
            return fn(*args, **kwargs)
        finally:
            depth[0] -= 1
            total[0] += time.perf_counter() - wall
            total[1] += cpu_seconds() - cpu
            total[2] += 1
    return timed


def _count(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as f:
        return sum(1 for _ in csv.DictReader(f))


def one_run(accounts: int, full_batch: bool) -> dict:
    """Runs in the child process: every phase on a fresh sample, timed."""
    sys.path.insert(0, str(REPO))
    from gnn.score import score_open_deals
    from gnn.threads import size_thread_pools
    from gnn.train import TrainConfig, train
    from graph import open_store, sqlite_url
    from loaders import load_export, load_mapping
    from loaders.sample import generate_sample

    out: dict = {"accounts": accounts, "threads": size_thread_pools(), "load_avg": os.getloadavg()[0]}
    inner = time_phases()

    def timed(name: str, fn: Callable, *args, **kwargs):
        wall, cpu = time.perf_counter(), cpu_seconds()
        result = fn(*args, **kwargs)
        out[f"{name}_s"], out[f"{name}_cpu_s"] = time.perf_counter() - wall, cpu_seconds() - cpu
        # Progress on stderr, for a long run watched from outside (`--child N` prints it as it goes).
        print(f"{name}: {out[f'{name}_s']:.1f} s wall, {out[f'{name}_cpu_s']:.1f} s CPU, "
              f"inner {json.dumps({k: [round(x, 1) for x in v] for k, v in inner.items() if v[2]})}",
              file=sys.stderr, flush=True)
        return result

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_sample(root / "sample", accounts=accounts, seed=7)
        out["delta_deals"] = delta_export(root / "sample", root / "delta")
        store = open_store(sqlite_url(root / "graph.db"))
        mapping = load_mapping("salesforce", store.schema)
        # Rows and rows/s are the rows the load read (every file of the mapping), as bench_load counts them.
        out["rows"] = timed("load", load_export, store, root / "sample", mapping, root / "q").totals()["read"]
        result = timed("train", train, store, root / "sampled", truth=root / "sample" / "truth.csv")
        out["auroc"] = result.report["test"]["graphsage"]["auroc"] if "graphsage" in result.report["test"] else None
        out["epochs"] = [t["best_epoch"] for t in result.report["tuning"]]
        out["examples"] = result.report["examples"]
        out["train_phases"] = {k: v.copy() for k, v in inner.items()}
        out["open_deals"] = len(timed("score", score_open_deals, store, root / "sampled", explain=True))
        out["score_phases"] = {k: [a - b for a, b in zip(v, out["train_phases"][k], strict=True)]
                               for k, v in inner.items()}

        delta_rescore(store, root / "delta", root / "sampled", root / "q", timed, out)
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if full_batch:
            other = timed("full_batch_train", train, store, root / "full", truth=root / "sample" / "truth.csv",
                          config=TrainConfig(fanout=None))
            out["full_batch_auroc"] = other.report["test"].get("graphsage", {}).get("auroc")
            out["full_batch_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        store.close()
    return out


def delta_rescore(store, delta: Path, home: Path, quarantine: Path, timed: Callable, out: dict) -> None:
    """Load the delta export, rescore incrementally (explained), then compare with a full rescore by the model."""
    from gnn.score import score_open_deals
    from loaders import load_export, load_mapping

    timed("delta_load", load_export, store, delta, load_mapping("salesforce", store.schema), quarantine)
    rescored = timed("rescore", score_open_deals, store, home, explain=True, changed_only=True)
    out["rescored"] = len(rescored)
    out["kept_explanations"] = sum(1 for r in rescored if r.explanation and "explains" in r.explanation.extra)
    out["second_pass"] = len(score_open_deals(store, home, explain=False, changed_only=True))
    latest = {d: r.probability for d, r in store.latest_scores(_open_ids(store)).items()}
    full = {r.deal_id: r.probability for r in timed("full_rescore", score_open_deals, store, home, explain=False)}
    out["max_diff"] = max((abs(latest[d] - p) for d, p in full.items()), default=0.0)
    out["missing"] = len(set(full) - set(latest))


def delta_only(store_path: Path, home: Path, delta: Path) -> None:
    """`--delta-only`: the delta part alone on a store already scored by `home`'s model (it is written to: pass a
    copy), with the inner steps' wall and CPU seconds of the incremental rescore."""
    sys.path.insert(0, str(REPO))
    from gnn.threads import size_thread_pools
    from graph import open_store, sqlite_url

    out: dict = {"threads": size_thread_pools(), "load_avg": os.getloadavg()[0]}
    inner = time_phases()

    def timed(name: str, fn: Callable, *args, **kwargs):
        before = {k: v.copy() for k, v in inner.items()}
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn(*args, **kwargs)
        out[f"{name}_s"], out[f"{name}_cpu_s"] = time.perf_counter() - wall, time.process_time() - cpu
        steps = {k: [round(a - b, 2) for a, b in zip(v, before[k], strict=True)] for k, v in inner.items()}
        called = {k: v for k, v in steps.items() if v[2]}
        print(f"{name}: {out[f'{name}_s']:.1f} s wall, {out[f'{name}_cpu_s']:.1f} s CPU (load avg "
              f"{os.getloadavg()[0]:.2f}); inner (wall, CPU, calls) {json.dumps(called)}", flush=True)
        return result

    store = open_store(sqlite_url(store_path))
    with tempfile.TemporaryDirectory() as tmp:
        delta_rescore(store, delta, home, Path(tmp) / "q", timed, out)
    store.close()
    print(f"load avg at start {out['load_avg']:.2f}, {out['threads']} numeric thread(s); delta load + rescore "
          f"{out['delta_load_s'] + out['rescore_s']:.1f} s wall, {out['delta_load_cpu_s'] + out['rescore_cpu_s']:.1f} "
          f"s CPU; rescored {out['rescored']} ({out['rescored'] - out['kept_explanations']} explained again, "
          f"{out['kept_explanations']} kept their explanation); a second pass rescored {out['second_pass']}; "
          f"full rescore {out['full_rescore_s']:.1f} s; max diff {out['max_diff']:.1e}; "
          f"{out['missing']} open deals without an incremental score", flush=True)


def _open_ids(store) -> list[str]:
    from gnn.score import open_deal_ids

    return open_deal_ids(store.snapshot())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[120, 1200, 12000])
    parser.add_argument("--full-batch", action="store_true", help="also train the full-batch model, to compare")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--delta-only", nargs=3, type=Path, metavar=("STORE", "HOME", "DELTA"),
                        help="only the delta part, on a copy of a store already scored by HOME's model")
    args = parser.parse_args()
    if args.delta_only:
        delta_only(*args.delta_only)
        return
    if args.child:
        print(json.dumps(one_run(args.child, args.full_batch)))
        return
    # "total s": load + train + score and explain, the issue's end-to-end figure; a delta's cost is its load and
    # the incremental rescore together.
    head = (f"{'accounts':>8} {'rows read':>9} {'load s':>7} {'rows/s':>7} {'train s':>8} {'score+explain s':>15} "
            f"{'total s':>7} {'open':>6} {'peak MiB':>8} {'AUROC':>6} | {'delta deals':>11} {'delta load s':>12} "
            f"{'rescored':>8} {'rescore s':>9} {'full s':>6} "
            f"{'max diff':>8} | {'full-batch train s':>18} {'AUROC':>6}")
    print(head, flush=True)
    for accounts in args.accounts:
        cmd = [sys.executable, __file__, "--child", str(accounts)] + (["--full-batch"] if args.full_batch else [])
        r = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        fb = (f"{r['full_batch_train_s']:>18.1f} {r['full_batch_auroc'] or float('nan'):>6.3f}"
              if "full_batch_train_s" in r else f"{'-':>18} {'-':>6}")
        total = r["load_s"] + r["train_s"] + r["score_s"]
        print(f"{accounts:>8} {r['rows']:>9} {r['load_s']:>7.1f} {r['rows'] / r['load_s']:>7.0f} {r['train_s']:>8.1f} "
              f"{r['score_s']:>15.1f} {total:>7.1f} {r['open_deals']:>6} {r['peak_rss_mib']:>8.0f} "
              f"{r['auroc'] or float('nan'):>6.3f} | {r['delta_deals']:>11} {r['delta_load_s']:>12.1f} "
              f"{r['rescored']:>8} {r['rescore_s']:>9.1f} {r['full_rescore_s']:>6.1f} "
              f"{r['max_diff']:>8.1e} | {fb}", flush=True)
        print(f"         ({r['threads']} numeric threads; {r['kept_explanations']} of the {r['rescored']} rescored "
              f"kept their explanation; a second incremental pass rescored {r['second_pass']}, "
              f"{r['missing']} open deals without an incremental score)", flush=True)
        print(f"         load avg {r['load_avg']:.2f}; CPU s: load {r['load_cpu_s']:.1f}, "
              f"train {r['train_cpu_s']:.1f}, "
              f"score+explain {r['score_cpu_s']:.1f}, rescore {r['rescore_cpu_s']:.1f}; best epochs {r['epochs']}; "
              f"examples {r['examples']}", flush=True)
        for stage in ("train", "score"):
            parts = ", ".join(f"{k} {w:.1f}/{c:.1f} s x{n:.0f}" for k, (w, c, n) in r[f"{stage}_phases"].items() if n)
            print(f"         {stage} phases (wall/CPU, calls; nested): {parts}", flush=True)


if __name__ == "__main__":
    main()
