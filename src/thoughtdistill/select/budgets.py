"""Budgets, applied to a strategy's priority order: the first chains that fit are kept.

- ``max_chains``: total chains; ``max_tokens``: total completion tokens (a chain that would
  overflow is skipped and smaller later ones may still fit);
- ``max_per_question``: chains of one question;
- ``domain_quota`` / ``teacher_quota``: ``{name: q}`` with q >= 1 an absolute count, 0 < q < 1
  a share of ``max_chains`` (or, without it, of the strategy's count), shares turned into
  counts by largest-remainder rounding; names not listed are not limited.
"""

from __future__ import annotations

import numpy as np

from .config import BudgetConfig
from .scan import Stats
from .strategies import largest_remainder


def quota_counts(quota: dict[str, float], base: int) -> tuple[dict[str, int], list[str]]:
    names = sorted(quota)
    shares = [n for n in names if 0 < quota[n] < 1]
    counts = {n: int(quota[n]) for n in names if not (0 < quota[n] < 1)}
    warnings: list[str] = []
    if shares:
        got = largest_remainder([quota[n] * base for n in shares])
        for n, c in zip(shares, got):
            counts[n] = c
            if c == 0:
                warnings.append(f"quota {n}={quota[n]} of {base} chains rounds to 0")
    return counts, warnings


def apply_budgets(stats: Stats, order: np.ndarray, b: BudgetConfig) -> tuple[np.ndarray, dict]:
    base = b.max_chains if b.max_chains is not None else len(order)
    dq, w1 = quota_counts(b.domain_quota, base)
    tq, w2 = quota_counts(b.teacher_quota, base)
    report: dict = {"params": b.model_dump(mode="json"), "domain_quota": dq, "teacher_quota": tq,
                    "dropped": {}, "warnings": w1 + w2}
    if b == BudgetConfig():
        return order, report
    dom_id = {n: c for n, c in dq.items()}
    ten_id = {n: c for n, c in tq.items()}
    dom_cap = [dom_id.get(n) for n in stats.domains]
    ten_cap = [ten_id.get(n) for n in stats.teachers]
    dom_used = [0] * len(dom_cap)
    ten_used = [0] * len(ten_cap)
    per_q: dict[int, int] = {}
    tokens = 0
    kept: list[int] = []
    drops = {"max_chains": 0, "max_tokens": 0, "max_per_question": 0, "domain_quota": 0, "teacher_quota": 0}
    qs = stats.q[order].tolist()
    toks = stats.tokens[order].tolist()
    doms = stats.q_domain[stats.q[order]].tolist()
    tes = stats.teacher[order].tolist()
    for j, c in enumerate(order.tolist()):
        if b.max_chains is not None and len(kept) >= b.max_chains:
            drops["max_chains"] += len(qs) - j
            break
        qi = qs[j]
        if b.max_per_question is not None and per_q.get(qi, 0) >= b.max_per_question:
            drops["max_per_question"] += 1
            continue
        d, t = doms[j], tes[j]
        if d >= 0 and dom_cap[d] is not None and dom_used[d] >= dom_cap[d]:
            drops["domain_quota"] += 1
            continue
        if t >= 0 and ten_cap[t] is not None and ten_used[t] >= ten_cap[t]:
            drops["teacher_quota"] += 1
            continue
        if b.max_tokens is not None and tokens + toks[j] > b.max_tokens:
            drops["max_tokens"] += 1
            continue
        tokens += toks[j]
        per_q[qi] = per_q.get(qi, 0) + 1
        if d >= 0:
            dom_used[d] += 1
        if t >= 0:
            ten_used[t] += 1
        kept.append(c)
    report["dropped"] = {k: v for k, v in drops.items() if v}
    return np.asarray(kept, dtype=np.int64), report
