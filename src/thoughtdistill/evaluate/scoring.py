"""Score generated answers: the final answer after the thought, then the benchmark's checker.

- math: ``\\boxed{}`` / final-answer extraction and math-verify equivalence
  (:mod:`thoughtdistill.verify.math`);
- multiple_choice: the chosen letter (``\\boxed{C}``, "Answer: C", "the answer is (C)", …);
- code_stdio / code_function: the last ```python block run in the sandbox
  (:mod:`thoughtdistill.verify.code`); items with LeetCode-style functional tests
  (LiveCodeBench) call ``Solution().<func_name>`` instead of feeding stdin.

Only the text after the thought is scored: a thought that never closed (truncated) has no
answer and scores wrong. Teachers' and students' outputs go through the same function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from ..thoughts import split_thought
from .benchmarks import LETTERS, BenchmarkSpec, EvalItem


@dataclass
class Score:
    correct: bool  # unscorable counts as wrong
    pred: str | None  # the extracted answer (maj@k groups on it)
    by: str
    detail: str = ""


def answer_part(text: str | None, reasoning: str | None = None,
                finish_reason: str | None = None) -> tuple[str, str | None, bool]:
    """(answer text after the thought, thought, truncated)."""
    parsed = split_thought(text, reasoning, finish_reason)
    return parsed.solution, parsed.thought, parsed.truncated


_MC_PATTERNS = [  # strongest first; within a pattern the last match counts
    r"\\boxed\{\s*(?:\\(?:text|textbf|mathrm|mathbf)\{\s*)?\(?([A-J])\)?(?![A-Za-z])",
    r"(?i)answer\s*(?:is|:)?\s*[:\-]?\s*\**\s*\$?\s*\(?([A-J])\)?\$?(?![A-Za-z])",
    r"(?i)(?:option|choice)\s*\(?([A-J])\)?(?![A-Za-z])",
    r"^\s*\(?([A-J])\)?[.)]?\s*$",
    r"\(([A-J])\)",
]


def extract_choice(text: str, n_choices: int = 4) -> str | None:
    """The multiple-choice letter the answer commits to (last match of the strongest pattern)."""
    allowed = set(LETTERS[:n_choices])
    for pattern in _MC_PATTERNS:
        hits = [m.group(1).upper() for m in re.finditer(pattern, text, flags=re.MULTILINE)]
        hits = [h for h in hits if h in allowed]
        if hits:
            return hits[-1]
    return None


def _math_scores(answers: list[str], golds: list[str], processes: int) -> list[Score]:
    from ..verify.math import score_math_many

    results = score_math_many(list(zip(answers, golds)), processes=processes)
    return [Score(bool(r.verdict), (p.strip() if isinstance(p, str) else p) or None, r.by, r.detail)
            for r, p in results]


def _code_score(spec: BenchmarkSpec, item: EvalItem, answer: str, limits: Any) -> Score:
    from ..verify.code import check_function, check_functional, check_stdio, extract_code

    code = extract_code(answer)
    if not code:
        return Score(False, None, "sandbox", "no code block in the answer")
    if item.meta.get("testtype") == "functional":  # LeetCode style (LiveCodeBench)
        result = check_functional(code, item.tests, item.entry_point or "", limits)
    elif spec.scorer == "code_function":
        prompt = item.meta.get("prompt") or ""
        if item.entry_point and f"def {item.entry_point}" not in code:
            code = prompt + code  # the model wrote only the body
        result = check_function(code, item.tests, item.entry_point, limits)
    else:
        result = check_stdio(code, item.tests, limits)
    return Score(bool(result.verdict), None, result.by, result.detail)


def score_many(spec: BenchmarkSpec, items: Sequence[EvalItem], outputs: Sequence[dict[str, Any]],
               *, processes: int = 1, limits: Any = None) -> list[Score]:
    """Score outputs (each ``{text, reasoning, finish_reason}``) against their items."""
    parts = [answer_part(o.get("text"), o.get("reasoning"), o.get("finish_reason")) for o in outputs]
    scores: list[Score | None] = [None] * len(outputs)
    pending: list[int] = []
    for i, ((answer, thought, truncated), out) in enumerate(zip(parts, outputs)):
        if out.get("error"):
            scores[i] = Score(False, None, "error", f"generation failed: {out['error']}")
        elif not answer.strip():
            why = "truncated: the thought never ended" if truncated else "empty answer"
            scores[i] = Score(False, None, "no-answer", why)
        else:
            pending.append(i)
    if spec.scorer == "math" and pending:
        got = _math_scores([parts[i][0] for i in pending], [items[i].answer or "" for i in pending], processes)
        for i, s in zip(pending, got):
            scores[i] = s
    elif spec.scorer == "multiple_choice":
        for i in pending:
            letter = extract_choice(parts[i][0], int(items[i].meta.get("n_choices", 4)))
            ok = letter is not None and letter == items[i].answer
            scores[i] = Score(ok, letter, "choice-letter",
                              "no letter found" if letter is None else f"chose {letter}, gold {items[i].answer}")
    elif pending:
        if limits is None:
            from ..verify.sandbox import SandboxLimits

            limits = SandboxLimits()
        for i in pending:
            scores[i] = _code_score(spec, items[i], parts[i][0], limits)
    return scores  # type: ignore[return-value]  # every slot is filled above


def score_one(spec: BenchmarkSpec, item: EvalItem, text: str, reasoning: str | None = None,
              finish_reason: str | None = "stop", limits: Any = None) -> Score:
    return score_many(spec, [item], [{"text": text, "reasoning": reasoning, "finish_reason": finish_reason}],
                      limits=limits)[0]
