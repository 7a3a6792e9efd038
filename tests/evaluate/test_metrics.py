"""pass@k / maj@k / bootstrap: the estimator against the closed form and by simulation."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest

from thoughtdistill.evaluate.metrics import bootstrap_mean, majority_correct, pass_at_k, problem_metrics


@pytest.mark.parametrize("n", [1, 2, 5, 10, 16, 64])
def test_pass_at_k_matches_closed_form(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            closed = 1.0 - comb(n - c, k) / comb(n, k)
            assert pass_at_k(n, c, k) == pytest.approx(closed, abs=1e-12), (n, c, k)


def test_pass_at_k_is_probability_that_a_random_k_subset_has_a_correct_one():
    # exhaustive check over every k-subset of a concrete sample list
    samples = [True, False, False, True, False, False, False]
    n, c = len(samples), sum(samples)
    for k in range(1, n + 1):
        subsets = list(itertools.combinations(samples, k))
        exact = sum(any(s) for s in subsets) / len(subsets)
        assert pass_at_k(n, c, k) == pytest.approx(exact)


def test_pass_at_1_is_fraction_correct_and_bad_args_raise():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(4, 0, 4) == 0.0 and pass_at_k(4, 1, 4) == 1.0
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        pass_at_k(4, 2, 5)


def test_majority_vote():
    assert majority_correct(["3", "4", "3"], [True, False, True])
    assert not majority_correct(["4", "4", "3"], [False, False, True])
    assert majority_correct(["3", "4"], [True, False])  # tie: first seen wins
    assert not majority_correct([None, None], [False, False])
    assert majority_correct([None, "7", None], [False, True, False])  # empty answers don't vote


def test_problem_metrics_values_and_ci():
    correct = [[True, True, False, False]] * 5 + [[False] * 4] * 5
    preds = [["1", "1", "2", "3"]] * 5 + [["9", "9", "8", "7"]] * 5
    m = problem_metrics(correct, preds, ks=(1, 2, 4, 8), resamples=500)
    assert m["avg@4"].value == pytest.approx(0.25)
    assert m["pass@1"].value == pytest.approx(0.25)
    assert m["pass@2"].value == pytest.approx(0.5 * (1 - comb(2, 2) / comb(4, 2)))
    assert m["pass@4"].value == pytest.approx(0.5)
    assert "pass@8" not in m  # k > n is skipped
    assert m["maj@4"].value == pytest.approx(0.5)
    assert m["avg@4"].ci_low < 0.25 < m["avg@4"].ci_high
    with pytest.raises(ValueError):
        problem_metrics([[True], [True, False]])


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_more_problems():
    rng = np.random.default_rng(1)
    small = bootstrap_mean(rng.random(20) < 0.6)
    large = bootstrap_mean(rng.random(2000) < 0.6)
    assert small.ci_low <= small.value <= small.ci_high
    assert (large.ci_high - large.ci_low) < (small.ci_high - small.ci_low)
    assert bootstrap_mean([1.0]).ci_low == 1.0


def test_top_k_top_p_processor_matches_transformers_warpers():
    import torch
    from transformers import TopKLogitsWarper, TopPLogitsWarper

    from thoughtdistill.evaluate.backends import top_k_top_p_processor

    torch.manual_seed(0)
    scores = torch.randn(6, 1000) * 3
    ours = top_k_top_p_processor(20, 0.95)(None, scores.clone())
    ref = TopPLogitsWarper(0.95)(None, TopKLogitsWarper(20)(None, scores.clone()))
    assert torch.equal(torch.isinf(ours), torch.isinf(ref))
    assert torch.allclose(ours.softmax(-1), ref.softmax(-1))
    only_k = top_k_top_p_processor(5, None)(None, scores.clone())
    assert (~torch.isinf(only_k)).sum(-1).tolist() == [5] * 6


# ---------------------------------------------------------------- format adherence on real text


def _recorded(data_dir):
    import json

    r1 = [json.loads(line) for line in (data_dir / "r1_traces.jsonl").read_text().splitlines()]
    cot = [json.loads(line) for line in (data_dir / "multi_chain.jsonl").read_text().splitlines()][:10]
    return r1, cot


def test_format_adherence_on_recorded_thinking_and_plain_answers(data_dir):
    """Real DeepSeek-R1 / Qwen3 outputs (thought + answer) adhere in thinking mode; real
    Qwen2.5-Math chain-of-thought answers (no think block) do not, but do with thinking off;
    the same texts cut by the token budget never do."""
    from thoughtdistill.evaluate.metrics import adheres_to_format, format_adherence

    r1, cot = _recorded(data_dir)
    thinking = [{"text": f"<think>\n{t['message_thinking']}\n</think>\n\n{t['message_content']}",
                 "finish_reason": "stop"} for t in r1]
    # as a template that opens the thought in the prompt returns it, and as a server's reasoning_content
    opened = [{"text": f"{t['message_thinking']}\n</think>\n\n{t['message_content']}", "finish_reason": "stop"}
              for t in r1]
    separate = [{"text": t["message_content"], "reasoning": t["message_thinking"], "finish_reason": "stop"} for t in r1]
    plain = [{"text": c["chains"][0]["response"], "finish_reason": "stop"} for c in cot]
    assert format_adherence(thinking, "math", True) == 1.0
    assert format_adherence(opened, "math", True) == 1.0
    assert format_adherence(separate, "math", True) == 1.0
    assert format_adherence(plain, "math", True) == 0.0
    assert format_adherence(plain, "math", False) == 1.0
    cut = [{"text": row["text"][: len(row["text"]) // 2], "finish_reason": "length", "truncated": True}
           for row in thinking + plain]
    assert format_adherence(cut, "math", True) == 0.0 and format_adherence(cut, "math", False) == 0.0
    # a closed thought with no final answer after it, an empty thought, a failed request
    no_answer = {"text": f"<think>\n{r1[0]['message_thinking']}\n</think>\n\nI am not sure.", "finish_reason": "stop"}
    empty = {"text": f"<think>\n\n</think>\n\n{r1[0]['message_content']}", "finish_reason": "stop"}
    error = {"text": "", "finish_reason": "error", "error": "HTTP 500"}
    assert not any(adheres_to_format(r, "math", True) for r in (no_answer, empty, error))
    assert adheres_to_format(empty, "math", False)  # thinking off: the block does not matter
    assert format_adherence([], "math", True) is None


def test_format_adherence_for_choice_and_code_scorers():
    from thoughtdistill.evaluate.metrics import adheres_to_format

    think = "<think>\nThe second option is larger.\n</think>\n\n"
    assert adheres_to_format({"text": think + "The answer is (B)."}, "multiple_choice", True)
    assert not adheres_to_format({"text": think + "The answer is (F)."}, "multiple_choice", True, 4)
    assert adheres_to_format({"text": think + "```python\nprint(input())\n```"}, "code_stdio", True)
    assert not adheres_to_format({"text": think + "Read the input and print it."}, "code_function", True)
