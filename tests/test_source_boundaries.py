"""What the product may not reach: the test harness and the test-data folder."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "thoughtdistill"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_no_module_imports_a_test_harness():
    offenders = {str(p.relative_to(SRC)): sorted(n for n in _imports(p) if "testing" in n.split(".")
                                                 or n.startswith(("tests", "shared_data", "conftest")))
                 for p in SRC.rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}
    assert not (SRC / "testing").exists()


def test_no_module_reads_the_shared_test_data():
    hits = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
            if any(s in p.read_text(encoding="utf-8") for s in ("THOUGHTDISTILL_SHARED_DATA", "shared/data", "MANIFEST.md"))]
    assert hits == []
