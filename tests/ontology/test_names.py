"""Class and relation names come from the ontology only: ontology/names.py, checked against crm.ttl."""

import ast
from pathlib import Path

from ontology.names import Label, Rel
from ontology.schema import load_schema

ROOT = Path(__file__).resolve().parents[2]
# Where a name may be written out: the ontology itself, tests, and notebooks (which show the graph to people).
ALLOWED = {"ontology", "tests", "notebooks", ".venv", "build"}


def constants(holder: type) -> set[str]:
    return {value for key, value in vars(holder).items() if key.isupper()}


def test_the_constants_are_exactly_the_ontology_classes_and_relations():
    schema = load_schema()
    assert constants(Label) == set(schema.nodes)
    assert constants(Rel) == set(schema.relations)


def name_literals(path: Path, names: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr)
    }
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and node.value in names and id(node) not in docstrings
    ]


def test_no_class_or_relation_name_is_written_as_a_literal_outside_the_ontology():
    schema = load_schema()
    names = set(schema.nodes) | set(schema.relations)
    found = [
        hit
        for path in sorted(ROOT.rglob("*.py"))
        if not ALLOWED & set(path.relative_to(ROOT).parts[:1]) and "site-packages" not in path.parts
        for hit in name_literals(path, names)
    ]
    assert found == [], "use ontology.names.Label / Rel instead of:\n" + "\n".join(found)
