"""EasyDistill's scored CoT output, one row per chain, in its published layouts.

Sources (github.com/modelscope/easydistill):
- ``easydistill/eval/data_eval.py`` (job ``cot_eval_api``, ``configs/cot_eval_api.json``; commit
  0165f28): a JSON array (indent 4) of ``{instruction, output, reasoning_verbosity,
  cognitive_difficulty, logical_correctness}``; the two levels are ints 0-9 read from
  ``<score>…</score>`` (None when the judge gave none), ``logical_correctness`` is a bool;
- ``easydistill/eval/base.py`` + ``docs/cot_distillation.md`` (EasyDistill 2.0, job ``cot_eval``):
  JSONL rows ``{id, instruction, output, reasoning_verbosity, cognitive_difficulty,
  logical_correctness}``.
The 800-row test uses the real questions and responses of ../shared/data/multi_chain.jsonl
with deterministic scores (RV = chain position + 1, CD = MATH level) and its real labels.
"""

from __future__ import annotations

import json

import orjson
import pytest

from thoughtdistill.errors import RecordError
from thoughtdistill.io import read_records
from thoughtdistill.io.convert import convert_file, detect_format
from thoughtdistill.select import SelectConfig, run_select

HYGIENE = {"near_dedup": False, "decontaminate": False}

COT_EVAL_API_ROWS = [  # cot_eval_api (data_eval.py): JSON array, no id
    {"instruction": "What is 17 * 23?",
     "output": "<|begin_of_thought|>17*23 = 17*20 + 17*3 = 340 + 51.<|end_of_thought|>"
               "<|begin_of_solution|>391<|end_of_solution|>",
     "reasoning_verbosity": 4, "cognitive_difficulty": 4, "logical_correctness": True},
    {"instruction": "What is 17 * 23?",
     "output": "<think>\n17*23 is about 400.\n</think>\n\n400",
     "reasoning_verbosity": 1, "cognitive_difficulty": 2, "logical_correctness": False},
    {"instruction": "Name a prime between 20 and 25.",
     "output": "<think>\n21=3*7, 22 even, 23 prime.\n</think>\n\n23",
     "reasoning_verbosity": None, "cognitive_difficulty": 3, "logical_correctness": True},
]


def _scored_multi_chain(data_dir) -> list[dict]:
    rows = [orjson.loads(line) for line in (data_dir / "multi_chain.jsonl").read_bytes().splitlines() if line.strip()]
    out = []
    for row in rows:
        level = int(str(row.get("level") or "Level 3").split()[-1])
        for i, chain in enumerate(row["chains"]):
            out.append({"instruction": row["question"], "output": chain["response"],
                        "reasoning_verbosity": i + 1, "cognitive_difficulty": level,
                        "logical_correctness": bool(chain["correct"])})
    return out


def test_cot_eval_api_json_array_scores_land_on_each_chain(tmp_path):
    path = tmp_path / "cot_output.json"
    path.write_text(json.dumps(COT_EVAL_API_ROWS, ensure_ascii=False, indent=4))
    assert detect_format(COT_EVAL_API_ROWS[0]).name == "easydistill"
    records = list(read_records(path))
    assert [len(r.reasoning) for r in records] == [2, 1]
    first, second = records[0].reasoning
    assert (first.Reasoning_Verbosity.level, first.Cognitive_Difficulty.level) == (4, 4)
    assert first.Reasoning_Verbosity.judge == first.Cognitive_Difficulty.judge == "easydistill"
    assert first.correctness.verdict is True and first.correctness.by == "easydistill"
    assert first.thought.startswith("17*23") and first.solution == "391"
    assert second.correctness.verdict is False and second.Reasoning_Verbosity.level == 1
    third = records[1].reasoning[0]
    assert third.Reasoning_Verbosity is None and third.Cognitive_Difficulty.level == 3  # judge gave no score


def test_eval_v2_jsonl_with_ids_round_trips(tmp_path):
    rows = [{"id": str(i), **row} for i, row in enumerate(COT_EVAL_API_ROWS)]
    src = tmp_path / "cot_eval_results.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    mid, back = tmp_path / "canonical.parquet", tmp_path / "back.jsonl"
    convert_file(src, mid)
    convert_file(mid, back, dst_format="easydistill")
    assert [json.loads(line) for line in back.read_text().splitlines()] == rows


def test_800_scored_rows_keep_every_chain_score_through_convert_and_select(tmp_path, data_dir):
    rows = _scored_multi_chain(data_dir)
    assert len(rows) == 800
    src = tmp_path / "cot_output.json"
    src.write_text(json.dumps(rows, ensure_ascii=False, indent=4))
    canonical = tmp_path / "canonical.jsonl"
    result = convert_file(src, canonical)
    assert (result.rows_out, result.bad) == (100, 0)
    records = list(read_records(canonical))
    chains = [c for r in records for c in r.reasoning]
    assert len(chains) == 800
    assert all(c.Reasoning_Verbosity and c.Cognitive_Difficulty and c.correctness for c in chains)
    assert [c.Reasoning_Verbosity.level for c in records[7].reasoning] == list(range(1, 9))
    assert sum(c.correctness.verdict for c in chains) == sum(r["logical_correctness"] for r in rows)

    # select reads the EasyDistill file itself too (format detected), with every score
    for inp in (canonical, src):
        out = tmp_path / f"sel-{inp.suffix[1:]}.jsonl"
        sel = run_select(SelectConfig(input=[inp], output=out, strategy="threshold", hygiene=HYGIENE,
                                      quality={"drop_language_mix": False},  # 3 real chains mix scripts
                                      figures=False))
        assert sel.chains_in == 800
        picked = [c for line in out.read_text().splitlines() for c in json.loads(line)["reasoning"]]
        expected = [r for r in rows if r["logical_correctness"] and 3 <= r["reasoning_verbosity"] <= 5
                    and r["cognitive_difficulty"] == 4]
        assert len(picked) == len(expected) > 0
        assert all(c["correctness"]["by"] == "easydistill" for c in picked)

    back = tmp_path / "back.json"
    convert_file(canonical, back, dst_format="easydistill")
    assert json.loads(back.read_text()) == rows  # EasyDistill's layout again, row for row


@pytest.mark.parametrize("field, value", [("reasoning_verbosity", 12), ("cognitive_difficulty", "high"),
                                          ("logical_correctness", "yes")])
def test_bad_score_names_file_line_and_field(tmp_path, field, value):
    rows = [dict(COT_EVAL_API_ROWS[0]), {**COT_EVAL_API_ROWS[2], field: value}]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(rows, indent=4))
    with pytest.raises(RecordError) as info:
        list(read_records(path))
    err = info.value
    assert (err.path, err.field) == (str(path), field) and err.line == 9
    assert "\n" not in str(err)
