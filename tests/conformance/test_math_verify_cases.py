"""Math answers the way math-verify itself reads them: several boxes stating one answer are
combined, an answer phrase is reduced to its value.

Source: github.com/huggingface/Math-Verify @ 5d148cf, its regression tests
``tests/test_open_thoughts.py`` (boxes joined by ``\\quad \\text{and} \\quad`` / commas /
"and" compared with the set of all of them), ``tests/test_numina_cases.py`` (``\\[ … \\]``
displays of comma-separated boxes) and ``tests/test_all.py`` ("Final Answer: The largest $n$
is 34." equals 34). The cases below are written for this project in those shapes, the three
from issue 14 included; each is checked twice: against the scorer
(:func:`thoughtdistill.verify.math.score_math`, what ``eval`` and ``verify`` use) and against
math-verify's own ``parse``/``verify`` on the same strings, so the scorer stays in step with
the library it follows.
"""

from __future__ import annotations

import pytest
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

from thoughtdistill.evaluate.benchmarks import EvalItem, get_benchmark
from thoughtdistill.evaluate.scoring import score_many
from thoughtdistill.verify.math import score_math

CASES = [  # (gold, response, correct)
    # issue 14, as reported
    ("1,2", r"The solutions are $\boxed{1}$ and $\boxed{2}$.", True),
    (r"$(2, 2), (6, 2)$", r"$$\boxed{(2, 2)} \quad \text{and} \quad \boxed{(6, 2)}$$", True),
    ("34", r"Final Answer: The largest $n$ is 34.", True),
    # the same shapes, other values
    ("-3, 5", r"So $x = \boxed{-3}$ or $x = \boxed{5}$.", True),
    (r"$(1, 4), (4, 1)$", "the pairs are:\n\\[\n\\boxed{(1, 4)}, \\boxed{(4, 1)}\n\\]", True),
    ("2, 3, 5", r"$$\boxed{2}, \boxed{3}, \boxed{5}$$", True),
    (r"$\frac{1}{2}, 3$", r"Both work: \(\boxed{\frac{1}{2}}\) and \(\boxed{3}\).", True),
    ("17", r"Final Answer: The smallest such $k$ is 17.", True),
    ("12", "Final Answer: the number of ways is 12. I hope it is correct.", True),
    # combining is not a licence to hedge: a set is not one of its members
    ("2", r"The solutions are $\boxed{1}$ and $\boxed{2}$.", False),
    (r"$(6, 2)$", r"$$\boxed{(2, 2)} \quad \text{and} \quad \boxed{(6, 2)}$$", False),
    ("1,2,3", r"The solutions are $\boxed{1}$ and $\boxed{2}$.", False),
    ("35", r"Final Answer: The largest $n$ is 34.", False),
]
CONFIG = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]


@pytest.mark.parametrize("gold, response, correct", CASES)
def test_scorer_reads_answers_as_math_verify(gold, response, correct):
    result, pred = score_math(response, gold)
    assert result.verdict is correct, result.detail
    assert pred  # the reported prediction is the combined answer, e.g. '1 and 2'
    # math-verify's own reading of the same strings agrees
    assert verify(parse(gold if "$" in gold else f"${gold}$", CONFIG), parse(response, CONFIG)) is correct


def test_several_boxes_are_one_prediction_for_majority_votes():
    spec = get_benchmark("math500")
    item = EvalItem("q", "Solve x^2 - 3x + 2 = 0.", answer="1,2")
    texts = [r"<think>w</think>The roots are $\boxed{1}$ and $\boxed{2}$.",
             r"<think>w</think>The roots are $\boxed{2}$ and $\boxed{1}$.",
             r"<think>w</think>So \boxed{2}."]
    scores = score_many(spec, [item] * 3, [{"text": t} for t in texts])
    assert [s.correct for s in scores] == [True, True, False]
    assert scores[0].pred == "1 and 2" and scores[2].pred == "2"


def test_boxes_not_joined_by_and_or_commas_keep_the_last():
    """Earlier boxes in the working ('first \\boxed{1} then …') are not part of the answer."""
    result, pred = score_math(r"First \boxed{1}, then we check, and finally \boxed{2}.", "2")
    assert result.verdict is True and pred == "2"
    result, _ = score_math(r"We try \boxed{4} first. Then the answer is \boxed{5}.", "5")
    assert result.verdict is True
