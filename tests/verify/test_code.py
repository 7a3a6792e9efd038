"""Code verifiers: extraction, stdio and function-call tests on the real shared data."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from thoughtdistill.verify.code import check_function, check_functional, check_stdio, extract_code
from thoughtdistill.verify.sandbox import SandboxLimits


def test_extract_code_paths():
    text = "<think>```python\nprint('draft')\n```</think>Here:\n```python\nprint(1)\n```\nand\n```py\nprint(2)\n```"
    assert extract_code(text) == "print(2)"
    assert extract_code("```\nprint(3)\n```") == "print(3)"
    assert extract_code("```bash\nls\n```\n```python\nx=1\n```") == "x=1"
    assert extract_code("```bash\nls\n```") is None
    assert extract_code("<think>```python\nprint(1)\n```") is None  # truncated thought
    assert extract_code("no code") is None and extract_code(None) is None


def _rows(data_dir, name):
    return {r["id"]: r for r in (json.loads(l) for l in open(data_dir / name, encoding="utf-8"))}


MINMAX = "t = int(input())\nfor _ in range(t):\n    x, y = map(int, input().split())\n    print(min(x, y), max(x, y))\n"
LATTICE = """import sys
from math import isqrt
def count(r):
    total = 0
    for x in range(-r, r + 1):
        hi = isqrt((r + 1) ** 2 - x * x - 1)
        need = r * r - x * x
        lo = 0 if need <= 0 else isqrt(need - 1) + 1
        if hi < lo:
            continue
        total += 2 * hi + 1 if lo == 0 else 2 * (hi - lo + 1)
    return total
data = sys.stdin.read().split()
print("\\n".join(str(count(int(v))) for v in data[1:1 + int(data[0])]))
"""


def test_code_tests_has_no_reference_solutions(data_dir):
    rows = _rows(data_dir, "code_tests.jsonl")
    assert len(rows) == 60
    assert not any(k in r for r in rows.values() for k in ("solution", "solutions", "canonical_solution"))


def test_stdio_hand_written_solutions(data_dir):
    """code_tests.jsonl ships no reference solutions: hand-written ones for two problems."""
    rows = _rows(data_dir, "code_tests.jsonl")
    ok = check_stdio(MINMAX, rows["codeforces-0"]["tests"])
    assert ok.verdict is True and ok.by == "sandbox-stdio", ok.detail
    assert check_stdio(LATTICE, rows["codeforces-5"]["tests"]).verdict is True
    wrong = check_stdio(MINMAX.replace("min(x, y), max(x, y)", "x, y"), rows["codeforces-0"]["tests"])
    assert wrong.verdict is False and "wrong output" in wrong.detail
    crash = check_stdio("print(1/0)", rows["codeforces-5"]["tests"])
    assert crash.verdict is False and "ZeroDivisionError" in crash.detail
    assert check_stdio(MINMAX, []).verdict is None
    assert check_stdio(None, rows["codeforces-0"]["tests"]).verdict is False


def test_stdio_whitespace_normalised():
    tests = [{"input": "", "output": "1 2\n3"}]
    assert check_stdio("print('1  2 ')\nprint(3)\n\n", tests).verdict is True
    assert check_stdio("print('1 2 3 4')", tests).verdict is False


def test_stdio_numbers_compare_as_decimals_like_livecodebench():
    tests = [{"input": "", "output": "0.5 YES\n12"}]
    assert check_stdio("print('0.50 YES')\nprint('12.0')", tests).verdict is True
    assert check_stdio("print('0.51 YES')\nprint(12)", tests).verdict is False
    assert check_stdio("print('0.5 yes')\nprint(12)", tests).verdict is False  # words stay exact


def test_function_check_small(data_dir):
    row = _rows(data_dir, "humaneval.jsonl")["HumanEval/0"]
    good = check_function(row["prompt"] + row["canonical_solution"], row["test"], row["entry_point"])
    assert good.verdict is True and good.by == "sandbox-function"
    bad = check_function(row["prompt"] + "    return False\n", row["test"], row["entry_point"])
    assert bad.verdict is False and "AssertionError" in bad.detail


@pytest.mark.parametrize("trick", [
    "import sys; sys.exit(0)",
    "import os; os._exit(0)",
    "import atexit, os; atexit.register(lambda: os._exit(0))",
    "import sys, os; sys.excepthook = lambda *a: os._exit(0)",
])
def test_exiting_early_is_not_passing(data_dir, trick):
    row = _rows(data_dir, "humaneval.jsonl")["HumanEval/0"]
    res = check_function(row["prompt"] + "    return False\n" + trick + "\n", row["test"], row["entry_point"])
    assert res.verdict is False and ("never finished" in res.detail or "AssertionError" in res.detail), res


def test_an_always_equal_object_is_not_an_answer(data_dir):
    row = _rows(data_dir, "humaneval.jsonl")["HumanEval/0"]
    stub = ("class Anything:\n    def __eq__(self, other): return True\n    def __ne__(self, other): return False\n"
            f"def {row['entry_point']}(*args, **kwargs):\n    return Anything()\n")
    res = check_function(stub, row["test"], row["entry_point"])
    assert res.verdict is False and "class the solution defined (Anything)" in res.detail


def test_megabytes_of_error_text_are_cut(data_dir):
    row = _rows(data_dir, "humaneval.jsonl")["HumanEval/0"]
    res = check_function("import sys; sys.stderr.write('E' * (4 << 20)); sys.exit(1)", row["test"], row["entry_point"])
    assert res.verdict is False and len(res.detail) < 600


PERTURB = '''
def _perturb(r):
    if isinstance(r, bool): return not r
    if isinstance(r, (int, float)): return r + 1
    if isinstance(r, str): return r + "x"
    if isinstance(r, list): return r + [None]
    if isinstance(r, tuple): return r + (None,)
    if r is None: return "x"
    return None
'''


def corrupted(row) -> str:
    """The canonical solution with every return value subtly changed (a wrong answer that
    still runs): flipped bool, +1, extra character or element."""
    ep = row["entry_point"]
    return (row["prompt"] + row["canonical_solution"] + PERTURB
            + f"\n_orig_{ep} = {ep}\ndef {ep}(*a, **k):\n    return _perturb(_orig_{ep}(*a, **k))\n")


@pytest.mark.slow
def test_humaneval_canonical_pass_and_corrupted_fail(data_dir):
    rows = list(_rows(data_dir, "humaneval.jsonl").values())
    assert len(rows) == 164
    limits = SandboxLimits(cpu_s=10, wall_s=30)

    def run(args):
        code, row = args
        return check_function(code, row["test"], row["entry_point"], limits)

    with ThreadPoolExecutor(4) as pool:  # each run is its own sandboxed process
        good = list(pool.map(run, [(r["prompt"] + r["canonical_solution"], r) for r in rows]))
        bad = list(pool.map(run, [(corrupted(r), r) for r in rows]))
    assert [r["task_id"] for r, g in zip(rows, good) if g.verdict is not True] == []
    assert [r["task_id"] for r, b in zip(rows, bad) if b.verdict is not False] == []


def test_chain_time_budget_covers_all_tests():
    tests = [{"input": str(i), "output": str(i)} for i in range(6)]
    slow = "import time\ntime.sleep(0.4)\nprint(input())"
    res = check_stdio(slow, tests, limits=SandboxLimits(wall_s=5, chain_wall_s=1.0))
    assert res.verdict is False and "time budget for the chain (1s) spent after" in res.detail
    assert check_stdio(slow, tests[:1], limits=SandboxLimits(wall_s=5, chain_wall_s=1.0)).verdict is True


# LeetCode-style functional tests (LiveCodeBench): one JSON argument per input line
REVERSE_TESTS = [{"input": '[1, 2, 3]', "output": '[3, 2, 1]'}, {"input": '["a"]', "output": '["a"]'},
                 {"input": '[[1, 2], 3]', "output": '[3, [1, 2]]'}]
REVERSE = "class Solution:\n    def rev(self, xs: List[Any]) -> List[Any]:\n        return xs[::-1]\n"


def test_functional_solution_class_and_plain_function():
    ok = check_functional(REVERSE, REVERSE_TESTS, "rev")
    assert ok.verdict is True and ok.by == "sandbox-functional" and "3/3" in ok.detail
    assert check_functional("def rev(xs):\n    return list(reversed(xs))\n", REVERSE_TESTS, "rev").verdict is True
    wrong = check_functional(REVERSE.replace("xs[::-1]", "xs"), REVERSE_TESTS, "rev")
    assert wrong.verdict is False and "test 1/3: wrong answer" in wrong.detail
    missing = check_functional(REVERSE, REVERSE_TESTS, "reverse")
    assert missing.verdict is False and "no method or function 'reverse'" in missing.detail
    assert check_functional(REVERSE, [], "rev").verdict is None
    assert check_functional("", REVERSE_TESTS, "rev").verdict is False


def test_functional_tuples_count_as_lists_only_at_the_top():
    tests = [{"input": "[1, 2]", "output": "[[1, 2]]"}]
    assert check_functional("def f(xs):\n    return ([1, 2],)\n", tests, "f").verdict is True
    nested = check_functional("def f(xs):\n    return [(1, 2)]\n", tests, "f")
    assert nested.verdict is False and "wrong answer" in nested.detail  # LiveCodeBench: [(1, 2)] != [[1, 2]]


def test_functional_several_arguments_and_a_scalar_answer():
    tests = [{"input": '"abcabc"\n3', "output": "2"}, {"input": '"aaaa"\n1', "output": "1"}]
    code = ("class Solution:\n    def count(self, s: str, k: int) -> int:\n"
            "        return len({s[i:i + k] for i in range(len(s) - k + 1)}) - (k == 3)\n")
    assert check_functional(code, tests, "count").verdict is True


def test_functional_per_test_time_limit_and_expected_outputs_stay_out_of_the_sandbox():
    slow = "class Solution:\n    def rev(self, xs):\n        while True:\n            pass\n"
    res = check_functional(slow, REVERSE_TESTS, "rev", SandboxLimits(cpu_s=1, wall_s=10))
    assert res.verdict is False and "time limit (1s)" in res.detail
    peek = ("import sys\nDATA = sys.stdin.read()\n"
            "class Solution:\n    def rev(self, xs):\n        return DATA\n")
    assert check_functional(peek, REVERSE_TESTS, "rev").verdict is False  # stdin is consumed, no outputs in it
