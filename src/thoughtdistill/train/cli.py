"""``thoughtdistill train``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML/JSON TrainConfig or recipe (train: section)"),
        data: Optional[list[str]] = typer.Option(None, "--data", help="canonical JSONL of selected records"),
        student: Optional[str] = typer.Option(None, "--student", help="student HF folder or fixture name"),
        output_dir: Optional[str] = typer.Option(None, "--output-dir", "-o", help="run folder: the trained model goes to <dir>/model, logs beside it"),
        max_length: Optional[int] = typer.Option(None, "--max-length", help="max tokens per rendered conversation (longer ones follow --overlength)"),
        overlength: Optional[str] = typer.Option(None, "--overlength", help="drop | truncate_thought"),
        epochs: Optional[float] = typer.Option(None, "--epochs", help="passes over the data"),
        max_steps: Optional[int] = typer.Option(None, "--max-steps", help="stop after this many optimiser steps (overrides --epochs)"),
        learning_rate: Optional[float] = typer.Option(None, "--lr", help="peak learning rate"),
        batching: Optional[str] = typer.Option(None, "--batching", help="padded | padding_free | packing"),
        resume: bool = typer.Option(False, "--resume", help="resume from the last checkpoint in output-dir"),
        overwrite: bool = typer.Option(False, "--overwrite", help="replace a finished model in output-dir"),
        preflight: bool = typer.Option(False, "--preflight", help="render samples, check masks/template, no training"),
        dry_run: bool = typer.Option(False, "--dry-run", "--validate", help="load and check the config only"),
    ) -> None:
        """Fine-tune a thinking student on selected chains (SFT, or white-box KD with a kd section)."""
        from .recipes import dry_run_notes, load_train_config, validate_recipe

        overrides = {
            "data": data or None, "student": student, "output_dir": output_dir, "max_length": max_length, "overlength": overlength,
            "epochs": epochs, "max_steps": max_steps, "learning_rate": learning_rate, "batching": batching,
            "resume_from_checkpoint": True if resume else None, "overwrite": True if overwrite else None,
        }
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
