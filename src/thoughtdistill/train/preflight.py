"""``thoughtdistill train --preflight``: look at what will be trained on before spending GPU hours.

- renders N samples with the supervised tokens highlighted (terminal via rich, and HTML);
- a token-length histogram against ``max_length`` (what is dropped or truncated);
- checks, token for token, that the training render starts with exactly what inference feeds
  the model (``add_generation_prompt=True``), that supervision starts right after it, and that
  the end-of-turn/EOS token is supervised. Any mismatch fails the preflight.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from .config import TrainConfig
from .data import iter_conversations, load_dataset_file
from .render import ChainCounts, Example, check_example, resolve_template


@dataclass
class PreflightResult:
    ok: bool
    problems: list[str]
    html_path: Path
    samples: int
    stats: dict
    histogram: list[tuple[int, int, int]] = field(default_factory=list)  # (lo, hi, count)
    template_source: str = ""


def histogram(lengths: list[int], max_length: int, bins: int = 12) -> list[tuple[int, int, int]]:
    if not lengths:
        return []
    top = max(max_length, max(min(x, max_length + 1) for x in lengths))
    width = max(1, -(-max_length // bins))
    out = []
    for lo in range(0, max_length, width):
        hi = min(lo + width, max_length)
        out.append((lo, hi, sum(1 for x in lengths if lo < x <= hi or (lo == 0 and x == 0))))
    out.append((max_length, top, sum(1 for x in lengths if x > max_length)))
    return out


def highlighted_spans(tokenizer, example: Example) -> list[tuple[str, bool]]:
    """(text, supervised) for each run of tokens with the same supervision, each run decoded
    as a whole: a character split over several byte-level tokens (``⌈``, CJK, emoji) decodes
    right instead of as U+FFFD pieces."""
    spans: list[tuple[str, bool]] = []
    run: list[int] = []
    flag = None
    for tok, lab in zip(example.input_ids, example.labels):
        sup = lab != -100
        if run and sup != flag:
            spans.append((tokenizer.decode(run), bool(flag)))
            run = []
        run.append(tok)
        flag = sup
    if run:
        spans.append((tokenizer.decode(run), bool(flag)))
    return spans


def run_preflight(config: TrainConfig, console=None) -> PreflightResult:
    from rich.console import Console

    from .run import load_tokenizer, prepare_data, resolve_model_path

    console = console or Console()
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    student = resolve_model_path(config.student)
    tokenizer = load_tokenizer(student)
    template = resolve_template(tokenizer, config.chat_template)
    tokenizer.chat_template = template.template
    problems = _teacher_problems(config, tokenizer)
    arrow, stats = prepare_data(config, tokenizer, template, out)
    dataset = load_dataset_file(arrow)
    console.rule(f"template: {template.source} (sha {template.sha})")
    checked, sample_problems, parts_html = _check_samples(config, tokenizer, template, dataset, console)
    problems += sample_problems
    hist = histogram(stats.lengths, config.max_length)
    _print_lengths(config, stats, hist, console)
    summary = stats.summary()
    ok = not problems and checked > 0
    if checked == 0:
        problems.append("no sample could be checked")
    for p in problems:
        console.print(f"[red]problem:[/red] {p}")
    console.print("[green]preflight ok[/green]" if ok else "[red]preflight FAILED[/red]")
    html_path = out / "preflight.html"
    html_path.write_text(_page(config, ok, student, template, problems, stats, hist, parts_html), encoding="utf-8")
    console.print(f"HTML: {html_path}")
    return PreflightResult(ok, problems, html_path, checked, summary, hist, template.source)


def _teacher_problems(config: TrainConfig, tokenizer) -> list[str]:
    """A KD teacher whose tokenizer does not match the student's, as a problem line."""
    if config.kd is None or not config.kd.teacher:
        return []
    from ..errors import ConfigError
    from .run import load_tokenizer, resolve_model_path
    from .teacher import check_tokenizers_match

    try:
        check_tokenizers_match(tokenizer, load_tokenizer(resolve_model_path(config.kd.teacher)))
    except ConfigError as exc:
        return [str(exc)]
    return []


def _check_samples(config: TrainConfig, tokenizer, template, dataset, console) -> tuple[int, list[str], list[str]]:
    """The first ``preflight_samples`` rendered examples checked and shown (console and HTML
    parts): (checked, problems, HTML parts)."""
    rows = {dataset[i]["sample_id"]: dataset[i] for i in range(min(config.preflight_samples, len(dataset)))}
    parts_html: list[str] = []
    problems: list[str] = []
    checked = 0
    for conv in iter_conversations(config, ChainCounts()):
        row = rows.pop(conv.sample_id, None)
        if row is None:
            if not rows:
                break
            continue
        ex = Example(row["sample_id"], list(row["input_ids"]), list(row["labels"]), 0,
                     truncated_thought=config.overlength == "truncate_thought")
        check = check_example(tokenizer, template.template, conv, ex)
        checked += 1
        problems += [f"{conv.sample_id}: {p}" for p in check.problems]
        parts_html.append(_show_sample(tokenizer, conv.sample_id, ex, check, console))
    return checked, problems, parts_html


def _show_sample(tokenizer, sample_id: str, ex: Example, check, console) -> str:
    """One example on the console, trained-on tokens highlighted; its HTML part."""
    from rich.text import Text

    pieces = highlighted_spans(tokenizer, ex)
    text = Text()
    for piece, sup in pieces:
        text.append(piece, style="black on green" if sup else "dim")
    console.rule(f"{sample_id}: {len(ex.input_ids)} tokens, {ex.supervised} trained on "
                 f"({'ok' if check.ok else 'FAIL'})")
    console.print(text)
    spans = "".join(
        f'<span class="{"s" if sup else "p"}" title="{i}">{html.escape(piece)}</span>'
        for i, (piece, sup) in enumerate(pieces)
    )
    verdict = "ok" if check.ok else "FAIL: " + html.escape("; ".join(check.problems))
    return (f"<h3>{html.escape(sample_id)} — {len(ex.input_ids)} tokens, "
            f"{ex.supervised} trained on — {verdict}</h3><pre>{spans}</pre>")


def _print_lengths(config: TrainConfig, stats, hist, console) -> None:
    peak = max((c for _, _, c in hist), default=1) or 1
    console.rule(f"token lengths (max_length {config.max_length}, policy {config.overlength})")
    for lo, hi, count in hist:
        label = f"> {lo}" if lo >= config.max_length else f"{lo + 1}-{hi}"
        console.print(f"{label:>14} {'#' * int(40 * count / peak):<40} {count}")
    console.print(f"examples {stats.examples}, dropped {stats.dropped_overlength}, "
                  f"thought truncated {stats.truncated_thought}, tokens {stats.tokens}, "
                  f"supervised {stats.supervised_tokens}")


def _page(config: TrainConfig, ok: bool, student: str, template, problems: list[str], stats, hist,
          parts_html: list[str]) -> str:
    """preflight.html: the verdict, problems, length histogram and the samples."""
    peak = max((c for _, _, c in hist), default=1) or 1
    rows_html = "".join(
        f"<tr><td>{'&gt; ' + str(lo) if lo >= config.max_length else f'{lo + 1}-{hi}'}</td>"
        f"<td><div class='bar' style='width:{int(300 * c / peak)}px'></div></td><td>{c}</td></tr>"
        for lo, hi, c in hist
    )
    return f"""<!doctype html><meta charset="utf-8"><title>thoughtdistill preflight</title>
<style>body{{font-family:sans-serif;margin:2em}} pre{{white-space:pre-wrap;font-size:12px;border:1px solid #ccc;padding:8px}}
.s{{background:#b7f0b1}} .p{{color:#888}} .bar{{background:#4a7;height:12px}}</style>
<h1>Preflight {'ok' if ok else 'FAILED'}</h1>
<p>student <code>{html.escape(student)}</code>; template {html.escape(template.source)} (sha {template.sha});
green = trained-on tokens (assistant turn + end-of-turn token), grey = context only.</p>
<ul>{''.join(f'<li>{html.escape(p)}</li>' for p in problems)}</ul>
<h2>Token lengths vs max_length {config.max_length} (policy {config.overlength})</h2>
<table>{rows_html}</table>
<p>examples {stats.examples}, dropped {stats.dropped_overlength}, thought truncated {stats.truncated_thought},
tokens {stats.tokens}, supervised {stats.supervised_tokens}</p>
<h2>Samples</h2>{''.join(parts_html)}
"""
