"""Recipe files: a ``train:`` section (a :class:`TrainConfig`) and a ``launch:`` section that
names the accelerate config and the cluster shape. ``validate_recipe`` checks both without a GPU."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..config import merge, read_config_file, validate_config
from ..errors import ConfigError
from .config import TrainConfig

PLACEHOLDER_KEYS = ("data", "student", "output_dir")


@dataclass
class Recipe:
    train: TrainConfig
    launch: dict[str, Any]
    effective_batch: int
    world_size: int
    notes: list[str]


def load_train_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    data: dict[str, Any] = read_config_file(path) if path else {}
    prefix = []
    if "train" in data:
        data, prefix = data["train"] or {}, ["train"]
    return validate_config(TrainConfig, merge(data, overrides or {}), str(path or "command line"),
                           path=path, loc_prefix=prefix)


def _find(path_text: str, recipe: Path) -> Path | None:
    for base in (Path.cwd(), recipe.parent, recipe.parent.parent.parent, Path(__file__).resolve().parents[3]):
        candidate = (base / path_text).resolve()
        if candidate.exists():
            return candidate
    return None


def validate_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    """Load and check a recipe: schema, launch config present and consistent, batch arithmetic."""
    path = Path(path)
    raw = read_config_file(path)
    train = load_train_config(path, overrides)
    launch = dict(raw.get("launch") or {})
    notes: list[str] = []
    machines = int(launch.get("num_machines", 1))
    procs = int(launch.get("num_processes", 1))
    if procs % machines:
        raise ConfigError(f"{path}: launch.num_processes={procs} is not a multiple of num_machines={machines}")
    acc = launch.get("accelerate_config")
    if acc:
        found = _find(acc, path)
        if found is None:
            raise ConfigError(f"{path}: launch.accelerate_config {acc} not found")
        acc_cfg = yaml.safe_load(found.read_text()) or {}
        ds = acc_cfg.get("deepspeed_config", {}) or {}
        ds_file = ds.get("deepspeed_config_file")
        if ds_file and _find(ds_file, path) is None:
            raise ConfigError(f"{found}: deepspeed_config_file {ds_file} not found")
        for key, want in (("num_machines", machines), ("num_processes", procs)):
            if key in acc_cfg and int(acc_cfg[key]) != want:
                raise ConfigError(f"{path}: launch.{key}={want} but {acc} says {acc_cfg[key]}")
        notes.append(f"accelerate config {found} ({acc_cfg.get('distributed_type')})")
    eff = train.per_device_batch_size * train.gradient_accumulation_steps * procs
    notes.append(f"{machines} machine(s) x {procs // machines} process(es); effective batch "
                 f"{train.per_device_batch_size} x {train.gradient_accumulation_steps} x {procs} = {eff} sequences "
                 f"of up to {train.max_length} tokens")
    return Recipe(train, launch, eff, procs, notes)


def dry_run_notes(train: Any) -> list[str]:
    """What a dry run can say about the data and student without loading them: a recipe may
    name files an earlier stage makes, or a hub model, so these are warnings, not errors."""
    from ..models import MODEL_NAMES

    notes = [f"warning: data file {d} does not exist (yet)" for d in train.data if not Path(d).exists()]
    student = Path(train.student)
    if train.student in MODEL_NAMES:
        notes.append(f"student: fixture model {train.student!r}")
    elif student.is_dir():
        if not (student / "config.json").exists():
            notes.append(f"warning: student folder {student} has no config.json")
    elif student.exists():
        notes.append(f"warning: student {student} is a file, not a model folder")
    else:
        notes.append(f"student: {train.student} is not a local folder: it must be on the Hugging Face "
                     "hub or in its cache (HF_HOME) where training runs")
    return notes

