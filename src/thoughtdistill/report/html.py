"""HTML rendering and figures (matplotlib, Agg, embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c9d1d9;font-size:13px}
main{max-width:1100px;margin:0 auto;padding:16px 32px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin:16px 0}
h2{font-size:18px;margin:0 0 12px}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #d8dee4;padding:6px 8px;text-align:left}th{background:#f6f8fa}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.funnel{display:flex;gap:12px;flex-wrap:wrap}.step{flex:1;min-width:140px;background:#ddf4ff;border-radius:6px;padding:12px}
.step b{display:block;font-size:26px}.step span{font-size:12px;color:#57606a}
img{max-width:100%;height:auto}.empty{color:#57606a;font-style:italic}
code{background:#f6f8fa;padding:1px 4px;border-radius:4px}header code{background:#32383f;color:#fff}
.story p{margin:6px 0;line-height:1.5}.story .improved{color:#1a7f37}.story .worse{color:#cf222e}
.story .warning{color:#9a6700}.story .unchanged{color:#57606a}
.warn{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:6px 10px;margin:8px 0;font-size:13px}
.step small{display:block;font-size:11px;color:#57606a}details summary{cursor:pointer;color:#57606a;margin-top:8px}
"""

# Marks the page once every figure decoded (checked by the browser test).
SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-figures', ok ? 'ok' : 'broken');
  document.body.setAttribute('data-figure-count', String(imgs.length));
});
"""


def _fig_png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def heatmap_figure(matrices: dict[str, list[list[int]]]) -> str:
    plt = _plt()
    fig, axes = plt.subplots(1, len(matrices), figsize=(5 * len(matrices), 4.2), squeeze=False)
    for ax, (title, matrix) in zip(axes[0], matrices.items()):
        im = ax.imshow(matrix, origin="lower", cmap="Blues", aspect="equal")
        ax.set_xlabel("Cognitive Difficulty (CD)")
        ax.set_ylabel("Reasoning Verbosity (RV)")
        ax.set_title(f"{title} (n={sum(map(sum, matrix))})")
        ax.set_xticks(range(10))
        ax.set_yticks(range(10))
        for rv, row in enumerate(matrix):
            for cd, count in enumerate(row):
                if count:
                    ax.text(cd, rv, str(count), ha="center", va="center", fontsize=7,
                            color="white" if count > max(map(max, matrix)) / 2 else "black")
        fig.colorbar(im, ax=ax, shrink=0.8)
    return _fig_png(fig)


def length_figure(lengths: dict[str, dict[str, Any]]) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    allv = [v for d in lengths.values() for v in d["values"]]
    bins = min(40, max(5, len(set(allv))))
    for label, d in lengths.items():
        ax.hist(d["values"], bins=bins, range=(min(allv), max(allv) + 1), alpha=0.6, label=f"{label} (n={len(d['values'])})")
    ax.set_xlabel(next(iter(lengths.values()))["unit"])
    ax.set_ylabel("chains")
    ax.legend()
    return _fig_png(fig)


def loss_figure(training: dict[str, Any]) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot(training["step"], training["loss"], marker="o", ms=3, label="train loss")
    if training.get("eval_loss"):
        ax.plot(training["eval_step"], training["eval_loss"], marker="s", ms=3, label="eval loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    return _fig_png(fig)


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return _e(x)


def _ci(ci: Any) -> str:
    return "–" if not ci else f"[{_pct(ci[0])}, {_pct(ci[1])}]"


def _pct(x: Any, digits: int = 1) -> str:
    """A rate (0–1) as a percent; '–' when missing."""
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float)):
        return "–"
    return f"{100 * x:.{digits}f}%"


def _share(part: Any, whole: Any) -> str:
    """'12 (40%)' of a count and its whole."""
    if part is None:
        return "–"
    if not whole:
        return _e(part)
    return f"{_e(part)} <small>({100 * part / whole:.0f}%)</small>"


# Human labels for select_report.json keys (docs/select.md); unlisted keys are not shown.
SELECT_LABELS = {
    "strategy": "strategy", "seed": "random seed",
    "rows_in": "rows read", "rows_bad": "bad rows", "questions_in": "questions in", "chains_in": "chains in",
    "questions_out": "questions kept", "chains_out": "chains kept", "tokens_out": "tokens kept",
}
STRATEGY_LABELS = {
    "cd_band": "CD band for the student", "student_size_b": "student size (billions of parameters)",
    "difficulty_source": "difficulty from", "rv_target_mean": "target mean RV", "score_mean": "mean fit score",
    "in_band": "chains in the CD band", "bins": "RV×CD bins", "empty_bins": "empty bins", "matched": "matched to",
}
STEP_LABELS = {"read": "read", "filters": "your filters", "quality": "quality checks", "exact_dedup": "exact duplicates",
               "near_dedup": "near duplicates", "decontaminate": "decontamination (eval overlap)",
               "strategy": "strategy", "budget": "budget"}


def _empty(what: str) -> str:
    return f'<p class="empty">{_e(what)}</p>'


def render_html(data: dict[str, Any], title: str) -> str:
    f = data["funnel"]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
             f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
             f"<header><h1>{_e(title)}</h1><p>run directory: <code>{_e(data['run_dir'])}</code></p></header><main>"]
    parts.append(_story(data.get("what_happened") or []))
    # summary
    tok = data["tokens"]
    parts.append("<section id='summary'><h2>Summary</h2><table>"
                 f"<tr><th>recipe</th><td>{_e(data['recipe'])}</td></tr>"
                 f"<tr><th>stages completed</th><td>{len(data['stages'])}</td></tr>"
                 f"<tr><th>teachers</th><td>{_e(', '.join(f'{k} ({v})' for k, v in data['teachers'].items()) or '–')}</td></tr>"
                 f"<tr><th>generation tokens (prompt / completion)</th><td>{tok['generation_prompt']:,} / {tok['generation_completion']:,}</td></tr>"
                 f"<tr><th>evaluation tokens</th><td>{tok['evaluation']:,}</td></tr></table></section>")
    parts.append(_funnel(f))
    parts.append(_teachers(data.get("teacher_table") or []))
    parts.append(_judge(data.get("judge")))
    # heatmaps
    body = (f"<img alt='RV x CD heatmaps' src='{heatmap_figure(data['heatmaps'])}'>" if data["heatmaps"]
            else _empty("no RV/CD annotations in this run"))
    parts.append(f"<section id='heatmaps'><h2>Reasoning Verbosity × Cognitive Difficulty</h2>{body}</section>")
    body = (f"<img alt='chain length histograms' src='{length_figure(data['lengths'])}'>" if data["lengths"]
            else _empty("no chains in this run"))
    parts.append(f"<section id='lengths'><h2>Chain lengths</h2>{body}</section>")
    tr = data["training"]
    if tr and tr.get("loss"):
        body = (f"<img alt='training loss' src='{loss_figure(tr)}'><p>{len(tr['loss'])} logged steps, "
                f"loss {tr['loss'][0]:.4f} → {tr['loss'][-1]:.4f}; log: <a href='{_e(tr['log'])}'>{_e(tr['log'])}</a></p>")
    else:
        body = _empty("no training log (trainer_log.json) in this run")
    parts.append(f"<section id='training'><h2>Training loss</h2>{body}</section>")
    parts.append(_evaluation(data["evaluation"]))
    parts.append(_selection(data["selection"]))
    parts.append(_stages(data["stages"]))
    parts.append(_files(data["files"]))
    parts.append(f"</main><script>{SCRIPT}</script></body></html>")
    return "".join(parts)


def _story(findings: list[dict[str, str]]) -> str:
    body = "".join(f"<p class='{_e(x.get('kind'))}'>{_e(x.get('text'))}</p>" for x in findings)
    return f"<section id='what-happened' class='story'><h2>What happened</h2>{body or _empty('nothing to report')}</section>"


def _funnel(f: dict[str, Any]) -> str:
    chains = f.get("chains")
    steps = [("questions", f.get("questions"), None, "questions"),
             ("chains", chains, None, "chains generated (recorded + live)"),
             ("judged", f.get("judged"), chains, "judged: both RV and CD scored"),
             ("rule_verified", f.get("rule_verified"), chains, "rule-verified: checked by math-verify / tests"),
             ("correct", f.get("correct"), chains, "correct: verdict true (rule or judge)"),
             ("selected", f.get("selected"), chains, "selected for training")]
    html_steps = "".join(
        f"<div class='step' data-step='{key}'><b>{_num(value)}</b>"
        f"<span>{_e(label)}</span><small>{'' if value is None or not whole else f'{100 * value / whole:.0f}% of chains'}</small></div>"
        for key, value, whole, label in steps)
    return f"<section id='funnel'><h2>Funnel</h2><div class='funnel'>{html_steps}</div></section>"


NUM = " class='num'"


def _table(headers: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    """A table whose columns in ``numeric`` are right-aligned; ``rows`` hold HTML already escaped."""
    def cells(tag: str, values: list[str]) -> str:
        return "".join(f"<{tag}{NUM if i in numeric else ''}>{v}</{tag}>" for i, v in enumerate(values))

    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    return f"<table><tr>{cells('th', [_e(h) for h in headers])}</tr>{body}</table>"


def _teachers(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return f"<section id='teachers'><h2>Per teacher</h2>{_empty('no chains in this run')}</section>"
    shares = ("correct", "rule_verified", "judged", "truncated", "selected")
    table = _table(["teacher", "chains", "correct", "rule-verified", "judged (RV+CD)", "truncated", "selected"],
                   [[_e(r["teacher"]), _num(r.get("chains")), *(_share(r.get(k), r.get("chains")) for k in shares)]
                    for r in rows], numeric=set(range(1, 7)))
    return f"<section id='teachers'><h2>Per teacher</h2>{table}</section>"


def _judge(j: dict[str, Any] | None) -> str:
    if not j:
        return f"<section id='judge'><h2>Judge diagnostics</h2>{_empty('no judge stage in this run')}</section>"
    names = {"RV": "Reasoning Verbosity (RV)", "CD": "Cognitive Difficulty (CD)"}
    rows = ""
    for short, m in j["metrics"].items():
        if not m["n"]:
            rows += f"<tr><td>{names.get(short, short)}</td><td colspan='6' class='empty'>no scores</td></tr>"
            continue
        hist = " ".join(f"{lvl}:{c}" for lvl, c in enumerate(m["histogram"]) if c)
        flag = " ⚠" if m["modal_share"] > j.get("modal_warn", 0.8) else ""
        rows += (f"<tr><td>{names.get(short, short)}</td><td class='num'>{_share(m['n'], j['chains'])}</td>"
                 f"<td class='num'>{m['min']}–{m['max']} ({m['levels_used']} level{'' if m['levels_used'] == 1 else 's'})</td>"
                 f"<td class='num'>{m['mean']:.2f} ± {m['std']:.2f}</td>"
                 f"<td class='num'>{m['modal_level']}: {_pct(m['modal_share'], 0)}{flag}</td><td>{_e(hist)}</td></tr>")
    body = ("<table><tr><th>metric</th><th class='num'>chains scored</th><th class='num'>spread</th>"
            "<th class='num'>mean ± sd</th><th class='num'>modal level: share</th><th>histogram (level:chains)</th></tr>"
            f"{rows}</table>")
    rl = j.get("rv_length") or {}
    rho = rl.get("spearman")
    body += (f"<p>RV vs chain length: Spearman ρ = {rho:.2f} over {rl['n']} chains "
             f"({'RV tracks length' if rho > 0.3 else 'RV does not track length'}).</p>" if rho is not None
             else "<p>RV vs chain length: undefined (too few chains, or constant scores).</p>")
    agree = j.get("agreement") or {}
    metric_names = {"Reasoning_Verbosity": names["RV"], "Cognitive_Difficulty": names["CD"]}
    arows = "".join(f"<tr><td>{_e(metric_names.get(r['metric'], r['metric']))}</td><td>{_e(r['a'])} vs {_e(r['b'])}</td><td class='num'>{r['n']}</td>"
                    f"<td class='num'>{_num(r.get('spearman'), 2)}</td><td class='num'>{_pct(r.get('exact_agreement'), 0)}</td></tr>"
                    for r in agree.get("levels", []))
    arows += "".join(f"<tr><td>correctness</td><td>{_e(r['a'])} vs {_e(r['b'])}</td><td class='num'>{r['n']}</td>"
                     f"<td class='num'>κ {_num(r.get('cohen_kappa'), 2)}</td><td class='num'>{_pct(r.get('agreement'), 0)}</td></tr>"
                     for r in agree.get("correctness", []))
    body += ("<h3>Agreement between raters</h3><table><tr><th>metric</th><th>raters</th><th class='num'>chains</th>"
             f"<th class='num'>Spearman / κ</th><th class='num'>exact agreement</th></tr>{arows}</table>" if arows
             else "<p class='empty'>one rater per metric: no agreement to measure (add a second judge)</p>")
    body += "".join(f"<p class='warn'>⚠ {_e(w)}</p>" for w in j.get("warnings") or [])
    return f"<section id='judge'><h2>Judge diagnostics ({_e(j.get('stage'))})</h2>{body}</section>"


def _evaluation(ev: list[dict[str, Any]]) -> str:
    if not ev:
        return f"<section id='evaluation'><h2>Evaluation</h2>{_empty('no evaluation runs in this run')}</section>"
    headers = ["stage", "model", "benchmark", "problems", "n", "accuracy", "95% CI", "format adherence",
               "held-out NLL/token", "mean tokens", "tokens spent", "truncated", "run"]
    rows = [[_e(r["stage"]), _e(r["label"]), _e(r["benchmark"]), _num(r["n_problems"]), _num(r["n"]),
             _pct(r["accuracy"]), _ci(r["ci"]), _pct(r.get("format_adherence")), _num(r.get("heldout_nll"), 3),
             _num(r["mean_completion_tokens"], 1), _num(r["tokens_spent"]), _pct(r["truncation_rate"]),
             f"<a href='{_e(r['file'])}'>json</a>"] for r in ev]
    body = _table(headers, rows, numeric={3, 4, 5, 7, 8, 9, 10, 11})
    body += _before_after(ev)
    return f"<section id='evaluation'><h2>Evaluation</h2>{body}</section>"


def _before_after(ev: list[dict[str, Any]]) -> str:
    """Per benchmark evaluated more than once: the first run → the last one, in words."""
    by_bench: dict[Any, list[dict[str, Any]]] = {}
    for r in ev:
        by_bench.setdefault(r.get("benchmark"), []).append(r)
    lines = []
    for bench, rows in by_bench.items():
        if len(rows) < 2:
            continue
        a, b = rows[0], rows[-1]
        bits = []
        fa, fb = a.get("format_adherence"), b.get("format_adherence")
        if isinstance(fa, (int, float)) and isinstance(fb, (int, float)):
            bits.append(f"format adherence {_pct(fa)} → {_pct(fb)} ({100 * (fb - fa):+.0f} points)")
        na, nb = a.get("heldout_nll"), b.get("heldout_nll")
        if isinstance(na, (int, float)) and isinstance(nb, (int, float)) and na > 0:
            bits.append(f"held-out teacher-chain NLL {na:.3f} → {nb:.3f} nats/token ({100 * (nb - na) / na:+.0f}%)")
        ta, tb = a.get("truncation_rate"), b.get("truncation_rate")
        if isinstance(ta, (int, float)) and isinstance(tb, (int, float)):
            bits.append(f"truncated {_pct(ta)} → {_pct(tb)}")
        acc = f"accuracy {_pct(a.get('accuracy'))} {_ci(a.get('ci'))} → {_pct(b.get('accuracy'))} {_ci(b.get('ci'))}"
        ca, cb = a.get("ci"), b.get("ci")
        if ca and cb and ca[0] <= cb[1] and cb[0] <= ca[1]:
            acc += " (the intervals overlap: no measured change)"
        bits.append(acc)
        lines.append(f"<p class='change'><b>{_e(a.get('label'))} → {_e(b.get('label'))}</b> on {_e(bench)}: "
                     f"{_e('; '.join(bits))}.</p>")
    return "".join(lines)


def _selection(sel: dict[str, Any] | None) -> str:
    if not sel:
        return f"<section id='selection'><h2>Selection</h2>{_empty('no selection report in this run')}</section>"
    d = sel["data"] if isinstance(sel["data"], dict) else {}
    shown: list[tuple[str, Any]] = [(SELECT_LABELS[k], d[k]) for k in ("strategy", "seed") if d.get(k) is not None]
    counts = d.get("counts") if isinstance(d.get("counts"), dict) else {}
    shown += [(SELECT_LABELS[k], f"{counts[k]:,}") for k in SELECT_LABELS if isinstance(counts.get(k), (int, float))]
    if not counts:  # an older report with the counts at the top level
        shown += [(SELECT_LABELS[k], d[k]) for k in SELECT_LABELS
                  if k not in ("strategy", "seed") and isinstance(d.get(k), (int, float))]
    srep = d.get("strategy_report") if isinstance(d.get("strategy_report"), dict) else {}
    for k, label in STRATEGY_LABELS.items():
        v = srep.get(k)
        if isinstance(v, float):
            v = f"{v:.2f}"
        elif isinstance(v, (list, tuple)):
            v = "–".join(str(x) for x in v)
        if v is not None and not isinstance(v, dict):
            shown.append((label, v))
    timing = d.get("timing_s") if isinstance(d.get("timing_s"), dict) else {}
    if isinstance(timing.get("total"), (int, float)):
        shown.append(("time", f"{timing['total']:.1f} s"))
    body = "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in shown) + "</table>"
    steps = [x for x in d.get("steps", []) if isinstance(x, dict)]
    if steps:
        srows = "".join(
            f"<tr><td>{_e(STEP_LABELS.get(x.get('step'), x.get('step')))}</td><td class='num'>{_num(x.get('chains'))}</td>"
            f"<td class='num'>{_num(x.get('questions'))}</td><td class='num'>{_num(x.get('removed_chains'))}</td>"
            f"<td>{_e(', '.join(f'{k.replace(chr(95), chr(32))}: {v}' for k, v in (x.get('reasons') or {}).items()))}</td></tr>"
            for x in steps)
        body += ("<h3>Steps</h3><table><tr><th>step</th><th class='num'>chains left</th>"
                 "<th class='num'>questions left</th><th class='num'>chains removed</th><th>why</th></tr>"
                 f"{srows}</table>")
    body += "".join(f"<p class='warn'>⚠ {_e(w)}</p>" for w in d.get("warnings") or [] if isinstance(w, str))
    body += f"<p>full report: <a href='{_e(sel['file'])}'>{_e(sel['file'])}</a></p>"
    return f"<section id='selection'><h2>Selection</h2>{body}</section>"


def _stages(stages: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{_e(s['stage'])}</td><td>{_e(s['kind'])}</td><td class='num'>{_num(s.get('seconds'), 1)}</td>"
        f"<td class='num'>{_num(s.get('questions'))}</td><td class='num'>{_num(s.get('chains'))}</td>"
        f"<td class='num'>{_num(s.get('judged'))}</td><td class='num'>{_num(s.get('rule_verified'))}</td>"
        f"<td class='num'>{_num(s.get('correct'))}</td><td>"
        + (f"<a href='{_e(s['records'])}'>{_e(s['records'])}</a>" if s.get("records") else "") + "</td></tr>"
        for s in stages)
    return ("<section id='stages'><h2>Stages</h2><table><tr><th>stage</th><th>kind</th><th class='num'>seconds</th>"
            "<th class='num'>questions</th><th class='num'>chains</th><th class='num'>judged</th>"
            "<th class='num'>rule-verified</th><th class='num'>correct</th><th>records</th></tr>"
            f"{rows}</table></section>")


def _files(files: list[dict[str, Any]]) -> str:
    def li(x: dict[str, Any]) -> str:
        return f"<li><a href='{_e(x['path'])}'>{_e(x['name'])}</a> ({x['bytes']:,} bytes)</li>"

    main = [x for x in files if not x.get("internal")]
    internal = [x for x in files if x.get("internal")]
    if not files:
        return f"<section id='files'><h2>Data files</h2>{_empty('no data files')}</section>"
    body = f"<ul>{''.join(map(li, main))}</ul>" if main else _empty("no data files")
    if internal:
        body += (f"<details><summary>{len(internal)} internal files (journals, state, manifests, metadata)</summary>"
                 f"<ul>{''.join(map(li, internal))}</ul></details>")
    return f"<section id='files'><h2>Data files</h2>{body}</section>"
