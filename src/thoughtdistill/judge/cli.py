"""``thoughtdistill judge``: its options come from :class:`~.core.JudgeConfig`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..cliutil import EndpointFlags, config_options
from ..config import build_config

JUDGE_FLAGS = EndpointFlags("judges", "judge", "--judge-name")


def _config() -> type:
    from .core import JudgeConfig

    return JudgeConfig


def register(app: typer.Typer) -> None:
    @app.command("judge")
    @config_options(_config, names={"input": ("--input", "-i"), "output": ("--output", "-o"),
                                    "metrics": "--metric", "rule_verify": "--rules/--no-rules"},
                    endpoints=JUDGE_FLAGS)
    def judge(
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML/JSON JudgeConfig (flags override it)"),
        overrides: dict[str, Any] = {},
    ) -> None:
        """Score chains with LLM judges (RV, CD, correctness) and verify with rules where possible."""
        from .core import JudgeConfig, run_judge

        cfg = build_config(JudgeConfig, config, overrides)
        if not cfg.judges:
            typer.echo("note: no LLM judge (--base-url/--model, or judges in -c): rule verifiers only", err=True)
        typer.echo(run_judge(cfg).summary())
