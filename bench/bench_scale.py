"""Benchmark: the sampled model at scale — train, score + explain, a 1% delta rescored incrementally.

    python bench/bench_scale.py                           # 300, 3000 accounts (~10k, ~100k source rows)
    python bench/bench_scale.py --accounts 2000 --full-batch   # the default sample, sampled beside full-batch
    python bench/bench_scale.py --accounts 30000          # ~1M rows (long)

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

Figures, not assertions: the machine is shared and noisy; compare within one run.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
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

    out: dict = {"accounts": accounts, "threads": size_thread_pools()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        summary = generate_sample(root / "sample", accounts=accounts, seed=7)
        out["rows"] = summary.total_rows
        out["delta_deals"] = delta_export(root / "sample", root / "delta")
        store = open_store(sqlite_url(root / "graph.db"))
        mapping = load_mapping("salesforce", store.schema)
        t = time.perf_counter()
        load_export(store, root / "sample", mapping, root / "q")
        out["load_s"] = time.perf_counter() - t
        t = time.perf_counter()
        result = train(store, root / "sampled", truth=root / "sample" / "truth.csv")
        out["train_s"] = time.perf_counter() - t
        out["auroc"] = result.report["test"]["graphsage"]["auroc"] if "graphsage" in result.report["test"] else None
        t = time.perf_counter()
        out["open_deals"] = len(score_open_deals(store, root / "sampled", explain=True))
        out["score_s"] = time.perf_counter() - t

        t = time.perf_counter()
        load_export(store, root / "delta", mapping, root / "q")
        out["delta_load_s"] = time.perf_counter() - t
        t = time.perf_counter()
        out["rescored"] = len(score_open_deals(store, root / "sampled", explain=True, changed_only=True))
        out["rescore_s"] = time.perf_counter() - t
        out["second_pass"] = len(score_open_deals(store, root / "sampled", explain=False, changed_only=True))
        latest = {d: r.probability for d, r in store.latest_scores(_open_ids(store)).items()}
        t = time.perf_counter()
        full = {r.deal_id: r.probability for r in score_open_deals(store, root / "sampled", explain=False)}
        out["full_rescore_s"] = time.perf_counter() - t
        out["max_diff"] = max((abs(latest[d] - p) for d, p in full.items()), default=0.0)
        out["missing"] = len(set(full) - set(latest))
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if full_batch:
            t = time.perf_counter()
            other = train(store, root / "full", truth=root / "sample" / "truth.csv", config=TrainConfig(fanout=None))
            out["full_batch_train_s"] = time.perf_counter() - t
            out["full_batch_auroc"] = other.report["test"].get("graphsage", {}).get("auroc")
            out["full_batch_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        store.close()
    return out


def _open_ids(store) -> list[str]:
    from gnn.score import open_deal_ids

    return open_deal_ids(store.snapshot())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[300, 3000])
    parser.add_argument("--full-batch", action="store_true", help="also train the full-batch model, to compare")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(args.child, args.full_batch)))
        return
    head = (f"{'accounts':>8} {'rows':>9} {'load s':>7} {'train s':>8} {'score+explain s':>15} {'open':>6} "
            f"{'peak MiB':>8} {'AUROC':>6} | {'delta deals':>11} {'rescored':>8} {'rescore s':>9} {'full s':>6} "
            f"{'max diff':>8} | {'full-batch train s':>18} {'AUROC':>6}")
    print(head, flush=True)
    for accounts in args.accounts:
        cmd = [sys.executable, __file__, "--child", str(accounts)] + (["--full-batch"] if args.full_batch else [])
        r = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        fb = (f"{r['full_batch_train_s']:>18.1f} {r['full_batch_auroc'] or float('nan'):>6.3f}"
              if "full_batch_train_s" in r else f"{'-':>18} {'-':>6}")
        print(f"{accounts:>8} {r['rows']:>9} {r['load_s']:>7.1f} {r['train_s']:>8.1f} {r['score_s']:>15.1f} "
              f"{r['open_deals']:>6} {r['peak_rss_mib']:>8.0f} {r['auroc'] or float('nan'):>6.3f} | "
              f"{r['delta_deals']:>11} {r['rescored']:>8} {r['rescore_s']:>9.1f} {r['full_rescore_s']:>6.1f} "
              f"{r['max_diff']:>8.1e} | {fb}", flush=True)
        print(f"         ({r['threads']} numeric threads; a second incremental pass rescored {r['second_pass']}, "
              f"{r['missing']} open deals without an incremental score)", flush=True)


if __name__ == "__main__":
    main()
