"""``thoughtdistill verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..config import build_config


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify(
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML/JSON VerifyConfig"),
        input: Optional[Path] = typer.Option(None, "--input", "-i", help="chains (JSONL/Parquet/...)"),
        output: Optional[Path] = typer.Option(None, "--output", "-o", help="verified chains"),
        input_format: Optional[str] = typer.Option(None, help="input format (default: detected)"),
        processes: Optional[int] = typer.Option(None, help="math-verify worker processes"),
        code_workers: Optional[int] = typer.Option(None, help="sandboxed code runs at once"),
        cpu_s: Optional[float] = typer.Option(None, help="sandbox CPU seconds per run"),
        wall_s: Optional[float] = typer.Option(None, help="sandbox wall seconds per run"),
        memory_mb: Optional[int] = typer.Option(None, help="sandbox memory limit (MB)"),
        limit: Optional[int] = typer.Option(None, help="only the first N records"),
    ) -> None:
        """Rule-verify chains: math answers with math-verify, code against tests in a sandbox."""
        from .stage import VerifyConfig, run_verify

        sandbox = {k: v for k, v in {"cpu_s": cpu_s, "wall_s": wall_s, "memory_mb": memory_mb}.items()
                   if v is not None}
        overrides: dict[str, Any] = {"input": input, "output": output, "input_format": input_format,
                                     "processes": processes, "code_workers": code_workers,
                                     "limit": limit, "sandbox": sandbox or None}
        cfg = build_config(VerifyConfig, config, overrides)
        typer.echo(run_verify(cfg).summary())
