"""``thoughtdistill verify``: its options come from :class:`~.stage.VerifyConfig`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..cliutil import config_options
from ..config import build_config


def _config() -> type:
    from .stage import VerifyConfig

    return VerifyConfig


def register(app: typer.Typer) -> None:
    @app.command("verify")
    @config_options(_config, names={"input": ("--input", "-i"), "output": ("--output", "-o")})
    def verify(
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML/JSON VerifyConfig (flags override it)"),
        overrides: dict[str, Any] = {},
    ) -> None:
        """Rule-verify chains: math answers with math-verify, code against tests in a sandbox."""
        from .stage import VerifyConfig, run_verify

        cfg = build_config(VerifyConfig, config, overrides)
        typer.echo(run_verify(cfg).summary())
