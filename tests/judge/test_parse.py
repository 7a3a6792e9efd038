"""Every parse path of a judge reply, and the refusals (never a guessed number)."""

from __future__ import annotations

import pytest

from thoughtdistill.judge.parse import parse_score


@pytest.mark.parametrize(
    "reply, value, how",
    [
        ("Analysis... <score>7</score>", 7, "tag"),
        ("<score> 3 </score> then later <score>5</score>", 5, "tag"),
        ("format: <score>N</score>. Mine: <score>4</score>", 4, "tag"),
        ("Use <score>N</score> format. <score>2.0</score>", 2, "tag"),
        ('{"score": 6, "reason": "long"}', 6, "json"),
        ('```json\n{"level": "8"}\n```', 8, "json"),
        ("Score: 5", 5, "label"),
        ("I'd give it a rating = 3 overall.", 3, "label"),
        ("**Score**: 9", 9, "label"),
        ("Overall 6/9 for verbosity.", 6, "label"),
        ("That is 4 out of 9.", 4, "label"),
        ("7", 7, "bare"),
        ("7.", 7, "bare"),
        ("<think>maybe <score>2</score></think><score>8</score>", 8, "tag"),
    ],
)
def test_level_paths(reply, value, how):
    parsed = parse_score(reply, "level")
    assert parsed.ok and parsed.value == value and parsed.how == how


@pytest.mark.parametrize(
    "reply",
    [
        "",
        None,
        "The chain has 12 steps and uses 3 methods, overall fairly verbose.",  # numbers, no score
        "<score>12</score>",  # out of range
        "<score>7.5</score>",  # not an integer level
        "Score: high",
        "42",
        "<think>I think <score>3</score>",  # never finished thinking
        "[echo] model=x max_tokens=512 temperature=0.0\nUser: give <score>N</score> from 0 to 9",
    ],
)
def test_level_unparsable(reply):
    assert not parse_score(reply, "level").ok


@pytest.mark.parametrize(
    "reply, verdict",
    [
        ("<score>1</score>", True),
        ("<score>0</score>", False),
        ("<score>correct</score>", True),
        ('{"correct": false}', False),
        ('{"verdict": "incorrect"}', False),
        ("Verdict: yes", True),
        ("1", True),
        ("no", False),
    ],
)
def test_correctness_paths(reply, verdict):
    parsed = parse_score(reply, "bool")
    assert parsed.ok and parsed.value is verdict


def test_correctness_refuses_levels():
    assert not parse_score("<score>7</score>", "bool").ok
    assert not parse_score("The answer seems plausible.", "bool").ok
