"""The recipe: a YAML file naming the stages of a run and their configs.

```yaml
name: my-run
run_dir: runs/my-run            # where every stage writes (CLI --run-dir overrides)
vars: {n: 20}                   # free values: ${vars.n}
servers:                        # local OpenAI-compatible servers the pipeline starts/stops
  teacher: {model: fixture:smollm2, backend: transformers, max_tokens: 256}
stages:
  - name: generate              # unique; its folder is ${run_dir}/generate
    uses: generate              # stage kind (default: the name)
    config: {...}               # validated by the stage's own pydantic model
```

Placeholders inside configs: ``${run_dir}``, ``${stage_dir}`` (this stage's folder),
``${stages.NAME.dir}``, ``${servers.NAME.base_url|model|api_key_env}``, ``${fixture.smollm2}`` / ``${fixture.tiny-qwen3}`` (fixture model
folders), ``${vars.KEY}``, ``${recipe_dir}``. A value that is exactly one placeholder keeps
the placeholder's type (``n: ${vars.n}`` stays an int). Secrets never appear here: configs
name environment variables (``api_key_env``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..config import read_config_file, validate_config
from ..errors import ConfigError

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


class ServerSpec(BaseModel):
    """A local OpenAI-compatible server the pipeline starts before the first stage that
    uses it and stops at the end of the run."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="HF folder, or fixture:smollm2 / fixture:tiny-qwen3")
    backend: Literal["transformers", "echo", "vllm", "auto"] = "transformers"
    served_name: str | None = None
    max_tokens: int = Field(512, ge=1)
    max_concurrent: int = Field(2, ge=1)
    latency_ms: int = Field(0, ge=0)
    error_rate: float = Field(0.0, ge=0, le=1)
    startup_timeout: float = Field(300.0, gt=0)
    extra_args: list[str] = Field(default_factory=list, description="extra CLI args (vllm serve)")


class LaunchSpec(BaseModel):
    """Run a ``train`` stage under ``accelerate launch`` (multi-GPU, DeepSpeed, FSDP) instead of
    in-process. With ``num_machines > 1`` the pipeline prints the command for every node and
    stops; run it there, then continue with ``--from`` the next stage."""

    model_config = ConfigDict(extra="forbid")

    accelerate_config: str
    # int, or a ${vars.x} placeholder (checked again once filled in)
    num_processes: int | str | None = None
    num_machines: int | str = 1
    extra_args: list[str] = Field(default_factory=list)


class StageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    uses: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    launch: LaunchSpec | None = None
    outputs: list[str] = Field(default_factory=list, description="extra output paths to record")
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name_ok(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(f"stage name {value!r}: letters, digits, '-' and '_' only")
        return value

    @property
    def kind(self) -> str:
        return self.uses or self.name


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "run"
    description: str | None = None
    run_dir: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    servers: dict[str, ServerSpec] = Field(default_factory=dict)
    stages: list[StageSpec]
    source: str | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _stage_mapping(cls, data: Any) -> Any:
        # ``stages`` may also be a mapping name -> config (uses = name).
        if isinstance(data, dict) and isinstance(data.get("stages"), dict):
            data = dict(data)
            data["stages"] = [
                {"name": k, **v} if isinstance(v, dict) and "config" in v else {"name": k, "config": v or {}}
                for k, v in data["stages"].items()
            ]
        return data

    @model_validator(mode="after")
    def _unique(self) -> "Recipe":
        seen: set[str] = set()
        for stage in self.stages:
            if stage.name in seen:
                raise ValueError(f"stage name {stage.name!r} appears twice")
            seen.add(stage.name)
        if not self.stages:
            raise ValueError("a recipe needs at least one stage")
        return self

    def stage(self, name: str) -> StageSpec:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise ConfigError(f"no stage named {name!r} in recipe; stages: {', '.join(self.stage_names())}")

    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages if s.enabled]


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    data = read_config_file(path)
    recipe = validate_config(Recipe, data, source=str(path), path=path)
    recipe.source = str(path.resolve())
    return recipe


def interpolate(value: Any, lookup: Callable[[str], Any], where: str = "") -> Any:
    """Replace ``${...}`` placeholders in every string of a nested structure."""
    if isinstance(value, dict):
        return {k: interpolate(v, lookup, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, lookup, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = PLACEHOLDER.fullmatch(value)
    if whole:
        return _look(lookup, whole.group(1), where)
    return PLACEHOLDER.sub(lambda m: str(_look(lookup, m.group(1), where)), value)


def _look(lookup: Callable[[str], Any], key: str, where: str) -> Any:
    try:
        return lookup(key)
    except KeyError as exc:
        why = exc.args[0] if exc.args else key
        if key == "data":  # recipes written for versions that read the project's test-data folder
            why = ("removed: give your data files' paths; the shipped recipes' data is in "
                   "${recipe_dir}/quickstart-data, benchmark sets are eval -b names")
        raise ConfigError(f"{where}: unknown placeholder ${{{key}}} ({why})") from None
