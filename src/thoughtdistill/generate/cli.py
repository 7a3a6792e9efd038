"""``thoughtdistill generate``: its options come from :class:`~.core.GenerateConfig`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..cliutil import EndpointFlags, config_options
from ..config import build_config
from .core import GenerateConfig, run_generate

TEACHER_FLAGS = EndpointFlags("teachers", "teacher", "--teacher",
                              ("base_url", "model", "api_key_env", "concurrency", "max_tokens", "temperature",
                               "stream"))


def register(app: typer.Typer) -> None:
    @app.command("generate")
    @config_options(GenerateConfig, names={"input": ("--input", "-i"), "output": ("--output", "-o")},
                    endpoints=TEACHER_FLAGS)
    def generate(
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML/JSON GenerateConfig (flags override it)"),
        overrides: dict[str, Any] = {},
    ) -> None:
        """Generate chains of thought from one or more OpenAI-compatible teachers (resumable)."""
        cfg = build_config(GenerateConfig, config, overrides)
        result = run_generate(cfg)
        typer.echo(result.summary())
