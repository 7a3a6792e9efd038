"""``thoughtdistill train``: its options come from :class:`~.config.TrainConfig`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from ..cliutil import config_options


def _config() -> type:
    from .config import TrainConfig

    return TrainConfig


def register(app: typer.Typer) -> None:
    @app.command("train")
    @config_options(_config, names={"output_dir": ("--output-dir", "-o"), "learning_rate": ("--lr", "--learning-rate")},
                    prefixed=["lora", "kd"])
    def train(
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML/JSON TrainConfig or recipe (train: "
                                              "section); flags override it"),
        resume: bool = typer.Option(False, "--resume", help="resume from the last checkpoint in output-dir "
                                    "(resume_from_checkpoint: true)"),
        preflight: bool = typer.Option(False, "--preflight", help="render samples, check masks/template, no training"),
        dry_run: bool = typer.Option(False, "--dry-run", "--validate", help="load and check the config only"),
        overrides: dict[str, Any] = {},
    ) -> None:
        """Fine-tune a thinking student on selected chains (SFT, or white-box KD with a kd section)."""
        from .recipes import dry_run_notes, load_train_config, validate_recipe

        if resume:
            overrides["resume_from_checkpoint"] = True
        if dry_run:
            if config is None:
                cfg, notes = load_train_config(None, overrides), []
            else:
                recipe = validate_recipe(config, overrides)
                cfg, notes = recipe.train, recipe.notes
            typer.echo(cfg.model_dump_json(indent=1))
            for note in notes + dry_run_notes(cfg):
                typer.echo(note, err=note.startswith("warning"))
            typer.secho("config ok", fg=typer.colors.GREEN)
            return
        cfg = load_train_config(config, overrides)
        if preflight:
            from .preflight import run_preflight

            result = run_preflight(cfg)
            raise typer.Exit(0 if result.ok else 1)
        from .run import run_train

        result = run_train(cfg)
        typer.echo(json.dumps({"model_dir": str(result.model_dir), "examples": result.examples,
                               "steps": result.steps, "first_loss": result.first_loss,
                               "last_loss": result.last_loss, "log": str(result.log_path)}, indent=1))
