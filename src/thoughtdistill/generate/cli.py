"""``thoughtdistill generate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..config import build_config, endpoint_overrides
from .core import GenerateConfig, run_generate


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate(
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML/JSON GenerateConfig"),
        input: Optional[Path] = typer.Option(None, "--input", "-i", help="questions (JSONL/JSON/Parquet/datasets folder)"),
        output: Optional[Path] = typer.Option(None, "--output", "-o", help="chains; the format follows the suffix (.jsonl, .json, .parquet)"),
        base_url: Optional[str] = typer.Option(None, help="one teacher: its OpenAI-compatible base URL"),
        model: Optional[str] = typer.Option(None, help="one teacher: model name"),
        teacher: str = typer.Option("teacher", help="one teacher: its name"),
        api_key_env: Optional[str] = typer.Option(None, help="env var holding the key (one teacher, or every teacher of -c)"),
        concurrency: Optional[int] = typer.Option(None, help="requests in flight (one teacher, or every teacher of -c)"),
        max_tokens: Optional[int] = typer.Option(None, help="completion budget (one teacher, or every teacher of -c)"),
        temperature: Optional[float] = typer.Option(None, help="temperature (one teacher, or every teacher of -c)"),
        stream: Optional[bool] = typer.Option(None, "--stream/--no-stream", help="stream (one teacher, or every teacher of -c)"),
        n: Optional[int] = typer.Option(None, "--n", help="chains per question per teacher"),
        prompt: Optional[str] = typer.Option(None, help="preset: qwen3 | plain | easydistill"),
        work_dir: Optional[Path] = typer.Option(None, help="journal/state folder (default <output>.work)"),
        limit: Optional[int] = typer.Option(None, help="only the first N questions"),
        truncation_retries: Optional[int] = typer.Option(None, help="re-ask truncated chains N times"),
        no_cache: bool = typer.Option(False, "--no-cache", help="do not use the response cache"),
        dry_run: bool = typer.Option(False, "--dry-run", help="estimate requests, tokens and cost; send nothing"),
        no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
    ) -> None:
        """Generate chains of thought from one or more OpenAI-compatible teachers (resumable)."""
        overrides: dict[str, Any] = {
            "input": input, "output": output, "n": n, "prompt": prompt, "work_dir": work_dir,
            "limit": limit, "truncation_retries": truncation_retries,
            "cache": False if no_cache else None, "dry_run": dry_run or None,
            "progress": False if no_progress else None,
        }
        overrides.update(endpoint_overrides(
            config, "teachers", teacher, base_url, model, api_key_env=api_key_env,
            concurrency=concurrency, max_tokens=max_tokens, temperature=temperature, stream=stream))
        cfg = build_config(GenerateConfig, config, overrides)
        result = run_generate(cfg)
        typer.echo(result.summary())
