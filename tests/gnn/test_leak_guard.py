"""The leak guard over every input the model sees, each leak planted alone in a lead-funnel export and
loaded through its own mapping: the refusal names the input and the mapping column it came from."""

from __future__ import annotations

import json

import pytest

from api.cli import _leak_provenance, main
from gnn.dataset import leak_safe_examples
from gnn.leakage import LeakageError, find_leaks, refuse_leaks
from graph import open_store, sqlite_url
from loaders import load_export, load_mapping
from tests.gnn.funnel import write_funnel

# leak -> (kind, words in the input's name, the mapping column it must be traced to)
EXPECTED = {
    "rep": ("node existence", "Rep closer via OWNED_BY", "leads.csv column owner"),
    "product": ("edge existence", "number of FOR_PRODUCT edges", "leads.csv column product"),
    "contact": ("node existence", "Contact signer via INVOLVES", "lead_contacts.csv column contact_id"),
    "account_attribute": ("neighbour attribute", "FOR_ACCOUNT -> Account.industry=Enriched",
                          "leads.csv column industry"),
    "close_value": ("own column", "amount", "leads.csv column value"),
    "days_to_close": ("own column", "amount", "leads.csv column days_to_close"),
    "final_stage": ("own column", "deal_type=Closed Won", "leads.csv column final_stage"),
}


def _load(tmp_path, leak):
    mapping = write_funnel(tmp_path / "export", leads=300, leak=leak)
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    load_export(store, tmp_path / "export", load_mapping(str(mapping), store.schema), tmp_path / "quarantine")
    return store, mapping


@pytest.mark.parametrize("leak", sorted(EXPECTED))
def test_each_planted_leak_is_refused_and_named_with_its_mapping_column(tmp_path, leak):
    kind, name, column = EXPECTED[leak]
    store, mapping = _load(tmp_path, leak)
    try:
        _, spec, examples = leak_safe_examples(store.snapshot())
        provenance = _leak_provenance(store, str(mapping))
        with pytest.raises(LeakageError) as caught:
            refuse_leaks(spec, examples["train"], provenance)
        found = [(leak.kind, leak.input) for leak in caught.value.leaks]
        assert (kind, name) in found or any(k == kind and name in i for k, i in found), found
        message = str(caught.value)
        assert column in message and "mapping" in message
        assert "ontology/crm.ttl" not in message  # the advice is about the user's mapping, not our ontology
    finally:
        store.close()


def test_the_same_funnel_without_a_leak_passes_the_guard(tmp_path):
    store, _ = _load(tmp_path, None)
    try:
        _, spec, examples = leak_safe_examples(store.snapshot())
        assert find_leaks(spec, examples["train"]) == []
    finally:
        store.close()


def test_train_json_prints_the_refusal(tmp_path, capsys):
    store, mapping = _load(tmp_path, "rep")
    store.close()
    code = main(["train", "--json", "--store", sqlite_url(tmp_path / "graph.db"), "--home", str(tmp_path / "home"),
                 "--mapping", str(mapping)])
    assert code != 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["refused"] is True and "refusing to train" in answer["reason"]
    rep = next(leak for leak in answer["leaks"] if leak["input"] == "Rep closer via OWNED_BY")
    assert rep["kind"] == "node existence" and "leads.csv column owner" in rep["mapping"]
