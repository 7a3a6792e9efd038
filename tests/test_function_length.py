"""No function in src/thoughtdistill is longer than MAX_LINES lines unless it says why.

A function may be longer when the comment lines right above its ``def`` (above its
decorators, if any) or its docstring hold a ``long:`` reason, e.g.::

    # long: one flat table of CLI options; splitting it would scatter them
    def register(app): ...

Length counts the ``def`` line to the last line of the body (decorators excluded); nested
functions count on their own and inside their parent.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "thoughtdistill"
MAX_LINES = 60
REASON = re.compile(r"\blong:", re.IGNORECASE)

# Functions still over the limit that someone is splitting now: "path relative to SRC:qualified
# name" -> who and why. Remove an entry when its function is split (the test says so).
PENDING: dict[str, str] = {}


def _functions(tree: ast.AST, prefix: str = ""):
    """(qualified name, node) of every function, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = f"{prefix}{node.name}"
            yield name, node
            yield from _functions(node, f"{name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def _says_why(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> bool:
    doc = ast.get_docstring(node)
    if doc and REASON.search(doc):
        return True
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    i = first - 2  # the line above the def (0-based)
    while i >= 0 and lines[i].strip().startswith("#"):
        if REASON.search(lines[i]):
            return True
        i -= 1
    return False


def long_functions(source: str, max_lines: int = MAX_LINES) -> list[tuple[str, int, int]]:
    """(qualified name, def line, length) of each function over ``max_lines`` without a reason."""
    lines = source.splitlines()
    out = []
    for name, node in _functions(ast.parse(source)):
        length = node.end_lineno - node.lineno + 1
        if length > max_lines and not _says_why(node, lines):
            out.append((name, node.lineno, length))
    return out


def _offenders() -> dict[str, tuple[int, int]]:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for name, line, length in long_functions(path.read_text(encoding="utf-8")):
            found[f"{rel}:{name}"] = (line, length)
    return found


def test_no_function_is_longer_than_the_limit_without_a_reason():
    found = _offenders()
    bad = [f"src/thoughtdistill/{key.split(':')[0]}:{line} {key.split(':')[1]} is {length} lines"
           for key, (line, length) in found.items() if key not in PENDING]
    assert not bad, (f"functions over {MAX_LINES} lines (split them along their steps, or put a "
                     "'# long: <why>' comment right above the def):\n  " + "\n  ".join(bad))


def test_pending_entries_are_still_long():
    found = _offenders()
    stale = [key for key in PENDING if key not in found]
    assert not stale, f"no longer over {MAX_LINES} lines: remove from PENDING in {Path(__file__).name}: {stale}"


def test_the_check_sees_long_functions_and_reasons():
    body = "".join(f"    x{i} = {i}\n" for i in range(61))
    plain = f"def f():\n{body}"
    assert long_functions(plain) == [("f", 1, 62)]
    assert long_functions(f"# long: a flat table\ndef f():\n{body}") == []
    assert long_functions(f"# long: a flat table\n# more words\n@decorator\ndef f():\n{body}") == []
    assert long_functions(f"# long: not right above\n\ndef f():\n{body}") == [("f", 3, 62)]
    assert long_functions(f'def f():\n    """Long: one table."""\n{body}') == []
    nested = "class C:\n    def m(self):\n        def inner():\n" + textwrap.indent(body, " " * 8)
    assert [n for n, _, _ in long_functions(nested)] == ["C.m", "C.m.inner"]
    assert long_functions("def short():\n    return 1\n") == []
