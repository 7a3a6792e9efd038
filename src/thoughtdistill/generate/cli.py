"""``thoughtdistill generate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..config import build_config
from .core import GenerateConfig, run_generate


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate(
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML/JSON GenerateConfig"),
        input: Optional[Path] = typer.Option(None, "--input", "-i", help="questions (JSONL)"),
        output: Optional[Path] = typer.Option(None, "--output", "-o", help="chains (JSONL)"),
        base_url: Optional[str] = typer.Option(None, help="one teacher: its OpenAI-compatible base URL"),
        model: Optional[str] = typer.Option(None, help="one teacher: model name"),
        teacher: str = typer.Option("teacher", help="one teacher: its name"),
        api_key_env: Optional[str] = typer.Option(None, help="one teacher: env var holding the key"),
        concurrency: Optional[int] = typer.Option(None, help="one teacher: requests in flight"),
        max_tokens: Optional[int] = typer.Option(None, help="one teacher: completion budget"),
        temperature: Optional[float] = typer.Option(None, help="one teacher: temperature"),
        stream: Optional[bool] = typer.Option(None, "--stream/--no-stream", help="one teacher: stream"),
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
        if base_url or model:
            one = {"name": teacher, "base_url": base_url, "model": model, "api_key_env": api_key_env,
                   "concurrency": concurrency, "max_tokens": max_tokens, "temperature": temperature,
                   "stream": stream}
            overrides["teachers"] = [{k: v for k, v in one.items() if v is not None}]
        cfg = build_config(GenerateConfig, config, overrides)
        result = run_generate(cfg)
        typer.echo(result.summary())
