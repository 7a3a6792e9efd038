"""A corpus of malformed inputs: each gives one clear error naming file, line and field, or
goes to quarantine, and no valid record around it is lost."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from thoughtdistill.errors import RecordError
from thoughtdistill.io import ReadStats, read_records

VALID = [
    {"id": "v1", "question": "What is 1+1?", "reasoning": [{"thought": "add", "solution": "2"}]},
    {"id": "v2", "question": "What is 2+2?", "reasoning": [
        {"full_response": "<think>x</think>4", "Cognitive_Difficulty": {"judge": "j", "level": 9}}]},
    {"id": "v3", "question": "What is 3+3?", "reasoning": [{"solution": "6"}]},
]
BIG = 50 * 1024 * 1024


def chain(**kw):
    return {"id": "bad", "question": "q", "reasoning": [{"solution": "s", **kw}]}


@dataclass
class Case:
    name: str
    bad: bytes
    line: int | None
    field: str | None
    says: str
    fmt: str = "canonical"
    kwargs: dict = field(default_factory=dict)
    at_end: bool = False
    valid: list = field(default_factory=lambda: VALID)


def j(obj) -> bytes:
    return json.dumps(obj).encode()


MC = {"question": "q", "answer": "1", "chains": [{"response": "r", "pred": "1", "correct": True}]}
CASES = [
    Case("bad_json", b'{"question": "x",,}', 3, None, "invalid JSON"),
    Case("json_array_line", b"[1, 2]", 3, None, "expected a JSON object, got list"),
    Case("json_string_line", b'"just text"', 3, None, "expected a JSON object, got str"),
    Case("missing_question", j({"id": "m", "answer": "1"}), 3, "question", "Field required"),
    Case("blank_question", j({"question": "   "}), 3, "question", "blank"),
    Case("question_not_text", j({"question": 5}), 3, "question", "string"),
    Case("reasoning_not_list", j({"question": "q", "reasoning": "text"}), 3, "reasoning", "list"),
    Case("empty_reasoning_when_required", j({"question": "q", "reasoning": []}), 3, "reasoning", "no chains",
         kwargs={"require_chains": True}),
    Case("level_above_9", j(chain(Cognitive_Difficulty={"judge": "j", "level": 10})), 3,
         "reasoning.0.Cognitive_Difficulty.level", "less than or equal to 9"),
    Case("level_below_0", j(chain(Reasoning_Verbosity={"judge": "j", "level": -1})), 3,
         "reasoning.0.Reasoning_Verbosity.level", "greater than or equal to 0"),
    Case("level_not_int", j(chain(Reasoning_Verbosity={"judge": "j", "level": "high"})), 3,
         "reasoning.0.Reasoning_Verbosity.level", "integer"),
    Case("chain_without_text", j({"question": "q", "reasoning": [{"teacher": "t"}]}), 3, "reasoning.0",
         "needs full_response, thought or solution"),
    Case("bad_finish_reason", j(chain(finish_reason="timeout")), 3, "reasoning.0.finish_reason", "'stop'"),
    Case("negative_usage", j(chain(usage={"prompt_tokens": -3})), 3, "reasoning.0.usage.prompt_tokens",
         "greater than or equal to 0"),
    Case("correctness_without_by", j(chain(correctness={"verdict": True})), 3, "reasoning.0.correctness.by",
         "Field required"),
    Case("answer_boolean", j({"question": "q", "answer": True}), 3, "answer", "boolean"),
    Case("meta_not_object", j({"question": "q", "meta": [1]}), 3, "meta", "dictionary"),
    Case("id_not_text", j({"id": 7, "question": "q"}), 3, "id", "string"),
    Case("non_utf8_bytes", b'{"question": "caf\xe9"}', 3, None, "not UTF-8"),
    Case("duplicate_id", j({"id": "v1", "question": "again"}), 3, "id", "duplicate id 'v1' (first at line 1)",
         kwargs={"unique_ids": True}),
    Case("torn_last_line", b'{"id": "t", "question": "cut off mid-wr', 4, None, "torn last line", at_end=True),
    Case("huge_single_line_unclosed", b'{"question": "' + b"a" * BIG, 3, None, "invalid JSON"),
    Case("multi_chain_label_not_bool",
         j({**MC, "chains": [{"response": "r", "pred": "1", "correct": "yes"}]}), 3, "chains.0.correct",
         "true/false", fmt="multi_chain", valid=[MC, MC, MC]),
    Case("alpaca_missing_output", j({"instruction": "i", "input": ""}), 3, "output", "missing", fmt="alpaca",
         valid=[{"instruction": f"i{k}", "input": "", "output": "o"} for k in range(3)]),
    Case("messages_no_assistant", j({"messages": [{"role": "user", "content": "hi"}]}), 3, "messages",
         "no assistant turn", fmt="messages",
         valid=[{"messages": [{"role": "user", "content": f"q{k}"}, {"role": "assistant", "content": "a"}]}
                for k in range(3)]),
]


def write_case(tmp_path, case: Case):
    lines = [j(v) for v in case.valid]
    body = lines[:2] + ([] if case.at_end else [case.bad]) + lines[2:]
    path = tmp_path / f"{case.name}.jsonl"
    data = b"\n".join(body) + b"\n"
    if case.at_end:
        data += case.bad  # no newline: a crash mid-write
    path.write_bytes(data)
    return path


def test_corpus_is_big_enough():
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_raise_names_file_line_field(tmp_path, case):
    path = write_case(tmp_path, case)
    with pytest.raises(RecordError) as info:
        list(read_records(path, case.fmt, **case.kwargs))
    err = info.value
    msg = str(err)
    assert err.line == case.line and err.field == case.field, msg
    assert msg.startswith(f"{path}:{case.line}:"), msg
    if case.field:
        assert f"field '{case.field}'" in msg
    assert case.says in msg
    assert "\n" not in msg and len(msg) < 400  # one line, never the 50 MB payload


@pytest.mark.parametrize("mode", ["quarantine", "skip"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_row_set_aside_valid_rows_kept(tmp_path, case, mode):
    path = write_case(tmp_path, case)
    qpath = tmp_path / "q" / "bad.jsonl"
    stats = ReadStats()
    records = list(read_records(path, case.fmt, on_error=mode, quarantine=qpath, stats=stats, **case.kwargs))
    expected = [r.dump() for r in read_records(_valid_only(tmp_path, case), case.fmt)]
    assert [r.dump() for r in records] == expected and len(records) == 3  # no valid record lost
    assert stats.read == 3 and stats.bad == 1
    if mode == "skip":
        assert not qpath.exists()
        return
    entries = [orjson.loads(x) for x in qpath.read_bytes().splitlines()]
    assert len(entries) == 1
    entry = entries[0]
    assert (entry["file"], entry["line"], entry["field"]) == (str(path), case.line, case.field)
    assert case.says in entry["error"]
    assert entry["raw"].encode("utf-8", "backslashreplace").rstrip(b"\n")[:50] == \
        case.bad.decode("utf-8", "backslashreplace").encode("utf-8", "backslashreplace")[:50]


def _valid_only(tmp_path, case):
    path = tmp_path / "valid_only.jsonl"
    path.write_bytes(b"".join(j(v) + b"\n" for v in case.valid))
    return path


def test_default_quarantine_path_beside_input(tmp_path):
    path = write_case(tmp_path, CASES[0])
    list(read_records(path, on_error="quarantine"))
    assert (tmp_path / "bad_json.jsonl.quarantine.jsonl").exists()


def test_valid_50mb_line_comes_through(tmp_path):
    big = {"id": "big", "question": "long", "reasoning": [{"thought": "x" * BIG, "solution": "y"}]}
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"".join(j(v) + b"\n" for v in [VALID[0], big, VALID[1]]))
    records = list(read_records(path))
    assert [r.id for r in records] == ["v1", "big", "v2"]
    assert len(records[1].reasoning[0].thought) == BIG


def test_json_array_item_located_by_line(tmp_path):
    path = tmp_path / "items.json"
    items = [json.dumps(VALID[0]), json.dumps({"question": "q", "answer": True}, indent=2), json.dumps(VALID[1])]
    path.write_text("[\n" + ",\n".join(items) + "\n]\n")
    with pytest.raises(RecordError) as info:
        list(read_records(path))
    assert info.value.line == 3 and info.value.field == "answer"
    got = list(read_records(path, on_error="skip"))
    assert [r.id for r in got] == ["v1", "v2"]


def test_json_array_cut_off(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text("[\n" + json.dumps(VALID[0]) + ",\n" + json.dumps(VALID[1])[:-10])
    seen = []
    with pytest.raises(RecordError) as info:
        for record in read_records(path):
            seen.append(record.id)
    assert seen == ["v1"] and info.value.line == 3 and "invalid JSON" in str(info.value)


def test_parquet_bad_row_located_by_row_number(tmp_path):
    rows = [VALID[0], {"question": "q", "reasoning": [{"solution": "s", "Cognitive_Difficulty":
                                                        {"judge": "j", "level": 12}}]}, VALID[2]]
    path = tmp_path / "foreign.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    with pytest.raises(RecordError) as info:
        list(read_records(path))
    assert info.value.line == 2 and info.value.field == "reasoning.0.Cognitive_Difficulty.level"
    assert [r.id for r in read_records(path, on_error="skip")] == ["v1", "v3"]


def test_gz_is_read_and_located(tmp_path):
    import gzip

    path = tmp_path / "x.jsonl.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(j(VALID[0]) + b"\n" + j({"question": ""}) + b"\n")
    with pytest.raises(RecordError, match=r"x.jsonl.gz:2: field 'question'"):
        list(read_records(path))


def test_cut_off_gz_is_a_located_error_after_the_valid_lines(tmp_path):
    import gzip

    whole = gzip.compress(b"".join(j({"id": f"g{i}", "question": f"q{i}" * 50}) + b"\n" for i in range(2000)))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    seen = []
    with pytest.raises(RecordError, match="compressed stream unreadable") as info:
        for record in read_records(path):
            seen.append(record.id)
    assert seen and seen == [f"g{i}" for i in range(len(seen))]
    assert info.value.line is not None and info.value.line > len(seen)
