"""Math verifier: answer extraction paths, math-verify comparisons, MATH-500 references."""

from __future__ import annotations

import json

import pytest

from thoughtdistill.verify import VerifyResult
from thoughtdistill.verify.math import extract_final_answer, math_equal, verify_math, verify_math_many


@pytest.mark.parametrize(
    "text, expected",
    [
        ("so $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
        ("first \\boxed{1} then \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("\\fbox{42}", "42"),
        ("\\boxed 7.", "7"),
        ("nested \\boxed{\\sqrt{\\frac{a}{b}}} end", "\\sqrt{\\frac{a}{b}}"),
        ("The final answer is $18$.", "18"),
        ("Final Answer: 204", "204"),
        ("**Final Answer**: \\boxed{5}", "5"),
        ("so the answer is 3.", "3"),
        ("Answer: $x=5$", "x=5"),
        ("Janet makes 18 dollars.\n#### 18", "18"),
        ("<think>maybe \\boxed{1}</think>The answer is \\boxed{2}", "2"),
        ("Okay so \\boxed{1}\n</think>\n\nthe answer is 7", "7"),  # template put <think> in the prompt
        ("<think>still thinking \\boxed{1}", None),  # thought never closed: truncated
        ("\\boxed{unbalanced", None),
        ("no answer here", None),
        ("", None),
        (None, None),
    ],
)
def test_extract_final_answer(text, expected):
    assert extract_final_answer(text) == expected


@pytest.mark.parametrize(
    "pred, gold, equal",
    [
        ("18", "18", True),  # GSM8K
        ("18.0", "18", True),
        ("033", "33", True),  # AIME integers
        ("\\frac12", "0.5", True),
        ("\\dfrac{1}{2}", "\\frac{1}{2}", True),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})", True),
        ("2\\sqrt{2}", "\\sqrt{8}", True),
        ("\\text{(C)}", "\\text{(C)}", True),
        ("19", "18", False),
        ("\\frac{1}{3}", "0.5", False),
        ("", "1", False),
        (None, "1", False),
    ],
)
def test_math_equal(pred, gold, equal):
    assert math_equal(pred, gold) is equal


def test_verify_math_results_and_correctness():
    ok = verify_math("<think>hmm</think> so \\boxed{18}", "18")
    assert ok.verdict is True and ok.by == "math-verify" and "18" in ok.detail
    c = ok.to_correctness()
    assert c.verdict is True and c.by == "math-verify"
    assert verify_math("the result is unclear", "18").verdict is False
    assert verify_math("\\boxed{18}", None).verdict is None
    assert verify_math("\\boxed{17}", "18") == VerifyResult(False, "math-verify", verify_math("\\boxed{17}", "18").detail)


def _math500(data_dir):
    return [json.loads(line) for line in open(data_dir / "math500.jsonl", encoding="utf-8")]


@pytest.mark.slow
def test_math500_reference_solutions_verify(data_dir):
    """Every MATH-500 reference solution's last \\boxed{} equals its answer per math-verify
    (all 500: no exceptions at math-verify 0.9; the text fallback is not needed for any)."""
    rows = _math500(data_dir)
    results = [verify_math(r["solution"], r["answer"]) for r in rows]
    failed = [(r["id"], res.detail) for r, res in zip(rows, results) if res.verdict is not True]
    assert not failed, failed
    assert not [r for r in results if "normalisation" in r.detail]


@pytest.mark.slow
def test_math500_solution_with_another_answer_fails(data_dir):
    rows = _math500(data_dir)
    wrong = []
    for i, row in enumerate(rows):
        # pair with the next problem whose answer really differs (e.g. not another "3")
        j = next(k % len(rows) for k in range(i + 1, i + len(rows))
                 if not math_equal(rows[k % len(rows)]["answer"], row["answer"]))
        res = verify_math(row["solution"], rows[j]["answer"])
        if res.verdict is not False:
            wrong.append((row["id"], res.detail))
    assert not wrong, wrong


def test_verify_math_many_pool_matches_serial():
    pairs = [("\\boxed{18}", "18"), ("\\boxed{1/2}", "0.5"), ("\\boxed{3}", "4"), ("nothing", "1"), ("x", None)] * 4
    serial = verify_math_many(pairs, processes=1)
    pooled = verify_math_many(pairs, processes=2)
    assert [r.verdict for r in pooled] == [r.verdict for r in serial] == [True, True, False, False, None] * 4
