"""``thoughtdistill infer`` and ``thoughtdistill eval`` (+ ``eval compare``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..cliutil import config_options
from ..config import build_config
from ..errors import ThoughtDistillError


def _check_failures(failed: int, total: int, first_error: str | None, where: str) -> None:
    """Warn loudly on stderr when generations failed; fail when all of them did."""
    if not failed:
        return
    if failed == total:
        raise ThoughtDistillError(f"{where}: all {total} generations failed (first error: {first_error})")
    typer.secho(f"warning: {failed} of {total} generations failed (scored as wrong): {first_error}",
                err=True, fg=typer.colors.YELLOW, bold=True)


# Flags whose names are not the field's (the rest are derived from the fields).
NAMES: dict[str, Any] = {
    "model": ("--model", "-m"), "benchmark": ("--benchmark", "-b"), "benchmarks_files": "--benchmarks-file",
    "enable_thinking": "--thinking/--no-thinking",
}
CONFIG_HELP = "YAML/JSON config file (CLI flags override it)."
DRY_RUN_HELP = "Check the benchmark, model and settings; generate nothing."


def _infer_config() -> type:
    from .infer import InferConfig

    return InferConfig


def _eval_config() -> type:
    from .run import EvalConfig

    return EvalConfig


def register(app: typer.Typer) -> None:
    _register_infer(app)
    eval_app = typer.Typer(help="Evaluate a model on a benchmark, or compare runs.",
                           invoke_without_command=True, no_args_is_help=False)
    _register_eval(eval_app)
    _register_compare(eval_app)
    app.add_typer(eval_app, name="eval")


def _register_infer(app: typer.Typer) -> None:
    @app.command("infer")
    @config_options(_infer_config, names={**NAMES, "output": ("--output", "-o")})
    def infer_cmd(
        config: Optional[Path] = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
        dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
        overrides: dict[str, Any] = {},
    ) -> None:
        """Generate answers for a benchmark into a resumable JSONL file."""
        from .infer import InferConfig, run_infer

        cfg = build_config(InferConfig, config, overrides)
        if dry_run:
            from .dryrun import dry_run_plan

            typer.echo(dry_run_plan(cfg))
            return
        res = run_infer(cfg)
        typer.echo(f"{res.output}: {res.generated} generated, {res.skipped} already done, {res.errors} errors, "
                   f"{res.tokens_per_s:.1f} tokens/s")
        _check_failures(res.errors, res.generated, res.first_error, str(res.output))


def _register_eval(eval_app: typer.Typer) -> None:
    @eval_app.callback()
    @config_options(_eval_config, names={**NAMES, "out_dir": ("--out-dir", "-o")})
    def eval_cmd(
        ctx: typer.Context,
        config: Optional[Path] = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
        dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
        overrides: dict[str, Any] = {},
    ) -> None:
        """Infer + score (or score --from-infer), writing NAME.json and NAME.samples.jsonl."""
        if ctx.invoked_subcommand is not None:
            return
        from .run import EvalConfig, run_eval

        cfg = build_config(EvalConfig, config, overrides)
        if dry_run:
            from .dryrun import dry_run_plan

            typer.echo(dry_run_plan(cfg, cfg.from_infer))
            return
        res = run_eval(cfg)  # raises (after writing the files) if every generation failed
        _check_failures(res.failed, res.metrics["n_samples"], res.first_error, str(res.run_json))
        m = res.metrics
        typer.echo(f"{res.run_json}: accuracy {100 * m['accuracy']:.1f}% over {m['n_problems']} problems x "
                   f"{m['n_samples_per_problem']}; mean tokens {m['mean_completion_tokens'] or 0:.0f}; "
                   f"truncated {100 * (m['truncation_rate'] or 0):.1f}%")


def _register_compare(eval_app: typer.Typer) -> None:
    @eval_app.command("compare")
    def compare_cmd(
        runs: list[Path] = typer.Argument(..., help="Run JSON files written by `thoughtdistill eval`."),
        reference: Optional[list[str]] = typer.Option(
            None, "--reference", "-r", help="Published rows: ThoughtY, ThoughtX, R1-Distill, other, a model name, or all."),
        markdown: Optional[Path] = typer.Option(None, "--markdown", help="Write the markdown table here."),
        html_out: Optional[Path] = typer.Option(None, "--html", help="Write a self-contained HTML page here."),
    ) -> None:
        """Table across runs (markdown on stdout; --html for a page with the accuracy-vs-tokens plot)."""
        from .compare import compare_runs

        typer.echo(compare_runs(runs, reference=reference or [], markdown_out=markdown, html_out=html_out))
