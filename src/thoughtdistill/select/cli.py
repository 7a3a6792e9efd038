"""CLI verb ``select``: a thin layer over :func:`run_select`; its options come from
:class:`~.config.SelectConfig`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..cliutil import config_options
from .config import SelectConfig


def register(app: typer.Typer) -> None:
    @app.command("select")
    @config_options(SelectConfig, skip=["input"],
                    names={"output": ("--output", "-o"), "strategy": ("--strategy", "-s"),
                           "filters": ("--filter", "-f"), "hygiene.eval_files": "--eval-file"},
                    comma=["student_fit.teacher_order", "hygiene.decontaminate_against"])
    def select(
        inputs: list[Path] = typer.Argument(None, help=SelectConfig.model_fields["input"].description),
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML/JSON config (a 'select' section or "
                                              "the whole file); flags override it"),
        per_question: Optional[int] = typer.Option(None, "--per-question", help="Chains per question for the chosen "
                                                   "strategy (its per_question)."),
        overrides: dict[str, Any] = {},
    ) -> None:
        """Choose chains for a student (filters, hygiene, a strategy, budgets); writes the selection, \
<name>.select_report.json and <name>.select_figures/ beside it."""
        from ..config import build_config, read_config_file
        from .run import run_select

        section = None
        if config is not None and isinstance(read_config_file(config).get("select"), dict):
            section = "select"
        if inputs:
            overrides["input"] = [str(p) for p in inputs]
        cfg = build_config(SelectConfig, config, overrides, section=section)
        if per_question is not None:  # goes to the strategy the config ends up with
            overrides.setdefault(_per_question_key(cfg.strategy), {})["per_question"] = per_question
            cfg = build_config(SelectConfig, config, overrides, section=section)
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
