"""Is the judge informative? One pass over judged chains, used by ``judge``'s summary and
by the run report alike.

Per metric (RV, CD): how many chains have a score, the spread of the scores (levels used,
min–max, standard deviation, histogram), the modal level and its share (a warning above
``MODAL_WARN``: a judge that gives nearly every chain the same level carries little
information), and, for RV, Spearman's rho between the level and the chain's length (RV is
meant to track verbosity). With several judges, their agreement (Spearman, exact match,
Cohen's kappa for correctness: :class:`~thoughtdistill.judge.agreement.AgreementTracker`).

Chains come as :class:`~thoughtdistill.records.Chain` objects or plain dicts (a JSONL row).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from ..records import Chain
from .agreement import AgreementTracker, spearman

LEVEL_METRICS = ("Reasoning_Verbosity", "Cognitive_Difficulty")
SHORT = {"Reasoning_Verbosity": "RV", "Cognitive_Difficulty": "CD"}
MODAL_WARN = 0.8  # modal share above this: the scores carry little information
MIN_FOR_WARN = 5  # fewer scored chains than this: too few to judge the judge


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def chain_length(chain: Any) -> int | None:
    """Completion tokens where recorded, else characters / 4."""
    usage = _get(chain, "usage")
    tokens = _get(usage, "completion_tokens") if usage is not None else None
    if isinstance(tokens, int) and tokens > 0:
        return tokens
    text = _get(chain, "full_response") or "\n".join(
        x for x in (_get(chain, "thought"), _get(chain, "solution")) if x)
    return max(1, len(text) // 4) if text else None


class JudgeDiagnostics:
    """Feed chains with :meth:`add`; :meth:`report` gives the numbers, :func:`format_diagnostics`
    the text."""

    def __init__(self) -> None:
        self.levels: dict[str, list[int]] = {m: [] for m in LEVEL_METRICS}
        self.rv_len: list[tuple[int, int]] = []
        self.chains = 0
        self.agreement = AgreementTracker()

    def add(self, chain: Any) -> None:
        if _get(chain, "finish_reason") == "error":
            return
        self.chains += 1
        for metric in LEVEL_METRICS:
            ann = _get(chain, metric)
            level = _get(ann, "level") if ann is not None else None
            if isinstance(level, int) and not isinstance(level, bool):
                self.levels[metric].append(level)
                if metric == "Reasoning_Verbosity":
                    length = chain_length(chain)
                    if length is not None:
                        self.rv_len.append((level, length))
        self.agreement.add(chain if isinstance(chain, Chain) else _as_chain(chain))

    def report(self) -> dict[str, Any]:
        metrics = {}
        for metric, values in self.levels.items():
            metrics[SHORT[metric]] = _spread(values)
        rho = p = None
        if self.rv_len:
            rho, p = spearman([a for a, _ in self.rv_len], [b for _, b in self.rv_len])
        agreement = self.agreement.report()
        warnings = []
        for short, m in metrics.items():
            if m["n"] >= MIN_FOR_WARN and m["modal_share"] is not None and m["modal_share"] > MODAL_WARN:
                warnings.append(f"{short}: {100 * m['modal_share']:.0f}% of scored chains got level "
                                f"{m['modal_level']}; the judge's {short} carries little information")
        return {"chains": self.chains, "metrics": metrics,
                "rv_length": {"n": len(self.rv_len), "spearman": rho, "p_value": p},
                "agreement": {"levels": agreement["levels"], "correctness": agreement["correctness"]},
                "modal_warn": MODAL_WARN, "warnings": warnings}


def _as_chain(row: dict[str, Any]) -> Chain:
    """The parts of a JSONL chain the agreement tracker reads (judgments, correctness)."""
    from ..records import Correctness, Judgment

    judgments = []
    for j in row.get("judgments") or []:
        try:
            judgments.append(Judgment.model_validate(j))
        except ValueError:
            continue
    corr = row.get("correctness")
    try:
        correctness = Correctness.model_validate(corr) if isinstance(corr, dict) else None
    except ValueError:
        correctness = None
    return Chain.model_construct(judgments=judgments, correctness=correctness)


def _spread(values: list[int]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "levels_used": 0, "min": None, "max": None, "mean": None, "std": None,
                "modal_level": None, "modal_share": None, "histogram": [0] * 10}
    counts = Counter(values)
    modal, modal_n = max(counts.items(), key=lambda kv: (kv[1], -kv[0]))
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return {"n": len(values), "levels_used": len(counts), "min": min(values), "max": max(values),
            "mean": mean, "std": std, "modal_level": modal, "modal_share": modal_n / len(values),
            "histogram": [counts.get(i, 0) for i in range(10)]}


def diagnose(chains: Any) -> dict[str, Any]:
    """:meth:`JudgeDiagnostics.report` over an iterable of chains."""
    diag = JudgeDiagnostics()
    for chain in chains:
        diag.add(chain)
    return diag.report()


def format_diagnostics(report: dict[str, Any]) -> str:
    """Plain-text lines for the judge's summary."""
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.0f}%"

    def num(x: float | None, digits: int = 2) -> str:
        return "n/a" if x is None else f"{x:.{digits}f}"

    lines = [f"judge diagnostics over {report['chains']} chains"]
    for short, m in report["metrics"].items():
        if not m["n"]:
            lines.append(f"  {short}: no scores")
            continue
        lines.append(f"  {short}: {m['n']} scored ({pct(m['n'] / report['chains'] if report['chains'] else None)}), "
                     f"levels {m['min']}-{m['max']} ({m['levels_used']} used), mean {num(m['mean'])}, "
                     f"sd {num(m['std'])}; modal level {m['modal_level']} = {pct(m['modal_share'])}")
    rl = report["rv_length"]
    if rl["n"]:
        lines.append(f"  RV vs chain length: spearman {num(rl['spearman'])} over {rl['n']} chains")
    for row in report["agreement"]["levels"]:
        lines.append(f"  {SHORT.get(row['metric'], row['metric'])} agreement {row['a']} vs {row['b']}: "
                     f"n={row['n']} spearman={num(row['spearman'])} exact={pct(row['exact_agreement'])}")
    for row in report["agreement"]["correctness"]:
        lines.append(f"  correctness agreement {row['a']} vs {row['b']}: n={row['n']} "
                     f"kappa={num(row['cohen_kappa'])} agreement={pct(row['agreement'])}")
    lines += [f"  warning: {w}" for w in report["warnings"]]
    return "\n".join(lines)


__all__ = ["JudgeDiagnostics", "MODAL_WARN", "chain_length", "diagnose", "format_diagnostics"]
