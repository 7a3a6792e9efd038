"""``thoughtdistill run``: a recipe (or an EasyDistill config) from start to report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal, Optional

import typer
from pydantic import Field

from ..cliutil import config_options
from ..config import StageConfig, build_config
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


class RunOptions(StageConfig):
    """What ``thoughtdistill run`` takes besides the recipe (its options come from these fields)."""

    easydistill_config: Optional[Path] = Field(None, description="an EasyDistill 1.x job config (JSON) instead "
                                               "of a recipe (see docs/easydistill.md)")
    run_dir: Optional[Path] = Field(None, description="the run directory (default: the recipe's run_dir, else "
                                    "runs/<name>)")
    from_stage: Optional[str] = Field(None, description="start at this stage and re-run it; earlier stages are "
                                      "taken as they are")
    until: Optional[str] = Field(None, description="stop after this stage")
    dry_run: bool = Field(False, description="validate every stage config (by the stage's own model), the input "
                          "files it declares, env var names and launch settings; run nothing, no GPU needed; "
                          "prints which stages would run or be skipped")
    force: bool = Field(False, description="re-run every selected stage")
    local_backend: Literal["auto", "vllm", "transformers"] = Field("auto", description="EasyDistill local jobs: "
                                                                   "what runs the model")
    variables: list[str] = Field(default_factory=list, description="override a recipe var: KEY=VALUE (the value "
                                 "is YAML; repeat the flag)")


def register(app: typer.Typer) -> None:
    @app.command("run")
    @config_options(RunOptions, names={"easydistill_config": ("--config", "-c"), "run_dir": ("--run-dir", "-o"),
                                       "from_stage": "--from", "variables": "--set"})
    def run_cmd(
        recipe: Optional[str] = typer.Argument(None, help="a recipe YAML path, or a name in configs/recipes/ "
                                               "(default: quickstart)"),
        overrides: dict[str, Any] = {},
    ) -> None:
        """Run a recipe: every stage in one run directory, unchanged stages skipped, resumable."""
        from .easydistill import is_easydistill, run_easydistill
        from .runner import run_pipeline

        opts = build_config(RunOptions, None, overrides)
        config, run_dir, set_, dry_run = opts.easydistill_config, opts.run_dir, opts.variables, opts.dry_run
        t0 = time.monotonic()
        kwargs = dict(from_stage=opts.from_stage, until=opts.until, dry_run=dry_run, force=opts.force)
        if config is not None or (recipe and is_easydistill(recipe)):
            if set_:
                raise ConfigError("--set applies to recipes, not EasyDistill configs")
            source = config or Path(recipe)
            result = run_easydistill(source, run_dir, backend=opts.local_backend, **kwargs)
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
