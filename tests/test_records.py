"""The canonical record on the real multi-chain file and the invariants stages rely on."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from thoughtdistill.io import load_questions
from thoughtdistill.records import Chain, Record, content_id


def test_multi_chain_records(data_dir):
    records = load_questions(data_dir / "multi_chain.jsonl")
    assert len(records) == 100
    assert all(len(r.reasoning) == 8 for r in records)
    verdicts = [c.correctness.verdict for r in records for c in r.reasoning]
    assert sum(verdicts) == 728 and len(verdicts) == 800
    first = records[0]
    assert first.id == "math-cot100-0" and first.answer == "420" and first.domain == "math"
    assert first.meta["level"] == "Level 3" and "system" in first.meta
    chain = first.reasoning[0]
    assert chain.correctness.by == "dataset-label"
    assert chain.full_response and chain.text == chain.full_response
    assert chain.dump()["pred"] == "420"  # unknown chain field kept


def test_content_id_stable_and_normalised():
    assert content_id("  Caf\u00e9 ") == content_id("Cafe\u0301")
    r = Record(question="What is 2+2?")
    assert r.id == content_id("What is 2+2?") and len(r.id) == 16
    assert r.dump()["id"] == r.id


def test_numeric_answers_become_text():
    assert Record(question="q", answer=70).answer == "70"
    with pytest.raises(ValidationError):
        Record(question="q", answer=True)


def test_levels_are_bounded():
    base = {"full_response": "x"}
    Chain.model_validate({**base, "Cognitive_Difficulty": {"judge": "j", "level": 9}})
    for bad in (-1, 10):
        with pytest.raises(ValidationError):
            Chain.model_validate({**base, "Reasoning_Verbosity": {"judge": "j", "level": bad}})


def test_chain_needs_text_unless_error():
    with pytest.raises(ValidationError):
        Chain.model_validate({"teacher": "t"})
    Chain.model_validate({"finish_reason": "error", "error": "timeout"})


def test_unknown_fields_round_trip():
    row = {"question": "q", "x_extra": {"a": [1, 2]}, "reasoning": [
        {"full_response": "r", "Cognitive_Difficulty": {"judge": "QwQ-32B", "level": 3, "why": "z"}, "k": None}]}
    dumped = Record.model_validate(row).dump()
    assert dumped["x_extra"] == {"a": [1, 2]}
    assert dumped["reasoning"][0] == row["reasoning"][0]


def test_omnithought_label_is_the_verdict_with_provenance():
    base = {"thought": "t", "solution": "s", "teacher": "DeepSeek-R1-0528"}
    chain = Chain.model_validate({**base, "thought_correctness_verify": False})
    assert (chain.correctness.verdict, chain.correctness.by) == (False, "omnithought")
    assert chain.dump()["thought_correctness_verify"] is False  # the published field stays
    judged = Chain.model_validate({**base, "thought_correctness_verify": False,
                                   "correctness": {"verdict": True, "by": "math-verify"}})
    assert judged.correctness.by == "math-verify"  # a verdict already there wins
    for not_a_label in (None, "true", 1):
        assert Chain.model_validate({**base, "thought_correctness_verify": not_a_label}).correctness is None
