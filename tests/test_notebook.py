"""The data scientist's notebook runs top to bottom on a small sample, saves its plots and writes its scores.

The notebook is executed as a user would run it (a Jupyter kernel on this venv's
python, working directory `notebooks/`), with no store URL, so it builds its own
sample store: the path a fresh clone takes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs the test extras: pip install -e '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs the test extras: pip install -e '.[test]'")

from gnn.registry import ModelRegistry  # noqa: E402
from gnn.score import open_deal_ids  # noqa: E402
from graph import open_store  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "start-here.ipynb"
PLOTS = ("roc.png", "reliability.png", "explained_deal.png")
ACCOUNTS = 150
KERNEL = "dealgraph-test"


def _kernelspec(folder: Path) -> Path:
    """A kernelspec that runs this interpreter, so the kernel is the venv's python on any machine
    (a user-level `python3` kernelspec may point at another installation)."""
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}))
    return folder


def _is_png_with_content(path: Path) -> bool:
    from matplotlib.image import imread

    if path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    pixels = imread(path)
    return pixels.size > 0 and float(pixels.std()) > 0  # not a blank canvas


def test_notebook_runs_on_a_small_sample(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    monkeypatch.setenv("JUPYTER_PATH", str(_kernelspec(tmp_path / "jupyter")))
    monkeypatch.delenv("DEALGRAPH_STORE", raising=False)  # no URL: the notebook builds its own sample store
    monkeypatch.delenv("DEALGRAPH_HOME", raising=False)
    monkeypatch.setenv("DEALGRAPH_NOTEBOOK_ACCOUNTS", str(ACCOUNTS))
    monkeypatch.setenv("DEALGRAPH_NOTEBOOK_OUT", str(out))
    monkeypatch.setenv("DEALGRAPH_NOTEBOOK_WORK", str(tmp_path / "work"))  # sample, store and models: cleaned up
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    # One torch thread: on a small shared machine, OpenMP threads spinning against other
    # processes made training several times slower than a single thread.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "store the notebook without outputs"
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=600,
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    started = time.monotonic()
    try:
        client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    finally:
        nbformat.write(nb, tmp_path / NOTEBOOK.name)  # the executed copy, to look at when it fails
        with capsys.disabled():
            print(f"\nnotebook {NOTEBOOK.name} on {ACCOUNTS} accounts: {time.monotonic() - started:.1f} s")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors

    for name in PLOTS:
        assert (out / name).is_file(), f"{name} not saved"
        assert _is_png_with_content(out / name), f"{name} is not a PNG with something drawn"

    run = json.loads((out / "run.json").read_text())
    assert run["my_version"] != run["stock_version"]
    registry = ModelRegistry(Path(run["home"]))
    assert "notebook" in run["my_version"] and registry.card(run["my_version"]).kind == "my-gnn"
    assert registry.current_version() != run["my_version"], "the notebook's model is registered, not served"
    with open_store(run["store"]) as store:
        open_ids = open_deal_ids(store.snapshot())
        latest = store.latest_scores(open_ids)
    assert open_ids and run["scores_written"] == len(open_ids)
    assert {s.model_version for s in latest.values()} == {run["my_version"]}
    # The stock model scored these deals first: the new scores keep the ones they replaced.
    assert all(s.previous_probability is not None for s in latest.values())
