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
    return "–" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _empty(what: str) -> str:
    return f'<p class="empty">{_e(what)}</p>'


def render_html(data: dict[str, Any], title: str) -> str:
    f = data["funnel"]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
             f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
             f"<header><h1>{_e(title)}</h1><p>run directory: <code>{_e(data['run_dir'])}</code></p></header><main>"]
    # summary
    tok = data["tokens"]
    parts.append("<section id='summary'><h2>Summary</h2><table>"
                 f"<tr><th>recipe</th><td>{_e(data['recipe'])}</td></tr>"
                 f"<tr><th>stages completed</th><td>{len(data['stages'])}</td></tr>"
                 f"<tr><th>teachers</th><td>{_e(', '.join(f'{k} ({v})' for k, v in data['teachers'].items()) or '–')}</td></tr>"
                 f"<tr><th>generation tokens (prompt / completion)</th><td>{tok['generation_prompt']} / {tok['generation_completion']}</td></tr>"
                 f"<tr><th>evaluation tokens</th><td>{tok['evaluation']}</td></tr></table></section>")
    # funnel
    steps = "".join(f"<div class='step'><b>{_num(f[k])}</b><span>{k}</span></div>"
                    for k in ("questions", "chains", "verified", "selected"))
    parts.append(f"<section id='funnel'><h2>Funnel</h2><div class='funnel'>{steps}</div></section>")
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
    ev = data["evaluation"]
    if ev:
        rows = "".join(
            f"<tr><td>{_e(r['stage'])}</td><td>{_e(r['label'])}</td><td>{_e(r['benchmark'])}</td>"
            f"<td class='num'>{_num(r['n_problems'])}</td><td class='num'>{_num(r['n'])}</td>"
            f"<td class='num'>{_num(r['accuracy'])}</td>"
            f"<td>{_ci(r['ci'])}</td>"
            f"<td class='num'>{_num(r['mean_completion_tokens'], 1)}</td><td class='num'>{_num(r['tokens_spent'])}</td>"
            f"<td class='num'>{_num(r['truncation_rate'])}</td><td><a href='{_e(r['file'])}'>json</a></td></tr>"
            for r in ev)
        body = ("<table><tr><th>stage</th><th>model</th><th>benchmark</th><th class='num'>problems</th>"
                "<th class='num'>n</th><th class='num'>accuracy</th><th>CI</th><th class='num'>mean tokens</th>"
                f"<th class='num'>tokens spent</th><th class='num'>truncated</th><th>run</th></tr>{rows}</table>")
    else:
        body = _empty("no evaluation runs in this run")
    parts.append(f"<section id='evaluation'><h2>Evaluation</h2>{body}</section>")
    sel = data["selection"]
    if sel:
        d = sel["data"] if isinstance(sel["data"], dict) else {}
        scalars = {k: v for k, v in d.items() if isinstance(v, (int, float, str, bool)) and k != "output"}
        if isinstance(d.get("counts"), dict):
            scalars.update({k: v for k, v in d["counts"].items() if isinstance(v, (int, float))})
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in scalars.items())
        body = f"<table>{rows}</table>"
        steps = [x for x in d.get("steps", []) if isinstance(x, dict)]
        if steps:
            srows = "".join(
                f"<tr><td>{_e(x.get('step'))}</td><td class='num'>{_num(x.get('chains'))}</td>"
                f"<td class='num'>{_num(x.get('questions'))}</td><td class='num'>{_num(x.get('removed_chains'))}</td>"
                f"<td>{_e(', '.join(f'{k}: {v}' for k, v in (x.get('reasons') or {}).items()))}</td></tr>"
                for x in steps)
            body += ("<h3>Steps</h3><table><tr><th>step</th><th class='num'>chains left</th>"
                     "<th class='num'>questions left</th><th class='num'>chains removed</th><th>why</th></tr>"
                     f"{srows}</table>")
        body += f"<p>full report: <a href='{_e(sel['file'])}'>{_e(sel['file'])}</a></p>"
    else:
        body = _empty("no selection report in this run")
    parts.append(f"<section id='selection'><h2>Selection</h2>{body}</section>")
    rows = "".join(
        f"<tr><td>{_e(s['stage'])}</td><td>{_e(s['kind'])}</td><td class='num'>{_num(s.get('seconds'), 1)}</td>"
        f"<td class='num'>{_num(s.get('questions'))}</td><td class='num'>{_num(s.get('chains'))}</td>"
        f"<td class='num'>{_num(s.get('verified'))}</td><td>"
        + (f"<a href='{_e(s['records'])}'>{_e(s['records'])}</a>" if s.get("records") else "") + "</td></tr>"
        for s in data["stages"])
    parts.append("<section id='stages'><h2>Stages</h2><table><tr><th>stage</th><th>kind</th><th class='num'>seconds</th>"
                 "<th class='num'>questions</th><th class='num'>chains</th><th class='num'>verified</th><th>records</th></tr>"
                 f"{rows}</table></section>")
    rows = "".join(f"<li><a href='{_e(x['path'])}'>{_e(x['name'])}</a> ({x['bytes']:,} bytes)</li>" for x in data["files"])
    parts.append(f"<section id='files'><h2>Data files</h2><ul>{rows}</ul></section>" if rows else
                 f"<section id='files'><h2>Data files</h2>{_empty('no data files')}</section>")
    parts.append(f"</main><script>{SCRIPT}</script></body></html>")
    return "".join(parts)
