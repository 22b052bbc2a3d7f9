"""End to end through the real CLI: sample -> load -> train -> score -> explain -> serve over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]


def cli(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "DEALGRAPH_HOME": str(workdir / "home"),
           "DEALGRAPH_STORE": f"sqlite:///{workdir / 'graph.db'}"}
    proc = subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"dealgraph {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def as_json(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    sample = as_json(cli(work, "sample", "--out", str(work / "export"), "--accounts", "120", "--seed", "5", "--json"))
    load = as_json(cli(work, "load", str(work / "export"), "--mapping", "salesforce", "--json"))
    train = as_json(cli(work, "train", "--truth", str(work / "export" / "truth.csv"), "--json"))
    score = as_json(cli(work, "score", "--json"))
    return work, sample, load, train, score


def test_load_reconciles_and_quarantines_the_planted_dirt(pipeline):
    work, sample, load, _, _ = pipeline
    totals = load["totals"]
    assert load["reconciles"] is True
    assert totals["read"] == totals["loaded"] + totals["quarantined"] + totals["merged"]
    assert totals["read"] == sum(v for k, v in sample["rows"].items() if k != "truth.csv")
    assert totals["quarantined"] > 0 and totals["merged"] > 0
    lines = Path(load["quarantine_file"]).read_text("utf-8").splitlines()
    assert len(lines) == totals["quarantined"]
    first = json.loads(lines[0])
    assert {"file", "line", "reason", "row"} <= set(first)


def test_loading_the_same_export_again_changes_nothing(pipeline):
    work, _, load, _, _ = pipeline
    again = as_json(cli(work, "load", str(work / "export"), "--json"))
    assert again["nodes_written"] == load["nodes_written"]
    assert again["totals"] == load["totals"]


def test_train_reports_every_model_and_the_oracle(pipeline):
    _, _, _, train, _ = pipeline
    assert set(train["test"]) == {"prior", "flat_gbt", "graphsage", "oracle"}
    assert train["examples"]["train"] > 0 and train["examples"]["test"] > 0
    assert Path(train["path"], "model.pt").exists()


def test_explain_prints_paths_of_a_scored_deal(pipeline):
    work, _, _, train, score = pipeline
    assert score["scored"] > 0 and score["model_version"] == train["version"]
    import sqlite3

    with sqlite3.connect(work / "graph.db") as conn:
        deal_id = conn.execute("SELECT deal_id FROM scores ORDER BY probability DESC LIMIT 1").fetchone()[0]
    out = as_json(cli(work, "explain", deal_id, "--json"))
    assert out["deal_id"] == deal_id and out["model_version"] == train["version"]
    assert out["paths"] and out["paths"][0]["steps"][0]["id"] == deal_id
    text = cli(work, "explain", deal_id).stdout
    assert out["paths"][0]["text"] in text


def test_bad_input_exits_1_with_a_message(pipeline):
    work = pipeline[0]
    missing = cli(work, "load", str(work / "nowhere"), check=False)
    assert missing.returncode == 1 and "missing" in missing.stderr
    unknown = cli(work, "explain", "006NOSUCHDEAL", check=False)
    assert unknown.returncode == 1 and "no deal" in unknown.stderr
    mapping = cli(work, "load", str(work / "export"), "--mapping", "hubspot-that-does-not-exist", check=False)
    assert mapping.returncode == 1 and "no mapping" in mapping.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_the_widget_query_over_http(pipeline):
    work = pipeline[0]
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "DEALGRAPH_HOME": str(work / "home"),
           "DEALGRAPH_STORE": f"sqlite:///{work / 'graph.db'}"}
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.3)
        top = httpx.post(f"{base}/graphql", json={"query": "{ deals(first: 1) { edges { node { id account { id } } } } }"}).json()
        deal = top["data"]["deals"]["edges"][0]["node"]
        query = """query($id: ID!) { account(id: $id) { name contacts { name }
            openDeals { id score { probability band modelVersion } explanation(top: 2) { paths { text direction steps { label name } } } } } }"""
        account = httpx.post(f"{base}/graphql", json={"query": query, "variables": {"id": deal["account"]["id"]}}).json()
        assert "errors" not in account, account
        deals = account["data"]["account"]["openDeals"]
        assert deal["id"] in {d["id"] for d in deals}
        scored = [d for d in deals if d["score"]]
        assert scored and all(len(d["explanation"]["paths"]) <= 2 for d in scored)
        page = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "unpkg.com" not in page.text
    finally:
        server.terminate()
        server.wait(timeout=20)
    printed = server.stdout.read()
    assert f"http://127.0.0.1:{port}/graphql" in printed and "deals(first" in printed
