"""Conditions on chains, parsed from a tiny safe syntax and evaluated on compact arrays.

``FIELD OP VALUE`` where OP is one of ``== != < <= > >= in, not in``; VALUE is a number,
``true``/``false``/``none``, a word or quoted string, a list ``[a, b]`` or an inclusive
range ``3..5`` (only with ``in`` / ``not in``). Nothing is ``eval``-ed.

Examples: ``rv in 3..5``, ``cd == 4``, ``correct == true``, ``teacher in [QwQ-32B, deepseek-r1]``,
``domain != code``, ``tokens <= 8000``, ``truncated == false``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..errors import ConfigError
from .config import LEVEL_MAX, LEVEL_MIN, FilterSpec

FIELDS = {
    "rv": "Reasoning_Verbosity level (0-9; none when missing)",
    "cd": "Cognitive_Difficulty level (0-9; none when missing)",
    "correct": "correctness verdict: true, false or none (undecided or not judged)",
    "teacher": "the chain's teacher name",
    "domain": "the record's domain",
    "tokens": "completion tokens (usage, else characters / chars_per_token)",
    "truncated": "the chain was cut off (flag, finish_reason 'length', or an unclosed thought)",
}
_EXPR = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(==|!=|<=|>=|<|>|=|not\s+in\b|in\b)\s*(.*?)\s*$")
_RANGE = re.compile(r"^(-?\d+(?:\.\d+)?)\s*\.\.\s*(-?\d+(?:\.\d+)?)$")


def _atom(text: str) -> Any:
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def parse_filter(expr: str | FilterSpec | dict) -> FilterSpec:
    """A FilterSpec from ``'rv in 3..5'`` (or a dict / FilterSpec); ConfigError names the problem."""
    if isinstance(expr, FilterSpec):
        spec = expr
    elif isinstance(expr, dict):
        try:
            spec = FilterSpec.model_validate(expr)
        except Exception as exc:  # pydantic error -> one line
            raise ConfigError(f"filter {expr!r}: {exc}") from None
    else:
        m = _EXPR.match(expr)
        if not m:
            raise ConfigError(f"filter {expr!r}: expected 'FIELD OP VALUE', e.g. 'rv in 3..5'")
        field, op, raw = m.group(1), " ".join(m.group(2).split()), m.group(3)
        op = "==" if op == "=" else op
        if op in ("in", "not in"):
            r = _RANGE.match(raw)
            if r:
                value: Any = {"range": [float(r.group(1)), float(r.group(2))]}
            elif raw.startswith("[") and raw.endswith("]"):
                value = [_atom(x) for x in raw[1:-1].split(",") if x.strip()]
            else:
                raise ConfigError(f"filter {expr!r}: '{op}' needs a list [a, b] or a range a..b")
        else:
            value = _atom(raw)
        spec = FilterSpec(field=field, op=op, value=value)
    if spec.field not in FIELDS:
        known = ", ".join(FIELDS)
        raise ConfigError(f"filter on unknown field '{spec.field}'; known fields: {known}")
    _check_value(spec)
    return spec


def _check_value(spec: FilterSpec) -> None:
    f, v = spec.field, spec.value
    values = v if isinstance(v, list) else [v]
    if isinstance(v, dict):
        _check_range(spec)
        return
    if spec.op in ("<", "<=", ">", ">=") and (f not in ("rv", "cd", "tokens") or not isinstance(v, (int, float)) or isinstance(v, bool)):
        raise ConfigError(f"filter on field '{f}': '{spec.op}' needs a numeric field (rv, cd, tokens) and a number")
    for x in values:
        if f in ("rv", "cd", "tokens") and not (x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))):
            raise ConfigError(f"filter on field '{f}': value {x!r} is not a number")
        if f in ("rv", "cd") and spec.op in ("==", "in") and x is not None and not LEVEL_MIN <= x <= LEVEL_MAX:
            raise ConfigError(f"filter on field '{f}': level {x!r} is outside the {LEVEL_MIN}-{LEVEL_MAX} scale")
        if f in ("correct", "truncated") and not (x is None or isinstance(x, bool)):
            raise ConfigError(f"filter on field '{f}': value {x!r} must be true, false or none")
        if f in ("teacher", "domain") and not (x is None or isinstance(x, (str, int, float))):
            raise ConfigError(f"filter on field '{f}': value {x!r} must be a name")


def _check_range(spec: FilterSpec) -> None:
    """``{"range": [lo, hi]}``: only with in / not in, on rv, cd, tokens, lo <= hi."""
    f, v = spec.field, spec.value
    if set(v) != {"range"} or spec.op not in ("in", "not in"):
        raise ConfigError(f"filter on field '{f}': a range only works with 'in'/'not in'")
    if f not in ("rv", "cd", "tokens"):
        raise ConfigError(f"filter on field '{f}': ranges only apply to rv, cd, tokens")
    r = v["range"]
    if not (isinstance(r, (list, tuple)) and len(r) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in r)):
        raise ConfigError(f"filter on field '{f}': a range needs two numbers [low, high], got {r!r}")
    lo, hi = r
    if lo > hi:
        raise ConfigError(f"filter on field '{f}': range {lo:g}..{hi:g} is empty (low end above high end); "
                          f"write {hi:g}..{lo:g}")
    if f in ("rv", "cd") and (hi < LEVEL_MIN or lo > LEVEL_MAX):
        raise ConfigError(f"filter on field '{f}': range {lo:g}..{hi:g} is outside the {LEVEL_MIN}-{LEVEL_MAX} scale")


def _column(stats, field: str) -> tuple[np.ndarray, np.ndarray]:
    """(values, present) per chain for a filter field."""
    if field in ("rv", "cd"):
        col = stats.rv if field == "rv" else stats.cd
        return col.astype(np.float64), col >= 0
    if field == "tokens":
        return stats.tokens.astype(np.float64), np.ones(len(stats.tokens), bool)
    if field == "correct":
        return (stats.correct == 1).astype(np.float64), stats.correct >= 0
    if field == "truncated":
        from .scan import F_TRUNCATED

        return ((stats.flags & F_TRUNCATED) > 0).astype(np.float64), np.ones(len(stats.flags), bool)
    if field == "teacher":
        return stats.teacher.astype(np.float64), stats.teacher >= 0
    dom = stats.q_domain[stats.q]
    return dom.astype(np.float64), dom >= 0


def _encode(stats, field: str, x: Any) -> float | None:
    """Map a filter value to the column's code; None means 'missing', nan means 'no such name'."""
    if x is None:
        return None
    if field in ("teacher", "domain"):
        vocab = stats.teachers if field == "teacher" else stats.domains
        return float(vocab.index(str(x))) if str(x) in vocab else float("nan")
    return float(x)


def evaluate(stats, spec: FilterSpec) -> np.ndarray:
    """Boolean mask over chains: True where the condition holds."""
    col, present = _column(stats, spec.field)
    op, v = spec.op, spec.value
    if isinstance(v, dict):
        lo, hi = v["range"]
        hit = present & (col >= lo) & (col <= hi)
        return ~hit if op == "not in" else hit
    if op in ("in", "not in"):
        hit = np.zeros(len(col), bool)
        for x in v:
            code = _encode(stats, spec.field, x)
            hit |= ~present if code is None else (present & (col == code))
        return ~hit if op == "not in" else hit
    code = _encode(stats, spec.field, v)
    if code is None:
        if op not in ("==", "!="):
            raise ConfigError(f"filter on field '{spec.field}': cannot compare with none using '{op}'")
        return ~present if op == "==" else present
    ops = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
    res = ops[op](col, code)
    return (res & present) if op != "!=" else (res | ~present)
