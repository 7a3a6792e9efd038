"""``thoughtdistill eval compare``: a table across runs (markdown, self-contained HTML with an
accuracy-vs-tokens plot), optionally with published reference rows (``reference.json``)."""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from ..errors import ThoughtDistillError
from .run import SCHEMA


def load_reference() -> dict[str, Any]:
    return json.loads(resources.files("thoughtdistill.evaluate").joinpath("reference.json").read_text())


def reference_rows(select: Sequence[str]) -> list[dict[str, Any]]:
    """Published rows whose family or model is in ``select`` ('all' = every row)."""
    ref = load_reference()
    wanted = {s.lower() for s in select}
    rows = [r for r in ref["rows"]
            if "all" in wanted or r["family"].lower() in wanted or r["model"].lower() in wanted]
    known = {r["family"].lower() for r in ref["rows"]} | {r["model"].lower() for r in ref["rows"]} | {"all"}
    unknown = wanted - known
    if unknown:
        raise ThoughtDistillError(f"unknown reference {sorted(unknown)}; choose families "
                                  f"{sorted({r['family'] for r in ref['rows']})}, model names, or 'all'")
    return rows


SIDECAR_SUFFIX = ".meta.json"  # infer's resume metadata, written beside the run JSONs


def load_runs(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Run JSONs; infer's ``*.meta.json`` sidecars are passed over, so ``eval/*.json`` works."""
    runs = []
    for path in paths:
        path = Path(path)
        if path.name.endswith(SIDECAR_SUFFIX):
            continue
        if not path.exists():
            raise ThoughtDistillError(f"{path}: run JSON not found")
        try:
            run = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ThoughtDistillError(f"{path}: not JSON: {exc}") from None
        if not isinstance(run, dict) or run.get("schema") != SCHEMA:
            raise ThoughtDistillError(f"{path}: not a thoughtdistill eval run (schema {SCHEMA})")
        runs.append(run)
    return runs


def _pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}"


def _num(x: float | None, digits: int = 0) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines)

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _row_label(run: dict[str, Any]) -> str:
    return f"{run['label']} ({'think' if run['enable_thinking'] else 'no-think'})"


def summary_table(runs: Sequence[dict[str, Any]], refs: Sequence[dict[str, Any]] = ()) -> Table:
    """Rows: models (runs, then reference rows); columns: benchmarks; cells: accuracy % ± CI."""
    benches: list[str] = []
    for run in runs:
        if run["benchmark"]["name"] not in benches:
            benches.append(run["benchmark"]["name"])
    for ref in refs:
        for b in ref["scores"]:
            if b not in benches:
                benches.append(b)
    cells: dict[str, dict[str, str]] = {}
    for run in runs:
        m = run["metrics"]
        key = f"avg@{run['n']}"
        est = m.get(key, {})
        half = (est.get("ci_high", 0) - est.get("ci_low", 0)) / 2 if est else None
        text = _pct(m["accuracy"]) + (f" ± {_pct(half)}" if half else "")
        cells.setdefault(_row_label(run), {})[run["benchmark"]["name"]] = text
    for ref in refs:
        cells[f"{ref['model']} (published)"] = {b: f"{v:.1f}" for b, v in ref["scores"].items()}
    return Table(["model"] + benches, [[label] + [c.get(b, "–") for b in benches] for label, c in cells.items()])


def detail_table(runs: Sequence[dict[str, Any]]) -> Table:
    header = ["model", "benchmark", "thinking", "items", "n", "avg@n %", "95% CI", "pass@k %", "maj@n %",
              "tokens", "thinking tok", "answer tok", "truncated %", "acc per 1k tok %"]
    rows = []
    for run in runs:
        m, n = run["metrics"], run["n"]
        est = m.get(f"avg@{n}", {})
        passes = [k for k in m if k.startswith("pass@") and k != "pass@1"]
        top = max(passes, key=lambda k: int(k.split("@")[1]), default=None)
        rows.append([
            run["label"], run["benchmark"]["name"], "on" if run["enable_thinking"] else "off",
            str(m["n_problems"]), str(n), _pct(m["accuracy"]),
            f"{_pct(est.get('ci_low'))}–{_pct(est.get('ci_high'))}" if est else "–",
            f"{top}: {_pct(m[top]['value'])}" if top else "–",
            _pct(m[f"maj@{n}"]["value"]) if f"maj@{n}" in m else "–",
            _num(m.get("mean_completion_tokens")), _num(m.get("mean_thinking_tokens")),
            _num(m.get("mean_answer_tokens")), _pct(m.get("truncation_rate")),
            _pct(m.get("accuracy_per_1k_tokens"), 2),
        ])
    return Table(header, rows)


def plot_png(runs: Sequence[dict[str, Any]]) -> bytes:
    """Accuracy (%) vs mean completion tokens, one panel per benchmark, CI as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    benches = sorted({r["benchmark"]["name"] for r in runs})
    fig, axes = plt.subplots(1, max(1, len(benches)), figsize=(4.5 * max(1, len(benches)), 3.6), squeeze=False)
    for ax, bench in zip(axes[0], benches):
        for run in (r for r in runs if r["benchmark"]["name"] == bench):
            m = run["metrics"]
            x = m.get("mean_completion_tokens") or 0
            y = 100 * m["accuracy"]
            est = m.get(f"avg@{run['n']}", {})
            yerr = [[y - 100 * est.get("ci_low", m["accuracy"])], [100 * est.get("ci_high", m["accuracy"]) - y]]
            ax.errorbar([x], [y], yerr=yerr, fmt="o", capsize=3)
            ax.annotate(_row_label(run), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_title(bench)
        ax.set_xlabel("mean completion tokens")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(-5, 105)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def compare_markdown(runs: Sequence[dict[str, Any]], refs: Sequence[dict[str, Any]] = ()) -> str:
    parts = ["## Accuracy (%, ± half-width of the 95% CI)", "", summary_table(runs, refs).markdown(), "",
             "## Details", "", detail_table(runs).markdown()]
    if refs:
        src = load_reference()
        parts += ["", f"Published rows: {src['source']} ({src['url']}). {src['note']}"]
    return "\n".join(parts) + "\n"


def compare_html(runs: Sequence[dict[str, Any]], refs: Sequence[dict[str, Any]] = ()) -> str:
    img = base64.b64encode(plot_png(runs)).decode() if runs else ""
    src = load_reference() if refs else None
    note = (f"<p class='note'>Published rows: {html.escape(src['source'])} "
            f"(<a href='{html.escape(src['url'])}'>link</a>). {html.escape(src['note'])}</p>") if src else ""
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
             "text-align:right}td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:90%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>thoughtdistill eval compare</title>"
            f"<style>{style}</style></head><body><h1>Evaluation comparison</h1>"
            f"<h2>Accuracy (%, ± half-width of the 95% CI)</h2>{summary_table(runs, refs).html()}{note}"
            f"<h2>Accuracy vs tokens</h2>"
            + (f"<img alt='accuracy vs mean completion tokens' src='data:image/png;base64,{img}'>" if img else "")
            + f"<h2>Details</h2>{detail_table(runs).html()}</body></html>\n")


def compare_runs(paths: Sequence[str | Path], *, reference: Sequence[str] = (),
                 markdown_out: str | Path | None = None, html_out: str | Path | None = None) -> str:
    """Build the comparison; write the files asked for; return the markdown."""
    runs = load_runs(paths)
    refs = reference_rows(reference) if reference else []
    md = compare_markdown(runs, refs)
    if markdown_out:
        Path(markdown_out).write_text(md, encoding="utf-8")
    if html_out:
        Path(html_out).write_text(compare_html(runs, refs), encoding="utf-8")
    return md
