"""``thoughtdistill judge``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from ..config import build_config, endpoint_overrides


def register(app: typer.Typer) -> None:
    @app.command("judge")
    def judge(
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML/JSON JudgeConfig"),
        input: Optional[Path] = typer.Option(None, "--input", "-i", help="chains (JSONL/Parquet/...)"),
        output: Optional[Path] = typer.Option(None, "--output", "-o", help="annotated chains"),
        base_url: Optional[str] = typer.Option(None, help="one judge: its OpenAI-compatible base URL"),
        model: Optional[str] = typer.Option(None, help="one judge: model name"),
        judge_name: str = typer.Option("judge", "--judge-name", help="one judge: its name (provenance)"),
        api_key_env: Optional[str] = typer.Option(None, help="env var holding the key (one judge, or every judge of -c)"),
        concurrency: Optional[int] = typer.Option(None, help="requests in flight (one judge, or every judge of -c)"),
        max_tokens: Optional[int] = typer.Option(None, help="reply budget (one judge, or every judge of -c)"),
        metric: Optional[List[str]] = typer.Option(None, "--metric", help="Reasoning_Verbosity | "
                                                   "Cognitive_Difficulty | correctness (repeat)"),
        rubric: Optional[str] = typer.Option(None, help="preset: thoughtdistill | easydistill"),
        rubric_file: Optional[Path] = typer.Option(None, help="YAML/JSON templates per metric, or your "
                                                   "EasyDistill folder/prompts file (for --rubric easydistill)"),
        aggregate: Optional[str] = typer.Option(None, help="median | mean"),
        judge_correctness: Optional[str] = typer.Option(None, help="fallback | always | never"),
        no_rules: bool = typer.Option(False, "--no-rules", help="do not run rule verifiers"),
        work_dir: Optional[Path] = typer.Option(None, help="journal folder (default <output>.work)"),
        no_cache: bool = typer.Option(False, "--no-cache", help="do not use the response cache"),
        limit: Optional[int] = typer.Option(None, help="only the first N records"),
        no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
        dry_run: bool = typer.Option(False, "--dry-run", help="count the judge calls and check the config; send nothing"),
    ) -> None:
        """Score chains with LLM judges (RV, CD, correctness) and verify with rules where possible."""
        from .core import JudgeConfig, run_judge

        overrides: dict[str, Any] = {
            "input": input, "output": output, "metrics": metric or None, "rubric": rubric,
            "rubric_file": rubric_file, "aggregate": aggregate, "judge_correctness": judge_correctness,
            "rule_verify": False if no_rules else None, "work_dir": work_dir,
            "cache": False if no_cache else None, "limit": limit,
            "progress": False if no_progress else None, "dry_run": dry_run or None,
        }
        overrides.update(endpoint_overrides(config, "judges", judge_name, base_url, model,
                                            api_key_env=api_key_env, concurrency=concurrency,
                                            max_tokens=max_tokens))
        cfg = build_config(JudgeConfig, config, overrides)
        if not cfg.judges:
            typer.echo("note: no LLM judge (--base-url/--model, or judges in -c): rule verifiers only", err=True)
        typer.echo(run_judge(cfg).summary())
