"""Math answers: extract the final answer from a response and compare it with the gold
answer using HuggingFace ``math-verify`` (symbolic equality via sympy).

math-verify guards each parse/compare with ``signal.alarm``, which only works in a
process's main thread. :func:`math_equal` uses the timeouts when called in the main thread
and runs without them elsewhere (a warning is logged once); :func:`verify_math_many` runs the
checks in worker processes, where each task runs in the worker's main thread, so the
timeouts always apply there and several cores are used.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import re
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Sequence

from .result import VerifyResult

logger = logging.getLogger(__name__)

BY = "math-verify"
_THOUGHT_ENDS = ("</think>", "<|end_of_thought|>")
_THOUGHT_STARTS = ("<think>", "<|begin_of_thought|>")
_BOX_CMDS = ("\\boxed", "\\fbox")
# "The final answer is X", "the answer is X", "Final Answer: X", "Answer: X", "#### X"
_ANSWER_PATTERNS = (
    re.compile(r"final\s+answer\s*(?:is|:)\s*:?\s*(.+)", re.IGNORECASE),
    re.compile(r"\banswer\s+is\s*:?\s*(.+)", re.IGNORECASE),
    re.compile(r"\banswer\s*:\s*(.+)", re.IGNORECASE),
    re.compile(r"^\s*####\s*(.+)$", re.MULTILINE),
)
_warned_thread = False


def _after_thought(text: str) -> str | None:
    """The part of a full response after the thought; None when the thought never closed."""
    for end in _THOUGHT_ENDS:
        if end in text:
            return text.rsplit(end, 1)[1]
    if any(start in text for start in _THOUGHT_STARTS):
        return None  # opened but never closed: truncated, no final answer
    return text


def _boxes(text: str) -> list[tuple[int, int]]:
    """(start, end) of every ``\\boxed{…}``/``\\fbox{…}`` with balanced braces, in order."""
    spans = []
    for cmd in _BOX_CMDS:
        for match in re.finditer(re.escape(cmd), text):
            content = _box_content(text, match.end())
            if content is not None and not text.startswith(" ", match.end()):
                close = text.index("{", match.end()) + len(content) + 2
                spans.append((match.start(), close))
    return sorted(spans)


# what may stand between boxes that state one answer together ("$\boxed{1}$ and $\boxed{2}$",
# "\boxed{(2, 2)} \quad \text{and} \quad \boxed{(6, 2)}", "\boxed{1}, \boxed{2}",
# "$x = \boxed{-3}$ or $x = \boxed{5}$"): math delimiters, spacing, commas, 'and'/'or', and
# a variable named before the next box, as in the math environments math-verify joins
_JOINER = re.compile(r"(?:[\s$,;]|\\quad|\\qquad|\\[,;()\[\]]|\\text\{\s*(?:and|or)\s*\}|\band\b|\bor\b"
                     r"|[A-Za-z](?:_\{?\w+\}?)?\s*=)*")


def _final_box_group(text: str) -> str | None:
    """The text of the last box together with the boxes joined to it by 'and', 'or' or commas
    (math-verify combines those into one answer); None when there is no box."""
    spans = _boxes(text)
    if not spans:
        return None
    first = len(spans) - 1
    while first > 0 and _JOINER.fullmatch(text[spans[first - 1][1]:spans[first][0]]):
        first -= 1
    start, end = spans[first][0], spans[-1][1]
    line_start = text.rfind("\n", 0, start) + 1
    opener = max(text.rfind("$", line_start, start), text.rfind("\\(", line_start, start),
                 text.rfind("\\[", line_start, start))
    if opener >= 0 and _JOINER.fullmatch(text[opener:start]):  # keep "$x = " before the first box
        start = opener
    while start > 0 and text[start - 1] == "$":  # keep the math delimiters around the group
        start -= 1
    while end < len(text) and text[end] == "$":
        end += 1
    return text[start:end]


def _answer_region(tail: str) -> tuple[str, bool] | None:
    """(text holding the final answer, whether it is boxed): the final box group, else the
    line of the last answer phrase ("Final Answer: …", "the answer is …", "#### …")."""
    group = _final_box_group(tail)
    if group is not None:
        return group, True
    for pattern in _ANSWER_PATTERNS:
        matches = list(pattern.finditer(tail))
        if matches:
            return tail[matches[-1].start():].split("\n", 1)[0], False
    return None


def _last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}`` with balanced braces
    (``\\boxed 5`` without braces is accepted too)."""
    best_pos, best = -1, None
    for cmd in _BOX_CMDS:
        start = 0
        while True:
            pos = text.find(cmd, start)
            if pos < 0:
                break
            start = pos + len(cmd)
            content = _box_content(text, pos + len(cmd))
            if content is not None and pos > best_pos:
                best_pos, best = pos, content
    return best


def _box_content(text: str, i: int) -> str | None:
    n = len(text)
    if i < n and text[i] == " ":  # \boxed 5
        j = i + 1
        while j < n and not text[j].isspace() and text[j] not in "$.,":
            j += 1
        return text[i + 1 : j] or None
    while i < n and text[i] in " \t":
        i += 1
    if i >= n or text[i] != "{":
        return None
    depth = 0
    for j in range(i, n):
        ch = text[j]
        if ch == "\\" and j + 1 < n and text[j + 1] in "{}":
            continue
        if ch == "{" and (j == 0 or text[j - 1] != "\\"):
            depth += 1
        elif ch == "}" and (j == 0 or text[j - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None  # unbalanced: the answer was cut off


def _clean_phrase(answer: str) -> str | None:
    answer = answer.strip().splitlines()[0].strip() if answer.strip() else ""
    boxed = _last_boxed(answer)
    if boxed is not None:
        return boxed.strip()
    answer = answer.strip().strip("*").strip()
    if answer.startswith("$") and answer.count("$") >= 2:
        answer = answer[1:].split("$", 1)[0]
    elif answer.startswith("\\(") and "\\)" in answer:
        answer = answer[2:].split("\\)", 1)[0]
    elif answer.startswith("\\[") and "\\]" in answer:
        answer = answer[2:].split("\\]", 1)[0]
    answer = answer.strip().rstrip(".").strip()
    return answer or None


def extract_final_answer(text: str | None) -> str | None:
    """The final answer of a response, or None.

    Order: the last ``\\boxed{}``/``\\fbox{}`` (balanced braces) after the thought; else the
    last "final answer is X" / "answer is X" / "Answer: X" / "#### X". Given a full response
    with ``<think>…</think>``, only the text after the thought is searched; a thought that
    never closed has no final answer.
    """
    if not text:
        return None
    tail = _after_thought(text)
    if tail is None:
        return None
    boxed = _last_boxed(tail)
    if boxed is not None and boxed.strip():
        return boxed.strip()
    for pattern in _ANSWER_PATTERNS:
        matches = list(pattern.finditer(tail))
        if matches:
            found = _clean_phrase(matches[-1].group(1))
            if found:
                return found
    return None


# --------------------------------------------------------------------------- comparison

def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _parse(text: str, timeout: int | None):
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    return parse(
        "\\boxed{" + text + "}",
        extraction_config=[LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()],
        parsing_timeout=timeout,
        raise_on_error=False,
    )


def _extract(region: str, boxed: bool, timeout: int | None):
    """math-verify's own extraction on the answer region: boxes only (combined when joined by
    'and'/commas) for a box group; any expression for an answer phrase."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    config = ([LatexExtractionConfig(boxed_match_priority=0, try_extract_without_anchor=False)] if boxed
              else [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()])
    return parse(region, extraction_config=config, parsing_timeout=timeout, raise_on_error=False)


def _normalise(text: str) -> str:
    text = re.sub(r"\\(left|right|!|,|;|:|\s)", "", text)
    text = re.sub(r"\\(text|mathrm|textbf|mbox)\{([^{}]*)\}", r"\2", text)
    text = text.replace("$", "").replace("dfrac", "frac").replace("tfrac", "frac")
    return re.sub(r"\s+", "", text).rstrip(".").lower()


def _timeout(timeout_s: float) -> int | None:
    global _warned_thread
    if _in_main_thread():
        return max(1, int(round(timeout_s)))
    if not _warned_thread:
        logger.warning("math_equal outside the main thread: math-verify timeouts are off; "
                       "use verify_math_many for protected checks")
        _warned_thread = True
    return None


def compare(pred: str, gold: str, timeout_s: float = 5.0, pred_parsed: list | None = None) -> tuple[bool, str]:
    """(equal?, how it was decided): math-verify first, exact normalised text as fallback.
    ``pred_parsed``: math-verify's own extraction of the prediction, used instead of parsing
    ``pred`` when it found something."""
    pred, gold = str(pred).strip(), str(gold).strip()
    if not pred:
        return False, "empty prediction"
    timeout = _timeout(timeout_s)
    same_text = _normalise(pred) == _normalise(gold)
    try:
        from math_verify import verify

        gold_p = _parse(gold, timeout)
        pred_p = pred_parsed or _parse(pred, timeout)
        if not gold_p or not pred_p:
            which = "gold answer" if not gold_p else "prediction"
            why = f"math-verify could not parse the {which}"
        else:
            ok = verify(gold_p, pred_p, timeout_seconds=timeout, raise_on_error=False)
            if ok:
                return True, f"equal (math-verify: {pred_p[-1]!s} vs {gold_p[-1]!s})"
            why = f"not equal (math-verify: {pred_p[-1]!s} vs {gold_p[-1]!s})"
    except Exception as exc:  # math-verify/sympy failures must not stop a run
        why = f"math-verify error: {type(exc).__name__}: {exc}"
    if same_text:  # e.g. text answers math-verify cannot parse ("\\text{(C)}", "Monday")
        return True, f"same text after normalisation ({why})"
    return False, why


def math_equal(pred: str | None, gold: str | None, timeout_s: float = 5.0) -> bool:
    """Whether two answers are mathematically equal (``"18"``, ``"\\frac{1}{2}"`` vs
    ``"0.5"``, ``"(3, \\frac{\\pi}{2})"``…). Parse/compare are bounded by ``timeout_s``."""
    if pred is None or gold is None:
        return False
    return compare(pred, gold, timeout_s)[0]


def _prediction(response: str, timeout_s: float) -> tuple[str | None, list]:
    """(the final answer as text, math-verify's parse of it or []): several boxes joined by
    'and'/commas are one answer (a set), an answer phrase is reduced to its value."""
    text = extract_final_answer(response)
    tail = _after_thought(response) if text is not None else None
    region = _answer_region(tail) if tail is not None else None
    if region is None:
        return text, []
    try:
        parsed = _extract(region[0], region[1], _timeout(timeout_s))
    except Exception:  # math-verify/sympy failures: fall back to the extracted text
        return text, []
    shown = parsed[-1] if parsed and isinstance(parsed[-1], str) and parsed[-1].strip() else text
    return shown, parsed


def score_math(response: str | None, gold: str | None, timeout_s: float = 5.0) -> tuple[VerifyResult, str | None]:
    """(result, the predicted answer as text) for one response; ``verdict=None`` without gold."""
    if gold is None or not str(gold).strip():
        return VerifyResult(None, BY, "no gold answer to check against"), None
    pred, parsed = _prediction(response or "", timeout_s)
    if pred is None:
        return VerifyResult(False, BY, "no final answer found (no \\boxed{} or 'answer is' after the thought)"), None
    ok, how = compare(pred, str(gold), timeout_s, pred_parsed=parsed)
    return VerifyResult(ok, BY, f"predicted {pred!r}, gold {str(gold)!r}: {how}"), pred


def verify_math(response: str | None, gold: str | None, timeout_s: float = 5.0) -> VerifyResult:
    """Check one response against the gold answer; ``verdict=None`` when there is no gold."""
    return score_math(response, gold, timeout_s)[0]


def _score_pair(args: tuple[str | None, str | None, float]) -> tuple[VerifyResult, str | None]:
    response, gold, timeout_s = args
    try:
        return score_math(response, gold, timeout_s)
    except Exception as exc:
        return VerifyResult(None, BY, f"verifier error: {type(exc).__name__}: {exc}"), None


def _warm() -> None:  # import sympy/math-verify once per worker, before the first task
    import math_verify  # noqa: F401


def verify_math_many(
    pairs: Iterable[tuple[str | None, str | None]] | Sequence[tuple[str | None, str | None]],
    processes: int = 2,
    timeout_s: float = 5.0,
    chunksize: int = 8,
    on_result: Callable[[], None] | None = None,
) -> list[VerifyResult]:
    """``verify_math`` over (response, gold) pairs, in order, on ``processes`` worker
    processes (``processes <= 1`` runs serially in this process); ``on_result`` is called
    after each pair (progress)."""
    return [res for res, _ in score_math_many(pairs, processes, timeout_s, chunksize, on_result)]


def score_math_many(
    pairs: Iterable[tuple[str | None, str | None]] | Sequence[tuple[str | None, str | None]],
    processes: int = 2,
    timeout_s: float = 5.0,
    chunksize: int = 8,
    on_result: Callable[[], None] | None = None,
) -> list[tuple[VerifyResult, str | None]]:
    """:func:`score_math` over (response, gold) pairs, like :func:`verify_math_many`."""
    tasks = [(r, g, timeout_s) for r, g in pairs]
    tick = on_result or (lambda: None)

    def counted(results: Iterable[tuple[VerifyResult, str | None]]) -> list[tuple[VerifyResult, str | None]]:
        out = []
        for res in results:
            out.append(res)
            tick()
        return out

    if processes <= 1 or len(tasks) <= 1:
        return counted(_score_pair(t) for t in tasks)
    # fork is cheap and needs no re-import of __main__; a parent with other threads running
    # (an event loop, a progress bar) is not forked (a lock held by another thread would be
    # copied locked): a fork server starts the workers then.
    ctx = mp.get_context("fork" if threading.active_count() == 1 else "forkserver")
    with ProcessPoolExecutor(max_workers=processes, mp_context=ctx, initializer=_warm) as pool:
        return counted(pool.map(_score_pair, tasks, chunksize=max(1, chunksize)))
