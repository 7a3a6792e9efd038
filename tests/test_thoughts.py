"""Thought parsing on the real R1 / Qwen3 traces and on the edge cases teachers produce."""

from __future__ import annotations

import json

import pytest

from thoughtdistill.io.convert import chain_from_response, render_chain
from thoughtdistill.thoughts import join_thought, split_thought, thought_unclosed


@pytest.fixture(scope="module")
def traces(data_dir):
    return [json.loads(line) for line in (data_dir / "r1_traces.jsonl").read_text().splitlines()]


def test_real_traces_round_trip_through_think_tags(traces):
    assert len(traces) == 10
    for row in traces:
        rendered = join_thought(row["message_thinking"], row["message_content"])
        parsed = split_thought(rendered)
        assert parsed.has_thought and not parsed.truncated
        assert parsed.thought == row["message_thinking"].strip()
        assert parsed.solution == row["message_content"].strip()
        assert "\\boxed" in parsed.solution


def test_real_traces_missing_opening_tag(traces):
    # R1/Qwen3 templates put <think> in the prompt: the answer starts inside the thought.
    row = traces[5]
    parsed = split_thought(row["message_thinking"] + "\n</think>\n\n" + row["message_content"])
    assert parsed.thought == row["message_thinking"].strip()
    assert parsed.solution == row["message_content"].strip()
    assert not parsed.truncated


def test_real_traces_cut_mid_thought_is_truncated(traces):
    row = traces[1]
    cut = "<think>\n" + row["message_thinking"][: len(row["message_thinking"]) // 2]
    parsed = split_thought(cut)
    assert parsed.truncated and parsed.has_thought
    assert parsed.solution == ""
    assert row["message_thinking"].startswith(parsed.thought[:200])


def test_reasoning_content_field(traces):
    row = traces[0]
    parsed = split_thought(row["message_content"], reasoning_content=row["message_thinking"])
    assert parsed.thought == row["message_thinking"].strip()
    assert parsed.solution == row["message_content"].strip()
    assert not parsed.truncated


def test_reasoning_content_with_leaked_think_block():
    parsed = split_thought("<think>dup</think>\n\nThe answer is 4.", reasoning_content="real thought")
    assert parsed.thought == "real thought"
    assert parsed.solution == "The answer is 4."


def test_finish_reason_length_marks_truncated_even_when_closed():
    parsed = split_thought("<think>a</think>partial answ", finish_reason="length")
    assert parsed.truncated and parsed.solution == "partial answ"


def test_easydistill_begin_of_thought_tags():
    text = ("<|begin_of_thought|>\nlet me think\n<|end_of_thought|>\n\n"
            "<|begin_of_solution|>\nx = 2\n<|end_of_solution|>")
    parsed = split_thought(text)
    assert parsed.thought == "let me think"
    assert parsed.solution == "x = 2"
    assert not parsed.truncated
    cut = split_thought("<|begin_of_thought|>\nstill going")
    assert cut.truncated and cut.thought == "still going"


def test_no_thought_at_all():
    parsed = split_thought("Just the answer: 7")
    assert not parsed.has_thought and parsed.thought is None and parsed.solution == "Just the answer: 7"
    assert not parsed.truncated
    empty = split_thought(None)
    assert empty.solution == "" and not empty.has_thought


def test_empty_thought_block_qwen3_non_thinking():
    parsed = split_thought("<think>\n\n</think>\n\nHello")
    assert parsed.has_thought and parsed.thought == "" and parsed.solution == "Hello"


def test_join_is_qwen3_convention():
    assert join_thought(" a ", "b\n") == "<think>\na\n</think>\n\nb"


def test_chain_from_response_and_render():
    chain = chain_from_response("<think>t</think>s", finish_reason="stop", teacher="r1")
    assert chain == {"teacher": "r1", "thought": "t", "solution": "s", "full_response": "<think>t</think>s",
                     "finish_reason": "stop", "truncated": False}
    assert render_chain(chain) == "<think>\nt\n</think>\n\ns"
    torn = chain_from_response("<think>never ends")
    assert torn["truncated"] is True and torn["solution"] == ""
    # vendor finish reasons outside stop/length/error are kept, not rejected
    odd = chain_from_response("x", finish_reason="content_filter")
    assert "finish_reason" not in odd and odd["finish_reason_raw"] == "content_filter"


@pytest.mark.parametrize("text, unclosed", [
    ("<think>\nstill going", True),
    ("<|begin_of_thought|>EasyDistill tags, never closed", True),
    ("<think>a</think>b", False),
    ("starts inside the thought\n</think>\n\nanswer", False),
    ("no tags at all", False),
    ("", False),
    (None, False),
])
def test_thought_unclosed_agrees_with_split_thought(text, unclosed):
    assert thought_unclosed(text) is unclosed
    assert split_thought(text).truncated is unclosed
