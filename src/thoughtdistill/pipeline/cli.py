"""``thoughtdistill run``: a recipe (or an EasyDistill config) from start to report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError

RECIPES_DIR = Path(__file__).resolve().parents[3] / "configs" / "recipes"


def find_recipe(name: str) -> Path:
    """A path, or a recipe name looked up in ./configs/recipes and the checkout's configs/recipes."""
    path = Path(name)
    if path.exists():
        return path
    for folder in (Path.cwd() / "configs" / "recipes", RECIPES_DIR):
        for candidate in (folder / name, folder / f"{name}.yaml", folder / f"{name}.yml"):
            if candidate.exists():
                return candidate
    raise ConfigError(f"recipe {name!r} not found (a YAML path, or a name in configs/recipes/)")


def _parse_set(items: list[str]) -> dict:
    import yaml

    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        recipe: Optional[str] = typer.Argument(None, help="recipe YAML (default: the quickstart recipe)"),
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="an EasyDistill 1.x job config (JSON)"),
        run_dir: Optional[Path] = typer.Option(None, "--run-dir", "-o", help="run directory (default: the recipe's run_dir)"),
        from_stage: Optional[str] = typer.Option(None, "--from", help="start at this stage (re-run it; earlier stages are taken as they are)"),
        until: Optional[str] = typer.Option(None, "--until", help="stop after this stage"),
        dry_run: bool = typer.Option(False, "--dry-run", help="validate configs, files and env var names; run nothing"),
        force: bool = typer.Option(False, "--force", help="re-run every selected stage"),
        backend: str = typer.Option("auto", "--local-backend", help="EasyDistill local jobs: auto|vllm|transformers"),
        set_: list[str] = typer.Option([], "--set", help="override a recipe var: KEY=VALUE (YAML value)"),
    ) -> None:
        """Run a recipe: every stage in one run directory, unchanged stages skipped, resumable."""
        from .easydistill import is_easydistill, run_easydistill
        from .runner import run_pipeline

        t0 = time.monotonic()
        kwargs = dict(from_stage=from_stage, until=until, dry_run=dry_run, force=force)
        if config is not None or (recipe and is_easydistill(recipe)):
            if set_:
                raise ConfigError("--set applies to recipes, not EasyDistill configs")
            source = config or Path(recipe)
            result = run_easydistill(source, run_dir, backend=backend, **kwargs)
        else:
            path = find_recipe(recipe or "quickstart")
            result = run_pipeline(path, run_dir, variables=_parse_set(set_), **kwargs)
        for w in result.warnings[result.warnings_logged:]:
            typer.secho(f"warning: {w}", fg=typer.colors.YELLOW, err=True)
        for s in result.stages:
            extra = f" ({s.reason})" if s.reason and s.status != "ran" else ""
            secs = f" {s.seconds:.1f}s" if s.seconds else ""
            typer.echo(f"  {s.name:<18} {s.kind:<18} {s.status}{secs}{extra}")
        if dry_run:
            typer.secho("recipe is valid; nothing was run (--dry-run)", fg=typer.colors.GREEN)
            return
        typer.echo(f"run directory: {result.run_dir}  ({time.monotonic() - t0:.0f}s)")
        if result.report is not None:
            typer.secho(f"report: {result.report}", fg=typer.colors.GREEN)
