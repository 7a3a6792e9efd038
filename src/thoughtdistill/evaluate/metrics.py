"""Metrics over problems x samples: avg@k, unbiased pass@k, maj@k, confidence intervals.

Conventions (documented in docs/evaluate.md):
- every problem has ``n`` scored samples; a sample is correct or not (unscorable = wrong);
- ``avg@n`` = mean over problems of (correct samples / n) -- "pass@1 averaged over n samples";
- ``pass@k`` = mean over problems of the unbiased estimator of Chen et al. (2021),
  ``1 - C(n-c, k) / C(n, k)``, computed as a stable product;
- ``maj@n`` = a problem counts as solved when its most frequent extracted answer
  (ties broken by first appearance) is a correct one;
- confidence intervals: percentile bootstrap over problems (problems resampled with
  replacement, samples kept with their problem), 95 % by default, fixed seed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``n`` samples of which ``c`` are correct."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    # 1 - prod_{i=n-c+1}^{n} (1 - k/i)  ==  1 - C(n-c, k)/C(n, k)
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def majority_correct(preds: Sequence[Hashable | None], correct: Sequence[bool]) -> bool:
    """Whether the most frequent non-empty prediction is correct (ties: first seen)."""
    counts: Counter = Counter(p for p in preds if p is not None)
    if not counts:
        return False
    best = max(counts.values())
    winner = next(p for p in preds if p is not None and counts[p] == best)
    return any(ok for p, ok in zip(preds, correct) if p == winner)


@dataclass(frozen=True)
class Estimate:
    value: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high}


def bootstrap_mean(per_problem: Sequence[float], *, resamples: int = 1000, level: float = 0.95,
                   seed: int = 0) -> Estimate:
    """Mean of per-problem scores with a percentile-bootstrap interval over problems."""
    values = np.asarray(per_problem, dtype=float)
    if values.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"))
    mean = float(values.mean())
    if values.size == 1 or resamples <= 0:
        return Estimate(mean, mean, mean)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.size, size=(resamples, values.size))
    means = values[idx].mean(axis=1)
    alpha = (1.0 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return Estimate(mean, float(low), float(high))


def problem_metrics(
    correct: Sequence[Sequence[bool]],
    preds: Sequence[Sequence[Hashable | None]] | None = None,
    ks: Sequence[int] = (1,),
    *,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Estimate]:
    """avg@n, pass@k (each k <= n) and maj@n over problems, each with a bootstrap CI.

    ``correct[i]`` holds the verdicts of problem i's samples; all problems must have the
    same number of samples ``n`` (what a finished run has).
    """
    if not correct:
        return {}
    sizes = {len(c) for c in correct}
    if len(sizes) != 1 or 0 in sizes:
        raise ValueError(f"every problem needs the same, non-zero number of samples; got {sorted(sizes)}")
    n = sizes.pop()
    out: dict[str, Estimate] = {}
    kw = dict(resamples=resamples, level=level, seed=seed)
    out[f"avg@{n}"] = bootstrap_mean([sum(c) / n for c in correct], **kw)
    for k in sorted({k for k in ks if 1 <= k <= n}):
        out[f"pass@{k}"] = bootstrap_mean([pass_at_k(n, sum(c), k) for c in correct], **kw)
    if preds is not None and n > 1:
        out[f"maj@{n}"] = bootstrap_mean(
            [float(majority_correct(p, c)) for p, c in zip(preds, correct)], **kw)
    return out


# ---------------------------------------------------------------- behaviour: format adherence


def extractable_answer(scorer: str, answer: str, n_choices: int = 4) -> bool:
    """Whether the answer text (after the thought) holds a final answer the scorer can read:
    math a ``\\boxed{}``/"the answer is"/``####``; multiple choice a letter; code a Python block."""
    if not answer or not answer.strip():
        return False
    if scorer == "math":
        from ..verify.math import extract_final_answer

        return extract_final_answer(answer) is not None
    if scorer == "multiple_choice":
        from .scoring import extract_choice

        return extract_choice(answer, n_choices) is not None
    from ..verify.code import extract_code

    return extract_code(answer) is not None


def adheres_to_format(row: dict, scorer: str, thinking: bool, n_choices: int = 4) -> bool:
    """One generation in the trained format: it stopped on its own (not cut by the token
    budget, no error); in thinking mode it closed a non-empty thought (``<think>…</think>``, a
    template-opened thought closed in the text, or a server's separate reasoning); and the
    text after the thought gives an extractable final answer (:func:`extractable_answer`)."""
    from ..thoughts import split_thought

    if row.get("error") or row.get("truncated") or row.get("finish_reason") in ("length", "error"):
        return False
    parsed = split_thought(row.get("text"), row.get("reasoning"), row.get("finish_reason"))
    if parsed.truncated:
        return False
    if thinking and not (parsed.has_thought and (parsed.thought or "").strip()):
        return False
    return extractable_answer(scorer, parsed.solution, n_choices)


def format_adherence(rows: Sequence[dict], scorer: str, thinking: bool,
                     n_choices: Sequence[int] | None = None) -> float | None:
    """Share of ``rows`` (infer lines) that :func:`adheres_to_format`; None for no rows."""
    if not rows:
        return None
    choices = list(n_choices) if n_choices is not None else [4] * len(rows)
    return sum(adheres_to_format(r, scorer, thinking, c) for r, c in zip(rows, choices)) / len(rows)
