"""Preflight shows each supervised / context span decoded as a whole: characters that
byte-level BPE splits over several tokens are not garbled (was '���x���' for '⌈x⌉')."""

from __future__ import annotations

from transformers import AutoTokenizer

from thoughtdistill.train.preflight import highlighted_spans
from thoughtdistill.train.render import Example


def test_multibyte_characters_survive_highlighting(smollm2_path):
    tok = AutoTokenizer.from_pretrained(smollm2_path)
    prompt = tok("Round up: ⌈x⌉ — 数学 ", add_special_tokens=False)["input_ids"]
    answer = tok("so ⌈2.5⌉ = 3 ✓", add_special_tokens=False)["input_ids"]
    assert any("\ufffd" in tok.decode([t]) for t in prompt + answer)  # token by token: garbled
    ex = Example("s", prompt + answer, [-100] * len(prompt) + answer, 0)
    spans = highlighted_spans(tok, ex)
    assert [sup for _, sup in spans] == [False, True]
    assert spans[0][0] == "Round up: ⌈x⌉ — 数学 " and spans[1][0] == "so ⌈2.5⌉ = 3 ✓"
    assert all("\ufffd" not in text for text, _ in spans)
