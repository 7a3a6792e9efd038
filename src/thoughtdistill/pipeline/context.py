"""A stage's config as the runner sees it: placeholders filled (``${run_dir}``,
``${stages.NAME.dir}``, ``${servers.NAME.base_url}``...), validated by the stage's own model,
and dumped in a form that does not change from one run to the next."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from ..config import read_config_file, validate_config
from ..errors import ConfigError, ThoughtDistillError
from .recipe import Recipe, StageSpec, interpolate
from .servers import LOCAL_KEY_ENV, ServerPool, resolve_model, served_name
from .stages import get_kind

PLACEHOLDER_URL = "http://127.0.0.1:9/v1"  # stands for a local server's URL before it starts


class Context:
    """Placeholder values for one stage; servers are real only when ``live``."""

    def __init__(self, recipe: Recipe, run_dir: Path, pool: ServerPool | None, live: bool):
        self.recipe, self.run_dir, self.pool, self.live = recipe, run_dir, pool, live
        self.stage_dir: Path | None = None
        self.buildable: set[str] = set()

    def lookup(self, key: str) -> Any:
        parts = key.split(".")
        head = parts[0]
        if key == "run_dir":
            return str(self.run_dir)
        if key == "stage_dir":
            return str(self.stage_dir)
        if key == "recipe_dir":
            return str(Path(self.recipe.source).parent) if self.recipe.source else os.getcwd()
        if head == "vars" and len(parts) >= 2:
            value: Any = self.recipe.vars
            for p in parts[1:]:
                if not isinstance(value, dict) or p not in value:
                    raise KeyError(f"no var {'.'.join(parts[1:])}")
                value = value[p]
            return interpolate(value, self.lookup, where=f"vars.{'.'.join(parts[1:])}")
        if head == "fixture" and len(parts) == 2:
            path = resolve_model(f"fixture:{parts[1]}", build=self.live)
            self.buildable.add(path)
            return path
        if head == "stages" and len(parts) == 3 and parts[2] == "dir":
            self.recipe.stage(parts[1])
            return str(self.run_dir / parts[1])
        if head == "servers" and len(parts) == 3:
            return self._server(parts[1], parts[2])
        raise KeyError(key)

    def _server(self, name: str, attr: str) -> str:
        if name not in self.recipe.servers:
            raise KeyError(f"no server {name!r}")
        spec = self.recipe.servers[name]
        if attr == "api_key_env":
            return LOCAL_KEY_ENV
        if attr == "model":
            return served_name(name, spec)
        if attr == "base_url":
            return self.pool.get(name).base_url if self.live and self.pool else PLACEHOLDER_URL
        raise KeyError(f"server attribute {attr!r} (base_url, model, api_key_env)")


def stage_context(recipe: Recipe, run_dir: Path, pool: ServerPool | None, spec: StageSpec,
                  live: bool) -> Context:
    ctx = Context(recipe, run_dir, pool, live)
    ctx.stage_dir = run_dir / spec.name
    return ctx


def _stage_loc(source: str, name: str) -> list[Any]:
    """Where stage ``name``'s config sits in the recipe file (a list or a name mapping)."""
    try:
        stages = read_config_file(source).get("stages")
    except ThoughtDistillError:
        return []
    if isinstance(stages, list):
        idx = next((i for i, st in enumerate(stages) if isinstance(st, dict) and st.get("name") == name), None)
        return [] if idx is None else ["stages", idx, "config"]
    if isinstance(stages, dict) and isinstance(stages.get(name), dict):
        return ["stages", name, *(["config"] if "config" in stages[name] else [])]
    return []


def resolve_stage(recipe: Recipe, run_dir: Path, pool: ServerPool | None, spec: StageSpec,
                  live: bool) -> tuple[Any, dict[str, Any], Context]:
    """(validated config, the config with placeholders filled, their context)."""
    try:
        kind = get_kind(spec.kind)
    except ConfigError as exc:
        raise ConfigError(f"stage {spec.name!r}: {exc}") from None
    model, _ = kind.load()
    ctx = stage_context(recipe, run_dir, pool, spec, live)
    raw = interpolate(spec.config, ctx.lookup, where=f"stages.{spec.name}.config")
    source = recipe.source
    config = validate_config(model, raw, source=source or "recipe", path=source,
                             loc_prefix=(lambda: _stage_loc(source, spec.name)) if source else None,
                             context=f"stage {spec.name!r} ({spec.kind})")
    return config, raw, ctx


def to_jsonable(obj: Any) -> Any:
    if obj is None:
        return None
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def stable_dump(config: Any, run_dir: Path, pool: ServerPool) -> Any:
    """The config as JSON with the run folder written ``${run_dir}`` and local servers' URLs
    as the placeholder URL: the same recipe gives the same dump in any run."""
    run = str(run_dir)

    def fix(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, str):
            for server in pool.running.values():
                v = v.replace(server.base_url, PLACEHOLDER_URL)
            return v.replace(run, "${run_dir}")
        return v

    return fix(to_jsonable(config))
