"""The boundaries DESIGN.md draws, checked on the code's own imports: the clinical core imports no Flask, requests,
database, FHIR, HTTP or rendering code and keeps no cache; the knowledge imports nothing of the clinical core."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cds_service"
FORBIDDEN = {
    "clinical": ("cds_service.fhir", "cds_service.http", "cds_service.render", "cds_service.feedback",
                 "cds_service.security", "cds_service.services", "flask", "requests", "sqlalchemy", "fhir",
                 "functools", "weakref"),
    "knowledge": ("cds_service.clinical", "cds_service.fhir", "cds_service.http", "cds_service.render"),
    "render": ("cds_service.services", "cds_service.review", "cds_service.http", "cds_service.fhir", "flask"),
    # the FHIR boundary, the hook request included, serves the layers above it and imports none of them
    "fhir": ("cds_service.services", "cds_service.review", "cds_service.http", "cds_service.render",
             "cds_service.app", "cds_service.cli", "flask"),
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_it_must_not(layer: str) -> None:
    for path in sorted((PACKAGE / layer).glob("*.py")):
        bad = {name for name in _imports(path) for prefix in FORBIDDEN[layer]
               if name == prefix or name.startswith(prefix + ".")}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_clinical_core_keeps_nothing_between_calls() -> None:
    """No module-level dict, list or set that a call could fill (a cache or memo): constants are tuples,
    frozensets and plain values."""
    for path in sorted((PACKAGE / "clinical").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            assert not isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp), (
                f"{path.name}:{node.lineno} holds a mutable module-level value")
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
                assert value.func.id not in ("dict", "list", "set", "OrderedDict", "defaultdict"), (
                    f"{path.name}:{node.lineno} holds a mutable module-level value")
