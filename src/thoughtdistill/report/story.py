"""The report's "what happened" paragraph: the run's numbers read out in words.

Each finding is one sentence with a ``kind`` (``improved``, ``unchanged``, ``worse``, ``note``,
``warning``) so the page can colour it and a test can check it. Built only from what the
report already collected (stage outputs, trainer log, eval run JSONs, judge diagnostics);
every metric may be missing (older eval runs have no format adherence or held-out NLL).
"""

from __future__ import annotations

from typing import Any

SMALL_STUDENT = 1_000_000_000  # parameters: below this, benchmark accuracy near zero is expected
FLAT_POINTS = 5.0  # a change under this many percentage points is "unchanged"
FLAT_LOSS = 0.05  # a relative loss change under this is "barely moved"
HIGH_TRUNCATION = 0.5


def pct(x: float | None, digits: int = 0) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def size_label(params: int | None) -> str | None:
    if not params:
        return None
    if params >= 1e9:
        return f"{params / 1e9:.1f}B".replace(".0B", "B")
    return f"{params / 1e6:.0f}M"


def _finding(kind: str, text: str) -> dict[str, str]:
    return {"kind": kind, "text": text}


def _pairs(evaluation: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(before, after) per benchmark: the first and the last run on it, in stage order."""
    by_bench: dict[str, list[dict[str, Any]]] = {}
    for row in evaluation:
        by_bench.setdefault(str(row.get("benchmark")), []).append(row)
    return [(rows[0], rows[-1]) for rows in by_bench.values() if len(rows) >= 2]


def _rate_change(name: str, a: float | None, b: float | None, higher_is_better: bool = True,
                 detail: str = "") -> dict[str, str] | None:
    if a is None or b is None:
        return None
    delta = 100 * (b - a)
    if abs(delta) < FLAT_POINTS:
        return _finding("unchanged", f"{name} unchanged: {pct(a)} → {pct(b)}{detail}.")
    better = (delta > 0) == higher_is_better
    verb = "rose" if delta > 0 else "fell"
    return _finding("improved" if better else "worse",
                    f"{name} {verb} from {pct(a)} to {pct(b)} ({delta:+.0f} points){detail}.")


def _eval_findings(before: dict[str, Any], after: dict[str, Any], data: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    bench = before.get("benchmark") or "the benchmark"
    n = after.get("n_problems")
    head = f"On {n} held-out {bench} problems" if n else f"On {bench}"
    out.append(_finding("note", f"{head}, {before.get('label')} (before) vs {after.get('label')} (after):"))
    f = _rate_change("Format adherence (thought closed, final answer extractable)",
                     before.get("format_adherence"), after.get("format_adherence"))
    if f:
        trunc, cap = _cut_at_cap(after), after.get("max_new_tokens")
        if f["kind"] != "improved" and trunc is not None and trunc >= HIGH_TRUNCATION:
            f["text"] = f["text"].rstrip(".") + (f": {pct(trunc)} of answers were cut at the {cap}-token cap before "
                                                 "they could finish." if cap else f": {pct(trunc)} of answers were cut.")
        out.append(f)
    a, b = before.get("heldout_nll"), after.get("heldout_nll")
    if a is not None and b is not None and a > 0:
        rel = (b - a) / a
        kind = "improved" if rel <= -FLAT_LOSS else ("worse" if rel >= FLAT_LOSS else "unchanged")
        word = {"improved": "fell", "worse": "rose", "unchanged": "barely moved"}[kind]
        out.append(_finding(kind, f"Held-out teacher-chain NLL {word}: {a:.3f} → {b:.3f} nats/token "
                                  f"({100 * rel:+.0f}%) on chains never trained on."))
    cap = after.get("max_new_tokens")
    t = _rate_change(f"Truncation (answers cut at the {cap}-token cap or whose thought never closed)" if cap
                     else "Truncation (answers cut, or whose thought never closed)",
                     before.get("truncation_rate"), after.get("truncation_rate"), higher_is_better=False)
    if t:
        out.append(t)
    acc = _rate_change("Accuracy", before.get("accuracy"), after.get("accuracy"),
                       detail=f" (95% CI after: {pct(after['ci'][0])}–{pct(after['ci'][1])})" if after.get("ci") else "")
    if acc:
        if acc["kind"] != "improved":
            acc["text"] = acc["text"].rstrip(".") + _accuracy_reasons(after, data)
        out.append(acc)
    return out


def _cut_at_cap(run: dict[str, Any]) -> float | None:
    """Share of answers the token budget cut (runs before cap_rate existed: the truncation rate,
    which also counts thoughts that stopped unclosed)."""
    return run["cap_rate"] if run.get("cap_rate") is not None else run.get("truncation_rate")


def _accuracy_reasons(after: dict[str, Any], data: dict[str, Any]) -> str:
    why = []
    size = size_label(after.get("model_params"))
    if after.get("model_params") and after["model_params"] < SMALL_STUDENT:
        why.append(f"a {size} student rarely solves these problems, whatever it was trained on")
    trunc, cap = _cut_at_cap(after), after.get("max_new_tokens")
    if trunc is not None and trunc >= HIGH_TRUNCATION:
        why.append(f"{pct(trunc)} of answers hit the {cap}-token cap" if cap else f"{pct(trunc)} of answers were cut")
    if after.get("enable_thinking") is False and data.get("selected_with_thought"):
        why.append("it was evaluated with thinking off although it was trained on thinking chains")
    if after.get("n_problems") and after["n_problems"] < 50:
        why.append(f"{after['n_problems']} problems are too few to show a small change")
    return (": " + "; ".join(why) + ".") if why else "."


def _training_findings(tr: dict[str, Any]) -> list[dict[str, str]]:
    losses = tr.get("loss") or []
    first = losses[0] if losses else tr.get("first_loss")
    last = losses[-1] if losses else tr.get("last_loss")
    steps, examples, batch = tr.get("steps"), tr.get("examples"), tr.get("effective_batch")
    parts = []
    if steps is not None:
        parts.append(f"{steps} optimiser steps")
    if batch:
        parts.append(f"at an effective batch of {batch}")
    if examples is not None:
        parts.append(f"on {examples} training examples")
    text = "Training: " + (" ".join(parts) if parts else "ran")
    if isinstance(first, (int, float)) and isinstance(last, (int, float)) and first:
        rel = (last - first) / first
        text += f"; loss {first:.3f} → {last:.3f} ({100 * rel:+.0f}%)"
        if abs(rel) < FLAT_LOSS:
            text += ", barely moved: too few steps or too little data to change the student much"
            return [_finding("unchanged", text + ".")]
        return [_finding("improved" if rel < 0 else "worse", text + ".")]
    return [_finding("note", text + ".")]


def _data_findings(data: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    f = data.get("funnel") or {}
    teachers = data.get("teacher_table") or []
    if f.get("chains") is not None:
        names = ", ".join(t["teacher"] for t in teachers) or "no teacher"
        out.append(_finding("note", f"{f['chains']} chains for {f.get('questions')} questions from "
                                    f"{len(teachers)} teacher(s) ({names}); {f.get('selected', '–')} selected "
                                    "for training."))
    for t in teachers:
        decided = (t.get("correct") or 0) + (t.get("incorrect") or 0)
        if t.get("chains") and decided and not t.get("correct"):
            out.append(_finding("warning", f"None of the {decided} checked chains from {t['teacher']} is correct, "
                                           "so none of them is worth learning from."))
    selected = f.get("selected")
    if selected:
        top = max((t for t in teachers if t.get("selected")), key=lambda t: t["selected"], default=None)
        if top is not None and top["selected"] / selected >= 0.8 and len(teachers) > 1:
            out.append(_finding("note", f"The selection is {pct(top['selected'] / selected)} {top['teacher']} chains."))
    if f.get("chains") and f.get("judged") is not None and f["judged"] < f["chains"]:
        out.append(_finding("warning" if f["judged"] < 0.5 * f["chains"] else "note",
                            f"Only {f['judged']} of {f['chains']} chains ({pct(f['judged'] / f['chains'])}) "
                            "got both an RV and a CD score."))
    judge = data.get("judge") or {}
    for w in judge.get("warnings") or []:
        out.append(_finding("warning", f"Judge: {w}."))
    return out


def what_happened(data: dict[str, Any]) -> list[dict[str, str]]:
    """The findings, in reading order: results first, then training, then the data."""
    out: list[dict[str, str]] = []
    pairs = _pairs(data.get("evaluation") or [])
    for before, after in pairs:
        out += _eval_findings(before, after, data)
    if not pairs and data.get("evaluation"):
        row = data["evaluation"][-1]
        out.append(_finding("note", f"One evaluation ({row.get('label')} on {row.get('benchmark')}): accuracy "
                                    f"{pct(row.get('accuracy'))}; no before/after pair to compare."))
    if data.get("training"):
        out += _training_findings(data["training"])
    out += _data_findings(data)
    if not out:
        out.append(_finding("note", "Nothing has run in this run directory yet."))
    return out


__all__ = ["pct", "size_label", "what_happened"]
