"""A ``train`` stage with ``launch:`` runs under ``accelerate launch`` (multi-GPU, DeepSpeed,
FSDP) instead of in this process."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import yaml
from pydantic import BaseModel, ConfigDict, Field

from ..config import validate_config
from ..errors import ConfigError, ThoughtDistillError
from ..io.atomic import atomic_open
from .context import stage_context, to_jsonable
from .recipe import StageSpec, interpolate
from .stages import get_kind

if TYPE_CHECKING:
    from .runner import Runner


class Launch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accelerate_config: str
    num_processes: int | None = Field(None, ge=1)
    num_machines: int = Field(1, ge=1)
    extra_args: list[str] = Field(default_factory=list)


def resolve_launch(runner: Runner, spec: StageSpec) -> Launch:
    ctx = stage_context(runner.recipe, runner.run_dir, runner.pool, spec, live=False)
    raw = interpolate(spec.launch.model_dump(), ctx.lookup, where=f"stages.{spec.name}.launch")
    return validate_config(Launch, raw, source=f"recipe stage {spec.name!r} launch")


def launch_command(runner: Runner, spec: StageSpec, config_file: Path) -> list[str]:
    launch = resolve_launch(runner, spec)
    cmd = ["accelerate", "launch", "--config_file", launch.accelerate_config,
           "--num_machines", str(launch.num_machines)]
    if launch.num_processes:
        cmd += ["--num_processes", str(launch.num_processes)]
    return cmd + launch.extra_args + ["-m", "thoughtdistill", get_kind(spec.kind).name, "-c", str(config_file)]


def launcher(runner: Runner, spec: StageSpec) -> Callable[[Any], Any]:
    """The stage function for a launched stage: writes its config, runs accelerate."""
    if get_kind(spec.kind).name != "train":
        raise ConfigError(f"stage {spec.name!r}: launch: is only for train stages")

    def run(config: Any) -> dict[str, Any]:
        config_file = runner.run_dir / spec.name / "launch.train.yaml"
        with atomic_open(config_file) as fh:
            yaml.safe_dump({"train": to_jsonable(config)}, fh, sort_keys=False)
        cmd = launch_command(runner, spec, config_file)
        if resolve_launch(runner, spec).num_machines > 1:
            raise ThoughtDistillError(
                f"stage {spec.name!r} spans {spec.launch.num_machines} machines: run on every node "
                f"(add --machine_rank R --main_process_ip HOST):\n  {' '.join(cmd)}\n"
                f"then continue with: thoughtdistill run <recipe> --from <the stage after {spec.name}>")
        runner.log(f"[{spec.name}] {' '.join(cmd)}")
        proc = subprocess.run(cmd)
        if proc.returncode != 0:
            raise ThoughtDistillError(f"stage {spec.name!r}: accelerate launch exited with {proc.returncode}")
        return {"output_dir": to_jsonable(config).get("output_dir"), "launched": cmd}

    return run
