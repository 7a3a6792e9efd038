"""Run a recipe: stages in order, each skipped when its config and inputs are unchanged.

Run directory layout::

    RUN/recipe.yaml            the recipe as given
    RUN/recipe.resolved.json   every stage's validated config (placeholders filled, no secrets)
    RUN/run.json               versions, timings and the status of every stage
    RUN/manifests/NAME.json    per stage: config hash, input hashes, output hashes, result
    RUN/NAME/                  each stage's own folder (its outputs)
    RUN/servers/NAME/          logs of local servers the run started

A stage counts as done only when its manifest exists; the manifest is written (atomically)
after the stage function returned, i.e. after its outputs were written. A killed run thus
re-runs the interrupted stage (which resumes internally, e.g. generate's journal) and skips
every stage before it whose manifest still matches.

Placeholders and configs: :mod:`.context`; the skip decision and manifests: :mod:`.manifest`;
``launch:`` (accelerate): :mod:`.launch`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from ..errors import ConfigError, ThoughtDistillError
from ..io.atomic import atomic_open
from ..stage_io import EnvVarField, StageFile, field_values
from .context import Context, resolve_stage, stable_dump
from .hashing import hash_obj
from .launch import launch_command, launcher, resolve_launch  # noqa: F401  (launch_command: imported from here)
from .manifest import Manifests, declared_outputs, failed_count, under, versions
from .recipe import Recipe, StageSpec, load_recipe
from .servers import LOCAL_KEY_ENV, ServerPool
from .stages import get_kind

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_Context = Context  # the name tests/train/test_recipes.py imports

Log = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class StageOutcome:
    name: str
    kind: str
    status: str  # ran | skipped | not-selected | failed | would-run | would-skip
    seconds: float = 0.0
    reason: str = ""
    manifest: str | None = None


@dataclass
class PipelineResult:
    run_dir: Path
    stages: list[StageOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    warnings_logged: int = 0  # the first N warnings were already shown while running
    dry_run: bool = False
    report: Path | None = None

    def status(self, name: str) -> str:
        return next(s.status for s in self.stages if s.name == name)


class Runner:
    def __init__(self, recipe: Recipe, run_dir: Path, log: Log = _stderr):
        self.recipe = recipe
        self.run_dir = run_dir.resolve()
        self.log = log
        self.manifests = Manifests(self.run_dir)
        self.pool = ServerPool(recipe.servers, self.run_dir / "servers", log=log)

    def resolve(self, spec: StageSpec, live: bool) -> tuple[Any, dict[str, Any], Context]:
        return resolve_stage(self.recipe, self.run_dir, self.pool, spec, live)

    def stable_dump(self, config: Any) -> Any:
        return stable_dump(config, self.run_dir, self.pool)

    def config_hash(self, spec: StageSpec, config: Any) -> str:
        return hash_obj({"kind": get_kind(spec.kind).name, "config": self.stable_dump(config),
                         "outputs": spec.outputs,
                         "launch": spec.launch.model_dump() if spec.launch else None})

    def why_run(self, spec: StageSpec, config: Any) -> str | None:
        """None when the stage's recorded manifest still matches; else the reason to run."""
        return self.manifests.why_run(spec.name, self.config_hash(spec, config), config.inputs())

    def write_manifest(self, spec: StageSpec, config: Any, result: Any, seconds: float) -> Path:
        stage_dir = self.run_dir / spec.name
        fields = {"kind": get_kind(spec.kind).name, "config_hash": self.config_hash(spec, config),
                  "config": self.stable_dump(config)}
        return self.manifests.write(spec.name, fields, config.inputs(),
                                    declared_outputs(config, stage_dir, spec.outputs), stage_dir, result, seconds)


def env_vars(config: Any) -> list[str]:
    """The environment variables a config names (its ``EnvName`` fields)."""
    return [str(value) for _, value, _ in field_values(config, EnvVarField) if value]


def check_env(names: list[str], strict: bool, result: PipelineResult) -> list[str]:
    """Problems with env var names; an unset variable is a problem when ``strict``, else a warning."""
    problems: list[str] = []
    for name in dict.fromkeys(names):
        if not ENV_NAME.match(name):
            problems.append(f"'{name}' is not a valid environment variable name")
        elif name != LOCAL_KEY_ENV and not os.environ.get(name):
            msg = f"environment variable {name} is not set"
            target = problems if strict else result.warnings
            if msg not in target:
                target.append(msg)
    return problems


def _select(recipe: Recipe, from_stage: str | None, until: str | None) -> list[str]:
    names = recipe.stage_names()
    for which, value in (("--from", from_stage), ("--until", until)):
        if value is not None and value not in names:
            raise ConfigError(f"{which} {value}: no such stage; stages: {', '.join(names)}")
    start = names.index(from_stage) if from_stage else 0
    stop = names.index(until) + 1 if until else len(names)
    if start >= stop:
        raise ConfigError(f"--from {from_stage} comes after --until {until}")
    return names[start:stop]


def default_run_dir(recipe: Recipe) -> Path:
    return Path(recipe.run_dir or f"runs/{recipe.name}")


@contextlib.contextmanager
def _run_lock(run_dir: Path):
    run_dir.mkdir(parents=True, exist_ok=True)
    fh = open(run_dir / ".lock", "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise ThoughtDistillError(f"{run_dir}: another thoughtdistill run is using this run directory") from None
    try:
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def run_pipeline(
    recipe: str | Path | Recipe,
    run_dir: str | Path | None = None,
    *,
    from_stage: str | None = None,
    until: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    variables: dict[str, Any] | None = None,
    log: Log = _stderr,
) -> PipelineResult:
    """Run (or with ``dry_run`` only validate) a recipe; see the module docstring.

    ``variables`` override the recipe's ``vars`` (CLI ``--set KEY=VALUE``)."""
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    if variables:
        unknown = sorted(set(variables) - set(recipe.vars))
        if unknown:
            raise ConfigError(f"--set {', '.join(unknown)}: not a var of recipe {recipe.name!r} "
                              f"(vars: {', '.join(recipe.vars) or 'none'})")
        recipe = recipe.model_copy(update={"vars": {**recipe.vars, **variables}})
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(recipe)
    selected = _select(recipe, from_stage, until)
    runner = Runner(recipe, run_dir, log)
    if dry_run:
        return _dry_run(runner, selected)
    result = PipelineResult(run_dir=runner.run_dir)
    with _run_lock(runner.run_dir):
        try:
            _run(runner, selected, from_stage, force, result)
        finally:
            runner.pool.stop_all()
            runner.manifests.hashes.save()
    return result


def _write_run_files(runner: Runner, resolved: dict[str, Any], result: PipelineResult, state: str) -> None:
    rd = runner.run_dir
    if runner.recipe.source and Path(runner.recipe.source).exists():
        text = Path(runner.recipe.source).read_text(encoding="utf-8")
    else:
        text = yaml.safe_dump(runner.recipe.model_dump(mode="json"), sort_keys=False)
    with atomic_open(rd / "recipe.yaml") as fh:
        fh.write(text)
    with atomic_open(rd / "recipe.resolved.json") as fh:
        json.dump(resolved, fh, indent=2, ensure_ascii=False)
    with atomic_open(rd / "run.json") as fh:
        json.dump({"recipe": runner.recipe.name, "state": state, "versions": versions(),
                   "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                   "stages": [dataclasses.asdict(s) for s in result.stages]}, fh, indent=2)


def _stop_unneeded_servers(runner: Runner, remaining: list[str]) -> None:
    """Stop local servers no remaining stage refers to (frees CPU and memory for training)."""
    if not runner.pool.running:
        return
    text = json.dumps([runner.recipe.stage(n).config for n in remaining])
    for name in list(runner.pool.running):
        if f"servers.{name}." not in text:
            runner.log(f"stopping local server {name} (no later stage uses it)")
            runner.pool.running.pop(name).stop()


def _train_rerun(runner: Runner, spec: StageSpec, config: Any, live: Any, reason: str) -> Any:
    """A train stage interrupted with this very config continues from its checkpoints; any
    other re-run replaces what the stage made before (its own folder)."""
    marker = runner.run_dir / spec.name / ".train-started.json"
    digest = runner.config_hash(spec, config)
    try:
        same = json.loads(marker.read_text()).get("config_hash") == digest
    except (OSError, ValueError):
        same = False
    with atomic_open(marker) as fh:
        json.dump({"config_hash": digest}, fh)
    update: dict[str, Any] = {"overwrite": True}
    if same and reason == "never completed" and live.resume_from_checkpoint is False:
        update["resume_from_checkpoint"] = True  # no-op when no checkpoint was saved
        runner.log(f"[{spec.name}] interrupted before: continuing from its last checkpoint, if any")
    return live.model_copy(update=update)


def _validate_selected(runner: Runner, selected: list[str], result: PipelineResult) -> dict[str, Any]:
    """Every selected stage's config (and env var), validated before anything is spent."""
    resolved: dict[str, Any] = {}
    env_names: list[str] = []
    for spec in runner.recipe.stages:
        if spec.enabled and spec.name in selected:
            config, _, _ = runner.resolve(spec, live=False)
            resolved[spec.name] = {"uses": get_kind(spec.kind).name, "config": runner.stable_dump(config)}
            env_names += env_vars(config)
    problems = check_env(env_names, strict=True, result=result)
    if problems:
        raise ConfigError("; ".join(problems))
    for spec in runner.recipe.stages:
        if not spec.enabled or spec.name not in selected:
            result.stages.append(StageOutcome(spec.name, spec.kind, "not-selected"))
    return resolved


def _run_stage(runner: Runner, spec: StageSpec, config: Any, reason: str) -> Any:
    """Call the stage's function on its live config (local servers started); returns its result."""
    (runner.run_dir / spec.name).mkdir(parents=True, exist_ok=True)
    live_config, _, _ = runner.resolve(spec, live=True)
    kind = get_kind(spec.kind)
    if kind.name == "train":
        live_config = _train_rerun(runner, spec, config, live_config, reason)
    elif kind.name == "evaluate" and reason != "never completed":
        # Its model or settings changed: the generations made before are replaced, not resumed
        # (resuming them is refused: they came from another model).
        live_config = live_config.model_copy(update={"overwrite": True})
    _, fn = kind.load()
    if spec.launch is not None:
        fn = launcher(runner, spec)
    return fn(live_config)


def _run(runner: Runner, selected: list[str], from_stage: str | None, force: bool,
         result: PipelineResult) -> None:
    recipe = runner.recipe
    runner.manifests.folder.mkdir(parents=True, exist_ok=True)
    resolved = _validate_selected(runner, selected, result)
    _write_run_files(runner, resolved, result, "running")
    run_t0 = time.monotonic()
    for number, name in enumerate(selected, 1):
        spec = recipe.stage(name)
        t0 = time.monotonic()
        step = f"stage {number}/{len(selected)}"
        config, _, _ = runner.resolve(spec, live=False)
        reason = "forced" if force or name == from_stage else runner.why_run(spec, config)
        if reason is None:
            runner.log(f"[{name}] {step} unchanged; skipped")
            result.stages.append(StageOutcome(name, spec.kind, "skipped",
                                              manifest=str(runner.manifests.path(name))))
            continue
        runner.log(f"[{name}] {step} running ({reason})")
        runner.manifests.path(name).unlink(missing_ok=True)
        outcome = StageOutcome(name, spec.kind, "failed", reason=reason)
        result.stages.append(outcome)
        _write_run_files(runner, resolved, result, "running")
        try:
            stage_result = _run_stage(runner, spec, config, reason)
        except BaseException:
            outcome.seconds = round(time.monotonic() - t0, 3)
            _write_run_files(runner, resolved, result, "failed")
            raise
        outcome.seconds = round(time.monotonic() - t0, 3)
        outcome.status = "ran"
        outcome.manifest = str(runner.write_manifest(spec, config, stage_result, outcome.seconds))
        runner.log(f"[{name}] done in {outcome.seconds:.1f}s ({time.monotonic() - run_t0:.0f}s into the run)")
        failed = failed_count(stage_result)
        if failed:
            msg = (f"stage {name!r}: {failed} request(s) failed for good (kept as errors, left out of what "
                   "uses them); the next run sends them again and keeps everything that finished")
            result.warnings.append(msg)  # the CLI shows warnings at the end
        _stop_unneeded_servers(runner, selected[selected.index(name) + 1:])
        _write_run_files(runner, resolved, result, "running")
    _finish(runner, resolved, result)


def _finish(runner: Runner, resolved: dict[str, Any], result: PipelineResult) -> None:
    for spec in runner.recipe.stages:
        html = runner.run_dir / spec.name / "report.html"
        if spec.enabled and get_kind(spec.kind).name == "report" and html.exists():
            result.report = html
    order = {n: i for i, n in enumerate(runner.recipe.stage_names())}
    result.stages.sort(key=lambda s: order.get(s.name, 1 << 30))
    _write_run_files(runner, resolved, result, "done")


# -- --dry-run ---------------------------------------------------------------------------------

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


def _dry_run(runner: Runner, selected: list[str]) -> PipelineResult:
    """Validate every stage config, declared input file, env var name and launch setting;
    run nothing, write nothing."""
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


__all__ = ["PipelineResult", "Runner", "StageOutcome", "default_run_dir", "launch_command", "run_pipeline"]
