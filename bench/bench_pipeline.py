"""Benchmark: load, train and score time and peak memory at several sample sizes.

    python bench/bench_pipeline.py                       # 300, 3000 accounts (~10k, ~100k rows)
    python bench/bench_pipeline.py --accounts 30000      # ~1M rows (long: scoring explains every open deal)
    python bench/bench_pipeline.py --repeat 3            # median of 3 runs per size

Each size runs in a fresh subprocess (so peak RSS is that size's own); the table
prints seconds per phase (median over repeats) and the peak resident memory.
Figures, not assertions: this machine is noisy, so compare sizes from one run.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def one_run(accounts: int, explain: bool) -> dict:
    """Runs in the child process: every phase on a fresh sample, timed."""
    sys.path.insert(0, str(REPO))
    from gnn.score import score_open_deals
    from gnn.train import train
    from graph import open_store, sqlite_url
    from loaders import load_export, load_mapping
    from loaders.sample import generate_sample

    out: dict = {"accounts": accounts}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        summary = generate_sample(root / "sample", accounts=accounts, seed=7)
        out["rows"] = summary.total_rows
        out["sample_s"] = time.perf_counter() - t
        store = open_store(sqlite_url(root / "graph.db"))
        t = time.perf_counter()
        load_export(store, root / "sample", load_mapping("salesforce", store.schema), root / "q")
        out["load_s"] = time.perf_counter() - t
        t = time.perf_counter()
        result = train(store, root, truth=root / "sample" / "truth.csv")
        out["train_s"] = time.perf_counter() - t
        out["auroc"] = {k: v["auroc"] for k, v in result.report["test"].items()}
        t = time.perf_counter()
        out["open_deals"] = len(score_open_deals(store, root, explain=explain))
        out["score_s"] = time.perf_counter() - t
        store.close()
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[300, 3000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-explain", action="store_true", help="score without explanations")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(args.child, not args.no_explain)))
        return
    print(f"{'accounts':>8} {'rows':>9} {'load s':>8} {'train s':>8} {'score s':>8} {'open':>6} {'ms/deal':>8} "
          f"{'total s':>8} {'peak MiB':>9}  test AUROC (prior / flat / graph / its wide part / oracle)")
    for accounts in args.accounts:
        runs = []
        for _ in range(args.repeat):
            cmd = [sys.executable, __file__, "--child", str(accounts)] + (["--no-explain"] if args.no_explain else [])
            last_line = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1]
            runs.append(json.loads(last_line))
        med = {k: statistics.median(r[k] for r in runs) for k in ("load_s", "train_s", "score_s", "peak_rss_mib")}
        r = runs[0]
        auroc = " / ".join(f"{r['auroc'].get(k, float('nan')):.3f}"
                           for k in ("prior", "flat_gbt", "graphsage", "wide_only", "oracle"))
        per_deal = 1000 * med["score_s"] / max(r["open_deals"], 1)
        total = med["train_s"] + med["score_s"]
        print(f"{accounts:>8} {r['rows']:>9} {med['load_s']:>8.1f} {med['train_s']:>8.1f} {med['score_s']:>8.1f} "
              f"{r['open_deals']:>6} {per_deal:>8.1f} {total:>8.1f} {med['peak_rss_mib']:>9.0f}  {auroc}", flush=True)


if __name__ == "__main__":
    main()
