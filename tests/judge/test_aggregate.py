"""Aggregation, agreement statistics and rubric rendering (no server)."""

from __future__ import annotations

import pytest

from thoughtdistill.errors import ConfigError
from thoughtdistill.judge import aggregate_levels, aggregate_verdicts, cohen_kappa, load_rubric, spearman
from thoughtdistill.judge.parse import parse_score

from .test_rubrics import EASYDISTILL_COPY


def test_aggregate_levels():
    assert aggregate_levels({}) is None
    one = aggregate_levels({"qwq": 5})
    assert one.judge == "qwq" and one.level == 5
    two = aggregate_levels({"b": 6, "a": 5})
    assert two.judge == "median(a,b)" and two.level == 6  # 5.5 rounds half up
    three = aggregate_levels({"a": 1, "b": 2, "c": 9}, "mean")
    assert three.judge == "mean(a,b,c)" and three.level == 4


def test_aggregate_verdicts():
    assert aggregate_verdicts({"a": True}).by == "judge:a"
    maj = aggregate_verdicts({"a": True, "b": True, "c": False})
    assert maj.verdict is True and maj.by == "majority(a,b,c)"
    assert aggregate_verdicts({"a": True, "b": False}).verdict is None


def test_agreement_statistics():
    assert cohen_kappa([True, False, True, False], [True, False, True, False]) == pytest.approx(1.0)
    assert cohen_kappa([True, True, False, False], [False, False, True, True]) == pytest.approx(-1.0)
    assert cohen_kappa([True, True], [True, True]) is None  # undefined, not a fake number
    rho, _ = spearman([1, 2, 3, 4, 5], [2, 3, 4, 5, 9])
    assert rho == pytest.approx(1.0)
    assert spearman([3, 3, 3], [1, 2, 3]) == (None, None)


def test_rubrics_render_and_never_contain_a_score():
    for preset, path in (("thoughtdistill", None), ("easydistill", EASYDISTILL_COPY)):
        rubric = load_rubric(preset, path)
        for metric in ("Reasoning_Verbosity", "Cognitive_Difficulty", "correctness"):
            text = rubric.render(metric, "Q {chain}?", "CHAIN TEXT", "42")
            assert "CHAIN TEXT" in text and "Q {chain}?" in text
            # an echoed prompt must not parse as a score by itself
            kind = "bool" if metric == "correctness" else "level"
            assert not parse_score(text, kind).ok, (preset, metric)
    assert "reference answer is known: 42" in load_rubric().render("correctness", "q", "c", "42")
    assert load_rubric("easydistill", EASYDISTILL_COPY).fingerprint != load_rubric().fingerprint
    with pytest.raises(ConfigError):
        load_rubric("nope")


def test_custom_rubric_file(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("Reasoning_Verbosity: 'Rate {chain} for {question}'\n")
    rubric = load_rubric("thoughtdistill", path)
    assert rubric.render("Reasoning_Verbosity", "Q", "C") == "Rate C for Q"
    assert rubric.name == "r"
    path.write_text("verbosity: 'x {chain}'\n")
    with pytest.raises(ConfigError):
        load_rubric("thoughtdistill", path)
