"""Crash safety: `dealgraph load` killed with SIGKILL at random moments leaves a consistent store that converges.

Each trial starts the real CLI in a subprocess on a sample of a few hundred
accounts and kills it (`kill -9`), either after a random delay or as soon as a
random number of batches has committed (so some kills surely land mid-write).
Then the store must open, pass its integrity check, hold only whole batches
(the rows tagged with the killed load equal the progress it committed with
them), show the load as `running`; and loading the same export again must
give exactly the graph an uninterrupted load gives.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from graph import open_store, sqlite_url
from graph.ledger import Ledger
from loaders.sample import generate_sample
from tests.loaders.graph_dump import canonical, rows_tagged

REPO = Path(__file__).resolve().parents[2]
TRIALS = 8
SEED = 20261121


def start_load(export: Path, db: Path, home: Path, mode: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "api.cli", "load", str(export), "--store", sqlite_url(db), "--home", str(home),
            "--mode", mode]
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def committed_batches(db: Path) -> int:
    """The running load's committed batches, read beside the writer (WAL lets us)."""
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(db, timeout=0.05)
        try:
            row = conn.execute("SELECT COUNT(*) FROM records WHERE kind = 'ledger.load' "
                               "AND json_extract(body, '$.event') = 'batch'").fetchone()
        finally:
            conn.close()
    except sqlite3.OperationalError:  # the records table is not there yet
        return 0
    return row[0] or 0 if row else 0


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("crash") / "export"
    generate_sample(folder, accounts=300, seed=13)
    return folder


@pytest.fixture(scope="module")
def reference(export, tmp_path_factory) -> tuple[dict, float]:
    """The graph an uninterrupted load gives, and how long that load took."""
    work = tmp_path_factory.mktemp("reference")
    started = time.monotonic()
    proc = start_load(export, work / "g.db", work / "home", "delta")
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    seconds = time.monotonic() - started
    with open_store(sqlite_url(work / "g.db")) as store:
        return canonical(store), seconds


def test_killed_loads_leave_whole_batches_and_converge(export, reference, tmp_path):
    expected, seconds = reference
    rng = random.Random(SEED)
    outcomes = []
    for trial in range(TRIALS):
        work = tmp_path / f"trial{trial}"
        db, home = work / "g.db", work / "home"
        mode = ("delta", "full")[trial % 2]
        proc = start_load(export, db, home, mode)
        if trial % 2 == 0:  # a random moment of the whole run: parsing, resolving or writing
            time.sleep(rng.uniform(0.1, seconds))
        else:  # right after a random batch committed, so the kill surely lands mid-write
            target, deadline = rng.randint(1, 10), time.monotonic() + 120
            while committed_batches(db) < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)

        with open_store(sqlite_url(db)) as store:
            assert store.check_integrity() == [], f"trial {trial}"
            loads = Ledger(store).loads()
            for load in loads:  # every committed batch is whole: its rows and its progress count agree
                assert rows_tagged(db, load.load_id) == load.rows_written, f"trial {trial}: {load}"
            killed = loads[0] if loads else None
            outcomes.append((trial, killed.state if killed else "not started", killed.batches if killed else 0))
            if killed is not None and killed.state != "finished":
                assert killed.state == "running"

        again = start_load(export, db, home, mode)
        assert again.wait(timeout=300) == 0, again.stderr.read() if again.stderr else ""
        with open_store(sqlite_url(db)) as store:
            assert canonical(store) == expected, f"trial {trial} did not converge: {outcomes[-1]}"
            assert store.check_integrity() == []
            states = [r.state for r in Ledger(store).loads()]
            assert states[0] == "finished" and "running" not in states, states  # the killed load is marked interrupted
    print("\ntrial, state of the killed load, batches it committed:", outcomes)
    assert any(state == "running" and batches > 0 for _, state, batches in outcomes), outcomes
