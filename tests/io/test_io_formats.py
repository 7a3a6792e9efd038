"""Containers (JSONL, .gz, JSON array, Parquet, datasets folder) and format converters."""

from __future__ import annotations

import copy
import json

import pyarrow.parquet as pq
import pytest

from thoughtdistill.io import load_questions, read_records, write_records
from thoughtdistill.io.convert import FORMATS, convert_file, detect_format, export_rows, merge_consecutive
from thoughtdistill.io.parquet import ParquetWriter, is_canonical_parquet
from thoughtdistill.records import Record

# Hand-built in the published layout of alibaba-pai/OmniThought and alibaba-pai/OmniThought-0528
# (dataset cards on huggingface.co): every chain carries thought, solution, full_response, teacher,
# thought_correctness_verify, Reasoning_Verbosity{judge, level}, Cognitive_Difficulty{judge, level}.
# (tests/conformance/test_omnithought.py holds the conformance cases.)
OMNITHOUGHT_ROWS = [
    {
        "question": "Find the sum of all integer bases $b>9$ for which $17_b$ divides $97_b$.",
        "reasoning": [
            {
                "Cognitive_Difficulty": {"judge": "QwQ-32B", "level": 6},
                "Reasoning_Verbosity": {"judge": "QwQ-32B", "level": 5},
                "full_response": "<think>\nb+7 divides 9b+7 ...\n</think>\n\nThe sum is $\\boxed{70}$.",
                "solution": "The sum is $\\boxed{70}$.",
                "teacher": "QwQ-32B",
                "thought": "b+7 divides 9b+7 ...",
                "thought_correctness_verify": True,
            },
            {
                "Cognitive_Difficulty": {"judge": "QwQ-32B", "level": 4},
                "Reasoning_Verbosity": {"judge": "QwQ-32B", "level": 2},
                "full_response": "<think>\nshort\n</think>\n\n70",
                "solution": "70",
                "teacher": "DeepSeek-R1",
                "thought": "short",
                "thought_correctness_verify": False,
            },
        ],
    },
    {
        "question": "Write a function that reverses a string.",
        "reasoning": [
            {
                "Cognitive_Difficulty": {"judge": "QwQ-32B", "level": 1},
                "Reasoning_Verbosity": {"judge": "QwQ-32B", "level": 0},
                "full_response": "<think>\nOkay, reversing...\n</think>\n\n```python\ndef rev(s):\n    return s[::-1]\n```",
                "solution": "```python\ndef rev(s):\n    return s[::-1]\n```",
                "teacher": "DeepSeek-R1-0528",
                "thought": "Okay, reversing...",
                "thought_correctness_verify": True,
            },
        ],
    },
]
# Not a published layout: chains that only carry full_response (another tool's export),
# which --split-thoughts fills in.
FULL_RESPONSE_ONLY = {
    "question": "Write a function that reverses a string.",
    "reasoning": [
        {"full_response": "Okay, reversing...\n</think>\n\n```python\ndef rev(s):\n    return s[::-1]\n```",
         "teacher": "some-model"},
        {"full_response": "<think>\nI keep thinking and never stop", "teacher": "some-model"},
    ],
}

CONTAINERS = ["jsonl", "jsonl.gz", "json", "parquet"]


def _awkward_record() -> dict:
    """Everything the Parquet layout must keep: explicit nulls, unknown fields at every
    level, sub-objects with extra keys, undecided verdicts, big ints, odd key order."""
    return {
        "question": "q\u00e9 \U0001F600", "id": "x1", "answer": "4", "domain": "math", "source": "s",
        "meta": {"nested": {"a": [1, 2.5, None]}, "flag": True},
        "custom_top": [1, {"b": 2}],
        "reasoning": [
            {"thought": "t", "solution": "s", "teacher": "r1", "finish_reason": "length", "truncated": True,
             "usage": {"prompt_tokens": 3, "completion_tokens": 2**40},
             "Cognitive_Difficulty": {"judge": "j", "level": 0},
             "Reasoning_Verbosity": {"judge": None, "level": 9},
             "correctness": {"verdict": None, "by": "math-verify", "detail": "no answer"},
             "judgments": [{"judge": "j", "metric": "correctness", "verdict": True, "raw": "yes"}],
             "pred": "4", "score": [0.1, 0.9]},
            {"full_response": "only", "usage": {"prompt_tokens": 1, "cached": 5},
             "Cognitive_Difficulty": {"judge": "j", "level": 3, "rationale": "because"},
             "correctness": {"verdict": False, "by": "judge"}},
            {"finish_reason": "error", "error": "timeout", "teacher": None},
        ],
    }


@pytest.mark.parametrize("suffix", CONTAINERS + ["hf"])
def test_omnithought_both_variants_round_trip(tmp_path, suffix):
    src = tmp_path / "omni.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in OMNITHOUGHT_ROWS))
    mid = tmp_path / f"canonical.{suffix}"
    back = tmp_path / "omni_back.jsonl"
    convert_file(src, mid, src_format="omnithought")
    convert_file(mid, back, dst_format="omnithought-0528")
    rows = [json.loads(line) for line in back.read_text().splitlines()]
    assert rows == OMNITHOUGHT_ROWS  # not one field lost, none added


def test_split_fills_full_response_only_chains(tmp_path):
    src = tmp_path / "omni.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [OMNITHOUGHT_ROWS[0], FULL_RESPONSE_ONLY]))
    records = list(read_records(src, "omnithought", split=True))
    chains = records[1].reasoning
    assert chains[0].thought == "Okay, reversing..." and chains[0].solution.startswith("```python")
    assert chains[0].truncated is False
    assert chains[1].truncated is True and chains[1].solution == ""
    # chains that already had parts are left alone (their label read as the verdict)
    assert records[0].reasoning[0].dump() == {**OMNITHOUGHT_ROWS[0]["reasoning"][0], "correctness": {
        "verdict": True, "by": "omnithought", "detail": "thought_correctness_verify"}}


@pytest.mark.parametrize("suffix", CONTAINERS + ["hf"])
def test_every_field_round_trips_through_every_container(tmp_path, suffix):
    original = Record.model_validate(copy.deepcopy(_awkward_record()))
    path = tmp_path / f"r.{suffix}"
    write_records(path, [original, Record(question="no chains here")])
    back = list(read_records(path))
    assert back[0].dump() == original.dump() == _awkward_record()
    assert back[1].dump() == {"question": "no chains here", "id": back[1].id, "reasoning": []} or \
        back[1].dump() == Record(question="no chains here").dump()
    assert list(back[0].dump()) == list(original.dump())  # key order too
    assert list(back[0].reasoning[0].dump()) == list(original.reasoning[0].dump())


def test_parquet_layout_typed_columns_and_row_groups(tmp_path):
    path = tmp_path / "r.parquet"
    records = load_questions(_shared("multi_chain.jsonl"))
    with ParquetWriter(path, rows_per_group=16) as writer:
        writer.write_all(records)
    assert is_canonical_parquet(path)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == 100 and meta.num_row_groups == 7  # streamed in groups of 16
    table = pq.read_table(path, columns=["id", "reasoning"])
    chain = table.column("reasoning")[0][0].as_py()
    assert chain["correct_verdict"] is True and chain["correct_by"] == "dataset-label"
    assert json.loads(chain["extra"])["pred"] == "420"
    assert [r.dump() for r in read_records(path)] == [r.dump() for r in records]


def test_foreign_parquet_is_read_as_rows(tmp_path):
    # An HF-style export: list<struct> fills missing keys with null; nulls mean "absent".
    import pyarrow as pa

    table = pa.Table.from_pylist(OMNITHOUGHT_ROWS)
    path = tmp_path / "omni.parquet"
    pq.write_table(table, path)
    assert not is_canonical_parquet(path)
    records = list(read_records(path, "omnithought"))
    assert [r.reasoning[0].correctness.verdict for r in records] == [True, True]
    assert list(export_rows(records, "omnithought")) == OMNITHOUGHT_ROWS


def test_hf_dataset_folder_loads_with_datasets(tmp_path):
    import datasets

    records = load_questions(_shared("r1_traces.jsonl"))
    out = tmp_path / "ds"
    write_records(out, records)
    ds = datasets.load_from_disk(str(out))
    assert len(ds) == 10 and set(ds.column_names) >= {"id", "question", "reasoning"}
    # a plain (foreign) datasets folder: messages rows saved by datasets itself
    rows = list(export_rows(records, "messages"))
    plain = tmp_path / "plain_ds"
    datasets.Dataset.from_list(rows).save_to_disk(str(plain))
    back = list(read_records(plain, "messages"))
    assert [r.reasoning[0].thought for r in back] == [r.reasoning[0].thought for r in records]


@pytest.mark.parametrize("fmt", ["easydistill", "alpaca", "sharegpt", "messages", "responses"])
@pytest.mark.parametrize("suffix", ["jsonl", "json", "parquet"])
def test_per_chain_formats_round_trip_thought_and_solution(tmp_path, fmt, suffix):
    records = load_questions(_shared("r1_traces.jsonl"))
    records = list(merge_consecutive(records))
    out = tmp_path / f"{fmt}.{suffix}"
    result = convert_file(_shared("r1_traces.jsonl"), out, dst_format=fmt)
    assert result.rows_out == 10
    back = list(read_records(out, fmt))
    assert [r.question for r in back] == [r.question for r in records]
    for a, b in zip(records, back):
        assert [(c.thought, c.solution) for c in a.reasoning] == [(c.thought, c.solution) for c in b.reasoning]
    assert detect_format(_first_row(out)).name == (fmt if fmt != "easydistill" else "easydistill")


def test_messages_are_qwen3_convention(tmp_path):
    rows = list(export_rows(load_questions(_shared("r1_traces.jsonl")), "messages"))
    assistant = rows[0]["messages"][-1]["content"]
    assert assistant.startswith("<think>\n") and "\n</think>\n\n" in assistant
    assert [m["role"] for m in rows[0]["messages"]] == ["user", "assistant"]


def test_per_chain_rows_of_one_question_merge_back(tmp_path):
    records = load_questions(_shared("multi_chain.jsonl"))[:3]
    out = tmp_path / "a.jsonl"
    write_records(out, export_rows(records, "alpaca"))
    assert len(out.read_text().splitlines()) == 24
    back = list(read_records(out, "alpaca"))
    assert len(back) == 3 and all(len(r.reasoning) == 8 for r in back)
    assert [c.full_response for c in back[0].reasoning] == [c.full_response for c in records[0].reasoning]


def test_easydistill_json_array(tmp_path):
    path = tmp_path / "ed.json"
    path.write_text(json.dumps([
        {"instruction": "What is 1+1?", "output": "<think>\none plus one\n</think>\n\n2"},
        {"instruction": "Capital of France?", "output": "Paris"},
    ], indent=2))
    records = load_questions(path)
    assert [r.question for r in records] == ["What is 1+1?", "Capital of France?"]
    assert records[0].reasoning[0].thought == "one plus one" and records[0].reasoning[0].solution == "2"
    assert records[1].reasoning[0].thought is None and records[1].reasoning[0].solution == "Paris"


def test_sharegpt_system_and_messages_reasoning_content():
    sg = FORMATS["sharegpt"].read({"conversations": [
        {"from": "system", "value": "be brief"}, {"from": "human", "value": "hi"},
        {"from": "gpt", "value": "<think>x</think>hello"}]})
    rec = Record.model_validate(sg)
    assert rec.meta == {"system": "be brief"} and rec.reasoning[0].solution == "hello"
    rows = list(export_rows([rec], "sharegpt"))
    assert rows[0]["conversations"][0] == {"from": "system", "value": "be brief"}
    msg = FORMATS["messages"].read({"messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello", "reasoning_content": "greet back"}], "model": "qwq"})
    chain = Record.model_validate(msg).reasoning[0]
    assert (chain.thought, chain.solution, chain.teacher) == ("greet back", "hello", "qwq")


@pytest.mark.parametrize("name,count,domain", [
    ("math500.jsonl", 500, "math"), ("aime24.jsonl", 30, "math"), ("aime25.jsonl", 30, "math"),
    ("gsm8k_test.jsonl", 1319, "math"), ("humaneval.jsonl", 164, "code"), ("code_tests.jsonl", 60, "code"),
])
def test_shared_question_files(name, count, domain):
    records = load_questions(_shared(name))
    assert len(records) == count and all(r.domain == domain for r in records)
    assert len({r.id for r in records}) == count
    if name.startswith(("math500", "aime", "gsm8k")):
        assert all(r.answer for r in records)
    if name == "gsm8k_test.jsonl":
        assert records[0].answer == "18" and "####" in records[0].meta["solution"]
    if name == "humaneval.jsonl":
        assert records[0].meta["entry_point"] == "has_close_elements" and "check" in records[0].meta["test"]
    if name == "code_tests.jsonl":
        assert records[0].meta["tests"][0]["input"]


def test_r1_traces_become_chains():
    records = load_questions(_shared("r1_traces.jsonl"))
    chain = records[0].reasoning[0]
    assert chain.teacher == "deepseek/deepseek-r1" and chain.thought and "\\boxed{0}" in chain.solution
    assert records[0].answer == "0"
    assert {r.reasoning[0].teacher for r in records} == {"deepseek/deepseek-r1", "qwen3:30b-thinking"}


def test_format_detection():
    for name, fmt in [("multi_chain.jsonl", "multi_chain"), ("r1_traces.jsonl", "r1_traces"),
                      ("math500.jsonl", "math500"), ("aime25.jsonl", "aime"), ("gsm8k_test.jsonl", "gsm8k"),
                      ("humaneval.jsonl", "humaneval"), ("code_tests.jsonl", "code_tests")]:
        assert detect_format(_first_row(_shared(name))).name == fmt
    assert detect_format(OMNITHOUGHT_ROWS[0]).name == "canonical"


def _shared(name):
    from shared_data import shared_file

    return shared_file(name)


def _first_row(path):
    from thoughtdistill.io import iter_rows

    return next(p for _, _, p in iter_rows(path))
