"""``thoughtdistill run --dry-run``: validate every stage config, declared input file, env
var name and launch setting; run nothing, write nothing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ThoughtDistillError
from ..stage_io import StageFile
from .context import Context
from .launch import resolve_launch
from .manifest import under
from .recipe import StageSpec
from .runner import PipelineResult, Runner, StageOutcome, check_env, env_vars
from .stages import get_kind

LOCAL_PREFIXES = ("/", "./", "../", "~")  # a model written like this is a folder, not a hub name


def _launch_inputs(runner: Runner, spec: StageSpec, problems: list[str]) -> list[StageFile]:
    if spec.launch is None:
        return []
    try:
        launch = resolve_launch(runner, spec)
    except ThoughtDistillError as exc:
        problems.append(str(exc))
        return []
    if get_kind(spec.kind).name != "train":
        problems.append(f"stage {spec.name!r}: launch: is only for train stages")
    return [StageFile(launch.accelerate_config, "file", "accelerate_config")]


def _check_inputs(runner: Runner, spec: StageSpec, inputs: list[StageFile], ctx: Context,
                  result: PipelineResult) -> list[str]:
    """Inputs that are neither here, nor made by an earlier stage, nor a fixture built on use."""
    problems = []
    built = [Path(b) for b in ctx.buildable]
    for f in inputs:
        path = Path(os.path.expanduser(f.path))
        if path.exists() or under(path, runner.run_dir) or any(path == b or under(path, b) for b in built):
            continue
        if f.kind == "model" and not f.path.startswith(LOCAL_PREFIXES):  # may be a hub name ("Qwen/Qwen3-4B")
            result.warnings.append(f"stage {spec.name!r}: field '{f.field}': {f.path} is not a local "
                                   "folder: it must be on the Hugging Face hub or in its cache")
            continue
        problems.append(f"stage {spec.name!r}: field '{f.field}': {f.path}: file not found")
    return problems


def _would(runner: Runner, spec: StageSpec, config: Any, selected: list[str]) -> StageOutcome:
    if spec.name not in selected:
        return StageOutcome(spec.name, spec.kind, "not-selected")
    reason = runner.why_run(spec, config) if runner.manifests.folder.exists() else "never completed"
    return StageOutcome(spec.name, spec.kind, "would-skip" if reason is None else "would-run", reason=reason or "")


def dry_run(runner: Runner, selected: list[str]) -> PipelineResult:
    result = PipelineResult(run_dir=runner.run_dir, dry_run=True)
    problems: list[str] = []
    for spec in runner.recipe.stages:
        if not spec.enabled:
            continue
        try:
            config, _, ctx = runner.resolve(spec, live=False)
        except ThoughtDistillError as exc:
            problems.append(str(exc))
            continue
        problems += [f"stage {spec.name!r}: {p}" for p in check_env(env_vars(config), strict=False, result=result)]
        inputs = config.inputs() + _launch_inputs(runner, spec, problems)
        problems += _check_inputs(runner, spec, inputs, ctx, result)
        result.stages.append(_would(runner, spec, config, selected))
    if problems:
        raise ConfigError("recipe does not validate:\n  " + "\n  ".join(problems))
    return result
