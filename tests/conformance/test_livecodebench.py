"""LiveCodeBench ``code_generation_lite`` rows in their published layout, scored as
LiveCodeBench's own runner scores them.

Sources (github.com/LiveCodeBench/LiveCodeBench @ 28fef95):
- ``lcb_runner/benchmarks/code_generation.py``: a row is ``question_title, question_content,
  platform, question_id, contest_id, contest_date (ISO), starter_code, difficulty,
  public_test_cases (JSON text), private_test_cases (JSON text, or
  base64(zlib(pickle(JSON text))) in the lite files), metadata (JSON text, ``func_name``)``;
  each test is ``{input, output, testtype}`` with testtype ``stdin`` or ``functional``;
  ``load_code_generation_dataset`` keeps ``start_date <= contest_date <= end_date``;
- ``lcb_runner/evaluation/testing_util.py``: with ``fn_name`` a problem is call-based: the
  code's ``class Solution`` is instantiated, each input line is ``json.loads``-ed into one
  argument, the return value (a tuple counted as a list) must ``==`` the JSON-decoded output;
- ``README.md``: release_v1 … release_v6 = problems from May 2023 to Mar 2024 / May 2024 /
  Jul 2024 / Sep 2024 / Jan 2025 / Apr 2025 (400 / 511 / 612 / 713 / 880 / 1055 problems).
The problems below are invented; the encoding is built the way the lite files are.
"""

from __future__ import annotations

import base64
import json
import pickle
import zlib

import pytest

from thoughtdistill.errors import ConfigError, RecordError
from thoughtdistill.evaluate.benchmarks import get_benchmark, load_items
from thoughtdistill.evaluate.lcb import decode_private_tests, release_window
from thoughtdistill.evaluate.scoring import score_one


def lite_encode(tests: list[dict]) -> str:
    """private_test_cases as in code_generation_lite: base64(zlib(pickle(JSON text)))."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


def stdin_row(qid="abc300_a", date="2023-08-12T00:00:00", **extra) -> dict:
    public = [{"input": "3 4\n", "output": "7\n", "testtype": "stdin"}]
    private = [{"input": "10 20\n", "output": "30\n", "testtype": "stdin"},
               {"input": "-5 5\n", "output": "0\n", "testtype": "stdin"}]
    row = {"question_title": "A Plus B", "question_content": "Read A and B; print A+B.",
           "platform": "atcoder", "question_id": qid, "contest_id": qid.split("_")[0],
           "contest_date": date, "starter_code": "", "difficulty": "easy",
           "public_test_cases": json.dumps(public), "private_test_cases": lite_encode(private),
           "metadata": "{}"}
    return {**row, **extra}


def functional_row(qid="3000", date="2024-04-20T00:00:00") -> dict:
    public = [{"input": "[2, 7, 11, 15]\n9", "output": "[0, 1]", "testtype": "functional"}]
    private = [{"input": "[3, 2, 4]\n6", "output": "[1, 2]", "testtype": "functional"},
               {"input": "[3, 3]\n6", "output": "[0, 1]", "testtype": "functional"}]
    return {"question_title": "pair-summing-to-target", "question_content": "Return the indices of the "
            "two numbers that add up to target.", "platform": "leetcode", "question_id": qid,
            "contest_id": "weekly-contest-390", "contest_date": date,
            "starter_code": "class Solution:\n    def pairSum(self, nums: List[int], target: int) -> List[int]:\n        ",
            "difficulty": "easy", "public_test_cases": json.dumps(public),
            "private_test_cases": lite_encode(private), "metadata": json.dumps({"func_name": "pairSum"})}


STDIN_GOOD = "a, b = map(int, input().split())\nprint(a + b)\n"
STDIN_WRONG = "a, b = map(int, input().split())\nprint(a - b)\n"
SOLUTION_GOOD = """class Solution:
    def pairSum(self, nums: List[int], target: int) -> List[int]:
        seen = {}
        for i, x in enumerate(nums):
            if target - x in seen:
                return (seen[target - x], i)  # a tuple counts as a list, as in LiveCodeBench
            seen[x] = i
"""
SOLUTION_WRONG = SOLUTION_GOOD.replace("return (seen[target - x], i)", "return [i, seen[target - x]]")


def answer(code: str) -> str:
    return f"<think>\nwork\n</think>\n\n```python\n{code}```"


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.fixture
def lcb_file(tmp_path):
    return write_jsonl(tmp_path / "lcb.jsonl", [stdin_row(), functional_row()])


def test_private_tests_decode_as_lcb_runner_does():
    tests = [{"input": "1\n", "output": "2\n", "testtype": "stdin"}]
    raw = lite_encode(tests)
    # lcb_runner: json.loads(pickle.loads(zlib.decompress(base64.b64decode(raw))))
    assert decode_private_tests(raw) == tests == json.loads(pickle.loads(zlib.decompress(base64.b64decode(raw))))
    assert decode_private_tests(json.dumps(tests)) == tests  # the non-lite files hold JSON text


def test_rows_as_published_become_items(lcb_file):
    stdin_item, fn_item = load_items(get_benchmark("livecodebench", path=lcb_file))
    assert stdin_item.id == "abc300_a" and stdin_item.meta["testtype"] == "stdin"
    assert [t["output"] for t in stdin_item.tests] == ["7\n", "30\n", "0\n"]  # public + private
    assert "standard input" in stdin_item.question
    assert fn_item.id == "3000" and fn_item.meta["testtype"] == "functional" and fn_item.entry_point == "pairSum"
    assert "class Solution" in fn_item.question and len(fn_item.tests) == 3


def test_functional_solution_passes_and_wrong_one_fails(lcb_file):
    spec = get_benchmark("livecodebench", path=lcb_file)
    item = load_items(spec)[1]
    good = score_one(spec, item, answer(SOLUTION_GOOD))
    assert good.correct and good.by == "sandbox-functional", good.detail
    bad = score_one(spec, item, answer(SOLUTION_WRONG))
    assert not bad.correct and "wrong answer" in bad.detail


def test_stdin_solution_passes_and_wrong_one_fails(lcb_file):
    spec = get_benchmark("livecodebench", path=lcb_file)
    item = load_items(spec)[0]
    assert score_one(spec, item, answer(STDIN_GOOD)).correct
    assert not score_one(spec, item, answer(STDIN_WRONG)).correct


@pytest.mark.parametrize("trick, why", [
    ("import sys\nclass Solution:\n    def pairSum(self, nums, target):\n        sys.exit(0)\n", "SystemExit"),
    ("import os\nclass Solution:\n    def pairSum(self, nums, target):\n        os._exit(0)\n", "stopped"),
    ("class Same(list):\n    def __eq__(self, other): return True\n"
     "class Solution:\n    def pairSum(self, nums, target):\n        return Same()\n", "not JSON data"),
    ("class Solution:\n    def pairSum(self, nums, target):\n"
     "        print('0123456789abcdef0123456789abcdef\\t{\"value\": [0, 1]}')\n        return None\n", "wrong answer"),
])
def test_hostile_functional_solutions_fail(lcb_file, trick, why):
    spec = get_benchmark("livecodebench", path=lcb_file)
    result = score_one(spec, load_items(spec)[1], answer(trick))
    assert not result.correct and why in result.detail, result.detail


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])  # GLOBAL and STACK_GLOBAL opcodes
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, protocol):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    raw = base64.b64encode(zlib.compress(pickle.dumps(Payload(), protocol=protocol))).decode()
    path = write_jsonl(tmp_path / "lcb.jsonl", [stdin_row(), stdin_row("abc301_a", private_test_cases=raw)])
    with pytest.raises(RecordError) as err:
        load_items(get_benchmark("livecodebench", path=path))
    assert str(err.value).startswith(f"{path}:2") and "private_test_cases" in str(err.value)
    assert "pickle refused: it loads the global io.open" in str(err.value) and "nothing was run" in str(err.value)
    assert not marker.exists()
    # the payload is live: a general unpickler would have run it
    pickle.loads(zlib.decompress(base64.b64decode(raw))).close()
    assert marker.exists()


def test_garbage_private_tests_name_the_row(tmp_path):
    path = write_jsonl(tmp_path / "lcb.jsonl", [stdin_row(private_test_cases="not base64 !!")])
    with pytest.raises(RecordError, match=r":1: field 'private_test_cases' cannot decode"):
        load_items(get_benchmark("livecodebench", path=path))
    path = write_jsonl(tmp_path / "lcb.jsonl", [stdin_row(), stdin_row("abc2_a", question_content="")])
    with pytest.raises(RecordError, match=r":2: field 'question_content' missing or empty"):
        load_items(get_benchmark("livecodebench", path=path))
    row = functional_row()
    row["metadata"] = "{}"  # functional tests without a method name
    path = write_jsonl(tmp_path / "lcb.jsonl", [row])
    with pytest.raises(RecordError, match=r":1: field 'metadata' functional tests need metadata.func_name"):
        load_items(get_benchmark("livecodebench", path=path))


def test_validation_is_lazy_so_limit_runs_before_a_bad_row(tmp_path):
    rows = [stdin_row(), functional_row(), stdin_row("bad_1", public_test_cases="{oops")]
    path = write_jsonl(tmp_path / "lcb.jsonl", rows)
    spec = get_benchmark("livecodebench", path=path)
    assert [i.id for i in load_items(spec, limit=2)] == ["abc300_a", "3000"]
    assert [i.id for i in load_items(spec, slice_="0:1")] == ["abc300_a"]
    with pytest.raises(RecordError, match=r":3: field 'public_test_cases'"):
        load_items(spec)


def test_release_windows_match_lcb_readme():
    assert release_window("release_v1") == ("2023-05-01", "2024-03-31", 400)
    assert release_window("release_v2") == ("2023-05-01", "2024-05-31", 511)
    assert release_window("release_v6") == ("2023-05-01", "2025-04-30", 1055)
    assert release_window("v2") == ("2024-04-01", "2024-05-31", 111)  # what release_v2 added
    assert release_window("v5_v6") == ("2024-10-01", "2025-04-30", 342)


def test_release_and_dates_select_the_problem_window(tmp_path):
    rows = [stdin_row("p1", "2023-06-01T00:00:00"), stdin_row("p2", "2024-03-31T12:00:00"),
            stdin_row("p3", "2024-04-01T00:00:00"), stdin_row("p4", "2024-07-15T00:00:00")]
    path = write_jsonl(tmp_path / "lcb.jsonl", rows)

    def ids(**kw):
        with pytest.warns(UserWarning) if kw.get("release") else _nothing():
            return [i.id for i in load_items(get_benchmark("livecodebench", path=path, **kw))]

    assert ids(release="release_v1") == ["p1", "p2"]
    assert ids(release="release_v2") == ["p1", "p2", "p3"]
    assert ids(release="v2") == ["p3"]
    assert ids(date_from="2024-01-01", date_to="2024-04-30") == ["p2", "p3"]
    with pytest.raises(ConfigError, match="unknown LiveCodeBench release"):
        get_benchmark("livecodebench", path=path, release="v9")
    with pytest.raises(ConfigError, match="not a date"):
        get_benchmark("livecodebench", path=path, date_from="May 2024")


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_window_needs_contest_dates(tmp_path):
    path = write_jsonl(tmp_path / "lcb.jsonl", [{"id": "x", "question": "q", "tests": [{"input": "", "output": "1"}]}])
    with pytest.raises(RecordError, match=r":1: field 'contest_date' not an ISO date"):
        load_items(get_benchmark("livecodebench", path=path, date_from="2024-01-01"))


@pytest.mark.slow
def test_eval_cli_runs_lcb_rows_against_a_local_server(lcb_file, echo_server, tmp_path, monkeypatch):
    """`thoughtdistill eval -b livecodebench --benchmark-path lcb.jsonl` (a stdin and a
    functional row, compressed private tests) end to end against a real llm-katan echo
    server; the echo writes no program, so both score wrong, by the sandbox scorer."""
    from typer.testing import CliRunner

    from thoughtdistill.cli import app
    from thoughtdistill.pipeline.katan import LOCAL_KEY

    monkeypatch.setenv("KATAN_KEY", LOCAL_KEY)
    result = CliRunner().invoke(app, [
        "eval", "-m", echo_server.model, "--backend", "openai", "--base-url", echo_server.base_url,
        "--api-key-env", "KATAN_KEY", "-b", "livecodebench", "--benchmark-path", lcb_file,
        "--date-from", "2023-05-01", "--no-thinking", "--max-new-tokens", "64", "-o", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    run = json.loads(next(p for p in (tmp_path / "eval").glob("*.json") if ".meta" not in p.name).read_text())
    assert run["metrics"]["n_problems"] == 2 and run["benchmark"]["date_from"] == "2023-05-01"
    samples = [json.loads(x) for x in open(run["files"]["samples"])]
    assert [s["id"] for s in samples] == ["abc300_a", "3000"]
    assert all(s["correct"] is False for s in samples)
