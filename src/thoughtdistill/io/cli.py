"""``thoughtdistill convert`` and ``thoughtdistill stats``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator, Literal, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pydantic import Field

from ..cliutil import config_options
from ..config import StageConfig, build_config
from ..records import Record

FORMAT_HELP = (
    "canonical, omnithought (= omnithought-0528), easydistill, alpaca, sharegpt, messages, responses; "
    "input only: math500, aime, gsm8k, humaneval, code_tests, r1_traces, multi_chain"
)


def _progress(label: str) -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn(f"{label} [progress.description]{{task.description}}"), BarColumn(),
        TextColumn("{task.completed:,} records"), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True, disable=not sys.stderr.isatty(),
    )


class ConvertOptions(StageConfig):
    """What ``thoughtdistill convert`` takes (its options are built from these fields)."""

    input: Path = Field(description="Input file: .jsonl, .jsonl.gz, .json (array), .parquet, a datasets folder, "
                        "or a hub dataset hf:REPO[:SPLIT] / hf:REPO:CONFIG:SPLIT (streamed).")
    output: Path = Field(description="Output file; the container follows its suffix like the input. "
                         "Written atomically.")
    from_format: Optional[str] = Field(None, description=f"Input format (default: detected from the first row): "
                                       f"{FORMAT_HELP}.")
    to: str = Field("canonical", description="Output format: canonical, omnithought, easydistill, alpaca, "
                    "sharegpt, messages, responses.")
    on_error: Literal["raise", "quarantine", "skip"] = Field(
        "raise", description="A bad row: 'raise' stops with file:line field message; 'quarantine' writes it to "
        "--quarantine and goes on; 'skip' drops it (counted).")
    quarantine: Optional[Path] = Field(None, description="Where bad rows go with --on-error quarantine "
                                       "(default: IN.quarantine.jsonl).")
    unique_ids: bool = Field(False, description="Treat a repeated record id as a bad row.")
    split_thoughts: bool = Field(False, description="Fill thought/solution of chains that only have full_response "
                                 "(OmniThought-0528).")
    require_chains: bool = Field(False, description="Treat a record with no chains as a bad row.")


_IN, _OUT = (ConvertOptions.model_fields[f].description for f in ("input", "output"))


@config_options(ConvertOptions, skip=["input", "output"], names={"from_format": "--from"})
def convert(
    src: Path = typer.Argument(..., help=_IN),
    dst: Path = typer.Argument(..., help=_OUT),
    overrides: dict[str, Any] = {},
) -> None:
    """Convert between record formats (OmniThought, EasyDistill, Alpaca, ShareGPT, messages, datasets…)."""
    from .convert import convert_file

    opts = build_config(ConvertOptions, None, {**overrides, "input": src, "output": dst})
    with _progress("converting") as bar:
        task = bar.add_task(src.name, total=None)
        result = convert_file(
            src, dst, src_format=opts.from_format, dst_format=opts.to, on_error=opts.on_error,
            quarantine=opts.quarantine, unique_ids=opts.unique_ids, split=opts.split_thoughts,
            require_chains=opts.require_chains,
            progress=lambda n: bar.update(task, completed=n) if n % 256 == 0 else None,
        )
    console = Console(stderr=True)
    console.print(f"{result.records_in:,} records → {result.rows_out:,} rows in {result.output}")
    if result.bad:
        where = f"; quarantined in {result.quarantine}" if result.quarantine else " (skipped)"
        console.print(f"[yellow]{result.bad:,} bad rows{where}[/yellow]; first: {result.errors[0]}")


def _read_for_stats(path: Path, fmt: Optional[str], bar: Progress) -> Iterator[Record]:
    from .convert import read_records

    task = bar.add_task(path.name, total=None)
    for n, record in enumerate(read_records(path, fmt), start=1):
        if n % 256 == 0:
            bar.update(task, completed=n)
        yield record


def _table(title: str, rows: dict, key: str = "value", value: str = "count") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(key)
    table.add_column(value, justify="right")
    for k, v in rows.items():
        table.add_row(str(k), f"{v:,}" if isinstance(v, int) else f"{v:,.1f}")
    return table


class StatsOptions(StageConfig):
    """What ``thoughtdistill stats`` takes (its options are built from these fields)."""

    file: Path = Field(description="A record file (any container and format convert reads) or hf:REPO[:SPLIT].")
    from_format: str = Field("auto", description="Its format (see convert --help); auto: detected from the first row.")
    tokenizer: Optional[str] = Field(None, description="Count tokens with this local HF tokenizer folder instead of "
                                     "whitespace words.")
    as_json: bool = Field(False, description="Print the figures as JSON instead of tables.")


@config_options(StatsOptions, skip=["file"], names={"from_format": "--from", "as_json": "--json/--no-json"})
def stats(
    file: Path = typer.Argument(..., help=StatsOptions.model_fields["file"].description),
    overrides: dict[str, Any] = {},
) -> None:
    """Counts, chains per question, RV/CD histograms, token-length percentiles, truncation and correctness."""
    from .stats import compute_stats, tokenizer_counter

    opts = build_config(StatsOptions, None, {**overrides, "file": file})
    tokenizer = opts.tokenizer
    counter = tokenizer_counter(tokenizer) if tokenizer else None
    with _progress("reading") as bar:
        fmt = None if opts.from_format == "auto" else opts.from_format
        result = compute_stats(_read_for_stats(file, fmt, bar), counter, tokenizer or "whitespace")
    if opts.as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    console = Console()
    console.print(f"[bold]{file}[/bold]: {result.records:,} questions, {result.chains:,} chains, "
                  f"{result.truncated:,} truncated, {result.questions_without_chains:,} questions without chains")
    console.print(_table("chains per question", result.chains_per_question, "chains", "questions"))
    levels = Table(title="RV / CD levels (chains)", title_justify="left")
    levels.add_column("level")
    levels.add_column("Reasoning_Verbosity", justify="right")
    levels.add_column("Cognitive_Difficulty", justify="right")
    for level in result.reasoning_verbosity:
        levels.add_row(level, f"{result.reasoning_verbosity[level]:,}", f"{result.cognitive_difficulty[level]:,}")
    console.print(levels)
    lengths = Table(title=f"length in tokens ({result.token_counter})", title_justify="left")
    lengths.add_column("part")
    cols = ["p10", "p25", "p50", "p75", "p90", "p99", "max", "mean"]
    for c in cols:
        lengths.add_column(c, justify="right")
    for name, pct in (("thought", result.thought_tokens), ("solution", result.solution_tokens),
                      ("whole chain", result.chain_tokens)):
        if pct:
            lengths.add_row(name, *(f"{pct[c]:,.0f}" for c in cols))
    console.print(lengths)
    console.print(_table("correctness", result.correctness, "verdict", "chains"))
    console.print(_table("finish reason", result.finish_reasons, "reason", "chains"))
    console.print(_table("teachers", result.teachers, "teacher", "chains"))
    console.print(_table("domains", result.domains, "domain", "questions"))


def register(app: typer.Typer) -> None:
    app.command("convert")(convert)
    app.command("stats")(stats)
