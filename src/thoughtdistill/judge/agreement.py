"""Agreement between judges, and between a judge and the rule verifiers.

Spearman's rho (scipy) for the RV/CD levels, Cohen's kappa for correctness verdicts; each
pair is compared on the chains both have judged.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from typing import Any

from ..records import Chain

RULE_VERIFIERS = ("math-verify", "sandbox-stdio", "sandbox-function")


def cohen_kappa(a: list[bool], b: list[bool]) -> float | None:
    """Cohen's kappa of two binary raters; None when undefined (no items, or both constant
    and equal so chance agreement is 1)."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    if math.isclose(expected, 1.0):
        return None
    return (observed - expected) / (1 - expected)


def spearman(a: list[int], b: list[int]) -> tuple[float | None, float | None]:
    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return None, None  # undefined for constant ratings
    from scipy.stats import spearmanr

    res = spearmanr(a, b)
    rho, p = float(res.statistic), float(res.pvalue)
    return (None if math.isnan(rho) else rho), (None if math.isnan(p) else p)


class AgreementTracker:
    """Feed chains one at a time (streaming); :meth:`report` gives the table."""

    def __init__(self) -> None:
        self.levels: dict[str, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
        self.verdicts: dict[str, dict[int, bool]] = defaultdict(dict)
        self.rule: dict[int, bool] = {}
        self._n = 0

    def add(self, chain: Chain) -> None:
        idx = self._n
        self._n += 1
        for j in chain.judgments or []:
            if not j.ok:
                continue
            if j.metric == "correctness" and j.verdict is not None:
                self.verdicts[j.judge][idx] = j.verdict
            elif j.metric != "correctness" and j.level is not None:
                self.levels[j.metric][j.judge][idx] = j.level
        c = chain.correctness
        if c is not None and c.verdict is not None and c.by in RULE_VERIFIERS:
            self.rule[idx] = c.verdict

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {"chains": self._n, "levels": [], "correctness": []}
        for metric, by_judge in sorted(self.levels.items()):
            for a, b in itertools.combinations(sorted(by_judge), 2):
                common = sorted(set(by_judge[a]) & set(by_judge[b]))
                xa = [by_judge[a][i] for i in common]
                xb = [by_judge[b][i] for i in common]
                rho, p = spearman(xa, xb)
                exact = sum(x == y for x, y in zip(xa, xb)) / len(common) if common else None
                out["levels"].append({"metric": metric, "a": a, "b": b, "n": len(common),
                                      "spearman": rho, "p_value": p, "exact_agreement": exact})
        raters = dict(self.verdicts)
        if self.rule:
            raters["rule-verifier"] = self.rule
        for a, b in itertools.combinations(sorted(raters), 2):
            common = sorted(set(raters[a]) & set(raters[b]))
            xa = [raters[a][i] for i in common]
            xb = [raters[b][i] for i in common]
            agree = sum(x == y for x, y in zip(xa, xb)) / len(common) if common else None
            out["correctness"].append({"a": a, "b": b, "n": len(common),
                                       "cohen_kappa": cohen_kappa(xa, xb), "agreement": agree})
        return out


def format_report(report: dict[str, Any]) -> str:
    def f(x):
        return "n/a" if x is None else f"{x:.3f}"

    lines = [f"agreement over {report['chains']} chains"]
    for row in report["levels"]:
        lines.append(f"  {row['metric']}: {row['a']} vs {row['b']}: n={row['n']} "
                     f"spearman={f(row['spearman'])} exact={f(row['exact_agreement'])}")
    for row in report["correctness"]:
        lines.append(f"  correctness: {row['a']} vs {row['b']}: n={row['n']} "
                     f"kappa={f(row['cohen_kappa'])} agreement={f(row['agreement'])}")
    if len(lines) == 1:
        lines.append("  (fewer than two raters on any metric)")
    return "\n".join(lines)
