"""Benchmark ``loaders.sample.generate_sample`` at several sizes.

Usage::

    python bench/bench_sample.py [--accounts 2000 10000 30000] [--repeats 3] [--seed 7]

Every run happens in a fresh subprocess so that its peak RSS (``resource.getrusage``) belongs to that run alone.
Wall time covers the ``generate_sample`` call only (files written to a temporary directory, on the same disk as
``tempfile.gettempdir()``); interpreter start-up and imports are excluded. Peak RSS is for the whole child process,
so it includes what importing the package costs; that baseline is reported separately as "import RSS" (note that
``loaders/__init__.py`` imports the rest of the loader stack, which is most of it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_CHILD = """
import json, resource, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
accounts, seed = int(sys.argv[2]), int(sys.argv[3])
scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
from loaders.sample import generate_sample
imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
with tempfile.TemporaryDirectory() as tmp:
    start = time.perf_counter()
    summary = generate_sample(Path(tmp), accounts=accounts, seed=seed)
    wall = time.perf_counter() - start
    written = sum(f.stat().st_size for f in Path(tmp).iterdir())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
print(json.dumps({"wall": wall, "rows": summary.total_rows, "peak": peak, "imported": imported, "bytes": written}))
"""


def run_once(accounts: int, seed: int) -> dict[str, float]:
    """Generate one sample in a fresh interpreter and return its measurements.

    Args:
        accounts: Number of accounts to generate.
        seed: Generator seed.

    Returns:
        Dict with ``wall`` (s), ``rows``, ``peak`` and ``imported`` (bytes of RSS), ``bytes`` (written).
    """
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(REPO), str(accounts), str(seed)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print a table of medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[2000, 10000, 30000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    print(f"python {platform.python_version()} on {platform.machine()}, {_cpu_count()} CPUs; "
          f"{args.repeats} runs per size, median wall time, max peak RSS")
    header = f"{'accounts':>9} {'rows':>10} {'wall s':>8} {'rows/s':>10} {'peak RSS MiB':>13} {'import RSS MiB':>15} " \
             f"{'MiB written':>12}"
    print(header)
    print("-" * len(header))
    for accounts in args.accounts:
        runs = [run_once(accounts, args.seed) for _ in range(args.repeats)]
        wall = statistics.median(r["wall"] for r in runs)
        rows = runs[0]["rows"]
        peak = max(r["peak"] for r in runs) / 2**20
        imported = max(r["imported"] for r in runs) / 2**20
        print(f"{accounts:>9} {rows:>10,} {wall:>8.2f} {rows / wall:>10,.0f} {peak:>13.0f} {imported:>15.0f} "
              f"{runs[0]['bytes'] / 2**20:>12.1f}")


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    main()
