"""CLI verb ``select``: a thin layer over :func:`run_select`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def _prune(d: dict) -> dict:
    """Drop unset (None) options, and sections left empty, so the config file's values stand."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            v = _prune(v)
            if not v:
                continue
        if v is not None:
            out[k] = v
    return out


def register(app: typer.Typer) -> None:
    @app.command("select")
    def select(
        inputs: list[Path] = typer.Argument(None, help="Annotated record file(s): any container and format convert reads "
                                     "(detected), or hf:REPO[:SPLIT]."),
        output: Optional[Path] = typer.Option(None, "--output", "-o", help="Where the selected records go (JSONL)."),
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML/JSON config (a 'select' section or the whole file)."),
        strategy: Optional[str] = typer.Option(None, "--strategy", "-s", help="threshold | rv-cd-mix | student-fit | random"),
        filters: Optional[list[str]] = typer.Option(None, "--filter", "-f", help="Condition, e.g. 'rv in 3..5', 'correct == true' (repeatable)."),
        student_size: Optional[str] = typer.Option(None, "--student-size", help="student-fit: e.g. 0.6B, 1.7B, 4B, 8B, 14B, 32B."),
        difficulty: Optional[str] = typer.Option(None, "--difficulty", help="student-fit: mean_cd | pass_rate | meta."),
        teacher_order: Optional[str] = typer.Option(None, "--teacher-order", help="student-fit: preferred teachers on ties, comma-separated."),
        per_question: Optional[int] = typer.Option(None, "--per-question", help="Chains per question for the chosen strategy."),
        samples_per_bin: Optional[int] = typer.Option(None, "--samples-per-bin", help="rv-cd-mix: chains per CD bin."),
        total: Optional[int] = typer.Option(None, "--total", help="rv-cd-mix: total chains split over bins."),
        rv_target: Optional[str] = typer.Option(None, "--rv-target", help="rv-cd-mix: matched | low | medium | high | a number."),
        match: Optional[str] = typer.Option(None, "--match", help="random: use the chain count of this strategy."),
        n: Optional[int] = typer.Option(None, "--n", help="random: number of chains."),
        max_chains: Optional[int] = typer.Option(None, "--max-chains", help="Budget: total chains."),
        max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Budget: total completion tokens."),
        max_per_question: Optional[int] = typer.Option(None, "--max-per-question", help="Budget: chains per question."),
        eval_files: Optional[list[Path]] = typer.Option(None, "--eval-file", help="Extra evaluation set for decontamination (repeatable)."),
        decontaminate_against: Optional[str] = typer.Option(None, "--decontaminate-against", help="Packaged benchmarks to decontaminate against, comma-separated (default: all; '' for none)."),
        no_near_dedup: bool = typer.Option(False, "--no-near-dedup", help="Skip MinHash near-duplicate removal."),
        no_decontaminate: bool = typer.Option(False, "--no-decontaminate", help="Skip n-gram decontamination."),
        no_figures: bool = typer.Option(False, "--no-figures", help="Write the JSON report without PNG figures."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Seed for tie-breaks and the random strategy."),
        on_error: Optional[str] = typer.Option(None, "--on-error", help="raise | quarantine | skip for bad rows."),
    ) -> None:
        """Choose chains for a student (filters, hygiene, a strategy, budgets); writes the selection, \
<name>.select_report.json and <name>.select_figures/ beside it."""
        from ..config import build_config, read_config_file
        from .config import SelectConfig
        from .run import run_select

        section = None
        if config is not None and isinstance(read_config_file(config).get("select"), dict):
            section = "select"
        ov: dict = {
            "input": [str(p) for p in inputs] if inputs else None,
            "output": str(output) if output else None,
            "strategy": strategy,
            "filters": list(filters) if filters else None,
            "seed": seed,
            "on_error": on_error,
            "figures": False if no_figures else None,
            "budget": {"max_chains": max_chains, "max_tokens": max_tokens, "max_per_question": max_per_question},
            "hygiene": {"near_dedup": False if no_near_dedup else None,
                        "decontaminate": False if no_decontaminate else None,
                        "eval_files": [str(p) for p in eval_files] if eval_files else None,
                        "decontaminate_against": decontaminate_against},
            "student_fit": {"student_size": student_size, "difficulty": difficulty,
                            "teacher_order": [t.strip() for t in teacher_order.split(",")] if teacher_order else None},
            "rv_cd_mix": {"samples_per_bin": samples_per_bin, "total": total},
            "random": {"match": match, "n": n},
        }
        if rv_target is not None:
            try:
                ov["rv_cd_mix"]["rv_target"] = float(rv_target)
            except ValueError:
                ov["rv_cd_mix"]["rv_target"] = rv_target
        cfg = build_config(SelectConfig, config, _prune(ov), section=section)
        if per_question is not None:  # goes to the strategy the config ends up with
            ov[_per_question_key(cfg.strategy)]["per_question"] = per_question
            cfg = build_config(SelectConfig, config, _prune(ov), section=section)
        res = run_select(cfg)
        typer.echo(f"selected {res.chains_out} chains of {res.questions_out} questions "
                   f"(from {res.chains_in} chains, {res.questions_in} questions) -> {res.output}")
        if res.report_path:
            typer.echo(f"report: {res.report_path}")
        for w in res.report.get("warnings", []):
            typer.secho(f"warning: {w}", fg=typer.colors.YELLOW, err=True)


def _per_question_key(strategy: str) -> str:
    """The config section ``--per-question`` sets for a strategy; threshold has none."""
    if strategy == "threshold":
        from ..errors import ConfigError

        raise ConfigError("--per-question: the threshold strategy keeps every passing chain; "
                          "cap chains per question with --max-per-question")
    return {"rv-cd-mix": "rv_cd_mix", "student-fit": "student_fit", "random": "random"}[strategy]
