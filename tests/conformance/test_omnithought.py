"""OmniThought rows in their published layouts (invented content, real field names and types).

Sources:
- https://huggingface.co/datasets/alibaba-pai/OmniThought (dataset card: one ``question`` row
  per problem, a ``reasoning`` list of chains, each with ``thought``, ``solution``,
  ``full_response``, ``teacher`` (DeepSeek-R1 / QwQ-32B), ``thought_correctness_verify``
  (bool), ``Reasoning_Verbosity`` and ``Cognitive_Difficulty`` ``{level 0-9, judge}``; one
  ``train`` split in Parquet shards);
- https://huggingface.co/datasets/alibaba-pai/OmniThought-0528 (the supplemental release, the
  same chain fields, teacher DeepSeek-R1-0528).
"""

from __future__ import annotations

import copy
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from thoughtdistill.cli import app
from thoughtdistill.io import read_records
from thoughtdistill.io.convert import convert_file
from thoughtdistill.io.stats import compute_stats
from thoughtdistill.select import SelectConfig, run_select


def _chain(teacher, thought, solution, correct, rv, cd, judge="QwQ-32B"):
    return {
        "Cognitive_Difficulty": {"judge": judge, "level": cd},
        "Reasoning_Verbosity": {"judge": judge, "level": rv},
        "full_response": f"<think>\n{thought}\n</think>\n\n{solution}",
        "solution": solution,
        "teacher": teacher,
        "thought": thought,
        "thought_correctness_verify": correct,
    }


# alibaba-pai/OmniThought-0528: chain 0 is correct with RV 4 / CD 4 (inside every strategy's
# default ranges), chain 1 is judged wrong.
ROW_0528 = {
    "question": "How many positive divisors does 3600 have?",
    "reasoning": [
        _chain("DeepSeek-R1-0528", "3600 = 2^4 * 3^2 * 5^2, so (4+1)(2+1)(2+1) divisors.",
               "It has $\\boxed{45}$ positive divisors.", True, 4, 4),
        _chain("DeepSeek-R1-0528", "Count them one by one... I get 40 after a long list.",
               "$\\boxed{40}$", False, 8, 7),
    ],
}
# alibaba-pai/OmniThought (first release): two teachers, both chains correct.
ROW_ORIGINAL = {
    "question": "Write a Python function that returns the n-th triangular number.",
    "reasoning": [
        _chain("QwQ-32B", "The n-th triangular number is n(n+1)/2.",
               "```python\ndef tri(n):\n    return n * (n + 1) // 2\n```", True, 4, 4),
        _chain("DeepSeek-R1", "Sum 1..n in a loop, or use the closed form.",
               "```python\ndef tri(n):\n    return sum(range(n + 1))\n```", True, 2, 1),
    ],
}
ROWS = [ROW_0528, ROW_ORIGINAL]
HYGIENE = {"near_dedup": False}


@pytest.fixture(params=["jsonl", "parquet"])
def published(request, tmp_path):
    """The rows as a JSONL file or as a hub-style Parquet shard (pyarrow-inferred schema)."""
    if request.param == "jsonl":
        path = tmp_path / "omnithought.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    else:
        path = tmp_path / "train-00000-of-00001.parquet"
        pq.write_table(pa.Table.from_pylist(copy.deepcopy(ROWS)), path)
    return path


def test_thought_correctness_verify_is_the_chain_verdict(published):
    records = list(read_records(published))
    first = records[0].reasoning
    assert [c.correctness.verdict for c in first] == [True, False]
    assert first[0].correctness.by == "omnithought"
    assert first[0].teacher == "DeepSeek-R1-0528"
    assert first[0].Reasoning_Verbosity.judge == "QwQ-32B" and first[0].Cognitive_Difficulty.level == 4
    assert first[0].thought.startswith("3600 =") and first[0].solution.endswith("divisors.")


def test_stats_counts_the_labels(published):
    stats = compute_stats(read_records(published))
    assert stats.correctness == {"correct": 3, "wrong": 1, "undecided": 0, "unjudged": 0}
    assert stats.teachers == {"DeepSeek-R1-0528": 2, "QwQ-32B": 1, "DeepSeek-R1": 1}
    assert stats.reasoning_verbosity["4"] == 2 and stats.cognitive_difficulty["4"] == 2


def test_stats_cli_says_correct_not_unjudged(published):
    result = CliRunner().invoke(app, ["stats", str(published), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["correctness"]["correct"] == 3


@pytest.mark.parametrize("strategy", ["threshold", "rv-cd-mix", "student-fit", "random"])
def test_every_strategy_selects_the_correct_chain(published, tmp_path, strategy):
    out = tmp_path / f"{strategy}.jsonl"
    result = run_select(SelectConfig(input=[published], output=out, strategy=strategy, hygiene=HYGIENE,
                                     figures=False))
    chosen = [json.loads(line) for line in out.read_text().splitlines()]
    by_question = {r["question"]: r["reasoning"] for r in chosen}
    assert result.chains_out >= 2
    picked = by_question[ROW_0528["question"]]
    assert [c["thought"] for c in picked] == [ROW_0528["reasoning"][0]["thought"]]
    assert picked[0]["thought_correctness_verify"] is True  # the published field rides along
    assert all(c["correctness"]["verdict"] for chains in by_question.values() for c in chains)


def test_correct_filter_matches_the_label(published, tmp_path):
    out = tmp_path / "f.jsonl"
    result = run_select(SelectConfig(input=[published], output=out, strategy="threshold",
                                     filters=["correct == false"], hygiene=HYGIENE, figures=False))
    assert result.chains_out == 0  # the wrong chain passes the filter, then threshold needs correct
    assert result.report["counts"]["chains_in"] == 4


@pytest.mark.parametrize("suffix", ["jsonl", "parquet", "json"])
def test_round_trip_gives_the_published_rows(tmp_path, suffix):
    src = tmp_path / "omni.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    mid = tmp_path / f"canonical.{suffix}"
    back = tmp_path / "back.jsonl"
    convert_file(src, mid)
    canonical = [r.dump() for r in read_records(mid)]
    assert canonical[0]["reasoning"][0]["correctness"] == {
        "verdict": True, "by": "omnithought", "detail": "thought_correctness_verify"}
    convert_file(mid, back, dst_format="omnithought")
    assert [json.loads(line) for line in back.read_text().splitlines()] == ROWS


def test_a_verifier_verdict_is_kept_beside_the_label(tmp_path):
    row = copy.deepcopy(ROW_0528)
    row["reasoning"][1]["correctness"] = {"verdict": True, "by": "math-verify"}
    src = tmp_path / "o.jsonl"
    src.write_text(json.dumps(row) + "\n")
    chain = list(read_records(src))[0].reasoning[1]
    assert chain.correctness.by == "math-verify" and chain.correctness.verdict is True
    back = tmp_path / "b.jsonl"
    convert_file(src, back, dst_format="omnithought")
    out = json.loads(back.read_text())["reasoning"][1]
    assert out["thought_correctness_verify"] is False and out["correctness"]["by"] == "math-verify"


def test_hub_layout_folder_through_hf_reference(tmp_path):
    """The hub's layout (a folder of train-*.parquet shards) read by the hf: code path
    (datasets.load_dataset streaming; no hub here, so a local folder)."""
    folder = tmp_path / "OmniThought-0528"
    (folder / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(copy.deepcopy(ROWS)), folder / "data" / "train-00000-of-00001.parquet")
    out = tmp_path / "sel.jsonl"
    result = run_select(SelectConfig(input=[f"hf:{folder}"], output=out, strategy="threshold",
                                     hygiene=HYGIENE, figures=False))
    assert result.questions_in == 2 and result.chains_out == 2
    stats = compute_stats(read_records(f"hf:{folder}:train"))
    assert stats.correctness["correct"] == 3
