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
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import yaml
from pydantic import BaseModel, ConfigDict, Field

from .. import __version__
from ..config import read_config_file, validate_config
from ..errors import ConfigError, ThoughtDistillError
from ..io.atomic import atomic_open
from .hashing import HashCache, hash_obj
from .recipe import Recipe, StageSpec, interpolate, load_recipe
from .servers import LOCAL_KEY_ENV, ServerPool, resolve_model, served_name
from .stages import get_kind

OUTPUT_KEY = re.compile(r"(^|_)(output|outputs|out|save|labeled)(_|$)|^output|_out$")
IGNORED_KEY = re.compile(r"cache|journal|log|tmp|temp|quarantine")
ENV_KEY = re.compile(r"(_env|_env_var|_env_vars|_envs)$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PATH_EXT = (".jsonl", ".json", ".yaml", ".yml", ".jinja", ".parquet", ".gz", ".txt", ".csv",
            ".jsonl.gz", ".safetensors", ".bin", ".html", ".md")
PLACEHOLDER_URL = "http://127.0.0.1:9/v1"  # stands for a local server's URL before it starts

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


def versions() -> dict[str, str]:
    out = {"thoughtdistill": __version__, "python": platform.python_version(),
           "platform": platform.platform()}
    for pkg in ("torch", "transformers", "trl", "accelerate", "openai", "pydantic", "vllm",
                "deepspeed", "math-verify", "llm-katan"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


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


def _failed_count(result: Any) -> int:
    """Requests a stage gave up on (generate, judge, evaluate report ``failed``)."""
    failed = getattr(result, "failed", 0)
    return failed if isinstance(failed, int) and not isinstance(failed, bool) else 0


def _plain(value: str) -> bool:
    """A literal string: not empty, one line, no URL, no ``${...}`` placeholder."""
    return bool(value) and "\n" not in value and "://" not in value and not value.startswith("${")


def _is_path_like(value: str) -> bool:
    if not _plain(value) or len(value) > 4096:
        return False
    if value.startswith(("/", "./", "../", "~")):
        return True
    # A bare name ("gsm8k_test.jsonl") is a name, not a path; "data/x.jsonl" is a path.
    return "/" in value and value.lower().endswith(PATH_EXT)


# Fields that always name an input file: a bare name ("train.json") is checked too.
INPUT_FILE_KEYS = {"input", "path", "data", "input_path", "instruction_path", "rubric_file",
                   "benchmark_path", "benchmarks_file", "eval_files"}
MODEL_KEYS = {"student", "teacher"}


def _is_input_name(key: str, value: str) -> bool:
    return key in INPUT_FILE_KEYS and _plain(value) and value.lower().endswith(PATH_EXT)


def _is_model_folder_like(key: str, value: str) -> bool:
    """A student/teacher given as a path (not a fixture name, not an interpolation)."""
    return key in MODEL_KEYS and _plain(value) and "/" in value and not value.lower().endswith(PATH_EXT)


def _walk(obj: Any, key: str = "") -> Any:
    """(last key, string value) for every string in a nested structure."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, str(k))
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _walk(v, key)
    elif isinstance(obj, str):
        yield key, obj


def _to_jsonable(obj: Any) -> Any:
    if obj is None:
        return None
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def _under(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


class _Context:
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
            name, attr = parts[1], parts[2]
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
        raise KeyError(key)


class Runner:
    def __init__(self, recipe: Recipe, run_dir: Path, log: Log = _stderr):
        self.recipe = recipe
        self.run_dir = run_dir.resolve()
        self.log = log
        self.manifests = self.run_dir / "manifests"
        self.hashes = HashCache(self.run_dir / ".hashcache.json")
        self.pool = ServerPool(recipe.servers, self.run_dir / "servers", log=log)

    # -- resolution ---------------------------------------------------------------------
    def resolve(self, spec: StageSpec, live: bool) -> tuple[Any, dict[str, Any], _Context]:
        try:
            kind = get_kind(spec.kind)
        except ConfigError as exc:
            raise ConfigError(f"stage {spec.name!r}: {exc}") from None
        model, _ = kind.load()
        ctx = _Context(self.recipe, self.run_dir, self.pool, live)
        ctx.stage_dir = self.run_dir / spec.name
        raw = interpolate(spec.config, ctx.lookup, where=f"stages.{spec.name}.config")
        source = self.recipe.source
        config = validate_config(model, raw, source=source or "recipe", path=source,
                                 loc_prefix=(lambda: _stage_loc(source, spec.name)) if source else None,
                                 context=f"stage {spec.name!r} ({spec.kind})")
        return config, raw, ctx

    def _stable_dump(self, config: Any) -> Any:
        dump = _to_jsonable(config)
        run = str(self.run_dir)

        def fix(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: fix(x) for k, x in v.items()}
            if isinstance(v, list):
                return [fix(x) for x in v]
            if isinstance(v, str):
                for server in self.pool.running.values():
                    v = v.replace(server.base_url, PLACEHOLDER_URL)
                return v.replace(run, "${run_dir}")
            return v

        return fix(dump)

    def config_hash(self, spec: StageSpec, config: Any) -> str:
        return hash_obj({"kind": get_kind(spec.kind).name, "config": self._stable_dump(config),
                         "outputs": spec.outputs,
                         "launch": spec.launch.model_dump() if spec.launch else None})

    def io_paths(self, spec: StageSpec, config: Any) -> tuple[list[Path], list[Path]]:
        """(inputs, declared outputs) found in a validated config."""
        stage_dir = self.run_dir / spec.name
        dump = _to_jsonable(config)
        outputs = [stage_dir] + [Path(p) for p in spec.outputs]
        inputs: list[Path] = []
        hooked = get_kind(spec.kind).input_paths(config)
        for key, value in _walk(dump):
            if not _is_path_like(value) and not (os.path.isabs(value) and "\n" not in value):
                continue
            if IGNORED_KEY.search(key):
                continue
            path = Path(os.path.expanduser(value))
            if OUTPUT_KEY.search(key):
                outputs.append(path)
            elif hooked is None and path.exists() and not _under(path, stage_dir) \
                    and not _under(stage_dir, path) and not _under(path, self.manifests):
                inputs.append(path)
        if hooked is not None:
            inputs = [Path(p) for p in hooked]
        return _dedupe(inputs), _dedupe(outputs)

    def env_vars(self, config: Any) -> list[str]:
        names: list[str] = []
        for key, value in _walk(_to_jsonable(config)):
            if ENV_KEY.search(key) and value:
                names.append(value)
        return names

    # -- manifests ----------------------------------------------------------------------
    def manifest_path(self, name: str) -> Path:
        return self.manifests / f"{name}.json"

    def read_manifest(self, name: str) -> dict[str, Any] | None:
        path = self.manifest_path(name)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except ValueError:
            return None

    def why_run(self, spec: StageSpec, config: Any) -> str | None:
        """None when the stage's recorded manifest still matches; else the reason to run."""
        manifest = self.read_manifest(spec.name)
        if manifest is None or manifest.get("status") != "done":
            return "never completed"
        if manifest.get("failed"):
            return f"{manifest['failed']} failed request(s) to send again"
        if manifest.get("config_hash") != self.config_hash(spec, config):
            return "config changed"
        inputs, _ = self.io_paths(spec, config)
        now = {str(p): self.hashes.path_hash(p) for p in inputs}
        if now != manifest.get("inputs"):
            changed = sorted(set(now.items()) ^ set(manifest.get("inputs", {}).items()))
            return f"inputs changed ({', '.join(sorted({c[0] for c in changed})[:3])})"
        for path, digest in manifest.get("outputs", {}).items():
            if self.hashes.path_hash(path) != digest:
                return f"output {path} missing or modified"
        return None

    def write_manifest(self, spec: StageSpec, config: Any, result: Any, seconds: float) -> Path:
        inputs, outputs = self.io_paths(spec, config)
        result_json = _to_jsonable(result)
        for _, value in _walk(result_json):
            if os.path.isabs(value) and "\n" not in value and len(value) < 4096:
                p = Path(value)
                if p.exists() and _under(p, self.run_dir) and not any(p == i for i in inputs) \
                        and not _under(p, self.manifests) and _under(p, self.run_dir / spec.name):
                    outputs.append(p)
        outputs = [p for p in _dedupe(outputs) if p.exists()]
        # A stage folder contains the other outputs listed under it: record it once.
        outputs = [p for p in outputs if p == self.run_dir / spec.name
                   or not _under(p, self.run_dir / spec.name)]
        manifest = {
            "status": "done",
            "stage": spec.name,
            "kind": get_kind(spec.kind).name,
            "config_hash": self.config_hash(spec, config),
            "config": self._stable_dump(config),
            "inputs": {str(p): self.hashes.path_hash(p) for p in inputs},
            "outputs": {str(p): self.hashes.path_hash(p) for p in outputs},
            "result": result_json,
            "failed": _failed_count(result),
            "seconds": round(seconds, 3),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": versions(),
        }
        path = self.manifest_path(spec.name)
        with atomic_open(path) as fh:
            json.dump(manifest, fh, indent=2, ensure_ascii=False)
        self.hashes.save()
        return path


def _dedupe(paths: list[Path]) -> list[Path]:
    seen: set[str] = set()
    out = []
    for p in paths:
        key = str(p.resolve()) if p.exists() else str(p)
        if key not in seen:
            seen.add(key)
            out.append(Path(key))
    return out


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
            runner.hashes.save()
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


def _check_env(runner: Runner, names: list[str], strict: bool, result: PipelineResult) -> list[str]:
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


def _stop_unneeded_servers(runner: Runner, remaining: list[str]) -> None:
    """Stop local servers no remaining stage refers to (frees CPU and memory for training)."""
    if not runner.pool.running:
        return
    text = json.dumps([runner.recipe.stage(n).config for n in remaining])
    for name in list(runner.pool.running):
        if f"servers.{name}." not in text:
            runner.log(f"stopping local server {name} (no later stage uses it)")
            runner.pool.running.pop(name).stop()


def _run(runner: Runner, selected: list[str], from_stage: str | None, force: bool,
         result: PipelineResult) -> None:
    recipe = runner.recipe
    runner.manifests.mkdir(parents=True, exist_ok=True)
    # Validate every selected stage before spending anything.
    resolved: dict[str, Any] = {}
    env_names: list[str] = []
    for spec in recipe.stages:
        if spec.enabled and spec.name in selected:
            config, _, _ = runner.resolve(spec, live=False)
            resolved[spec.name] = {"uses": get_kind(spec.kind).name, "config": runner._stable_dump(config)}
            env_names += runner.env_vars(config)
    problems = _check_env(runner, env_names, strict=True, result=result)
    if problems:
        raise ConfigError("; ".join(problems))
    for spec in recipe.stages:
        if not spec.enabled or spec.name not in selected:
            result.stages.append(StageOutcome(spec.name, spec.kind, "not-selected"))
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
                                              manifest=str(runner.manifest_path(name))))
            continue
        runner.log(f"[{name}] {step} running ({reason})")
        runner.manifest_path(name).unlink(missing_ok=True)
        outcome = StageOutcome(name, spec.kind, "failed", reason=reason)
        result.stages.append(outcome)
        _write_run_files(runner, resolved, result, "running")
        (runner.run_dir / name).mkdir(parents=True, exist_ok=True)
        live_config, _, _ = runner.resolve(spec, live=True)
        if get_kind(spec.kind).name == "train":
            live_config = _train_rerun(runner, spec, config, live_config, reason)
        _, fn = get_kind(spec.kind).load()
        if spec.launch is not None:
            fn = _launcher(runner, spec)
        try:
            stage_result = fn(live_config)
        except BaseException:
            outcome.seconds = round(time.monotonic() - t0, 3)
            _write_run_files(runner, resolved, result, "failed")
            raise
        outcome.seconds = round(time.monotonic() - t0, 3)
        outcome.status = "ran"
        outcome.manifest = str(runner.write_manifest(spec, config, stage_result, outcome.seconds))
        runner.log(f"[{name}] done in {outcome.seconds:.1f}s ({time.monotonic() - run_t0:.0f}s into the run)")
        failed = _failed_count(stage_result)
        if failed:
            msg = (f"stage {name!r}: {failed} request(s) failed for good (kept as errors, left out of what "
                   "uses them); the next run sends them again and keeps everything that finished")
            result.warnings.append(msg)  # the CLI shows warnings at the end
        _stop_unneeded_servers(runner, selected[selected.index(name) + 1:])
        _write_run_files(runner, resolved, result, "running")
    for spec in recipe.stages:
        html = runner.run_dir / spec.name / "report.html"
        if spec.enabled and get_kind(spec.kind).name == "report" and html.exists():
            result.report = html
    order = {n: i for i, n in enumerate(recipe.stage_names())}
    result.stages.sort(key=lambda s: order.get(s.name, 1 << 30))
    _write_run_files(runner, resolved, result, "done")


class _Launch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accelerate_config: str
    num_processes: int | None = Field(None, ge=1)
    num_machines: int = Field(1, ge=1)
    extra_args: list[str] = Field(default_factory=list)


def resolve_launch(runner: Runner, spec: StageSpec) -> _Launch:
    ctx = _Context(runner.recipe, runner.run_dir, runner.pool, live=False)
    ctx.stage_dir = runner.run_dir / spec.name
    raw = interpolate(spec.launch.model_dump(), ctx.lookup, where=f"stages.{spec.name}.launch")
    return validate_config(_Launch, raw, source=f"recipe stage {spec.name!r} launch")


def launch_command(runner: Runner, spec: StageSpec, config_file: Path) -> list[str]:
    launch = resolve_launch(runner, spec)
    cmd = ["accelerate", "launch", "--config_file", launch.accelerate_config,
           "--num_machines", str(launch.num_machines)]
    if launch.num_processes:
        cmd += ["--num_processes", str(launch.num_processes)]
    return cmd + launch.extra_args + ["-m", "thoughtdistill", get_kind(spec.kind).name, "-c", str(config_file)]


def _launcher(runner: Runner, spec: StageSpec) -> Callable[[Any], Any]:
    import subprocess

    if get_kind(spec.kind).name != "train":
        raise ConfigError(f"stage {spec.name!r}: launch: is only for train stages")

    def run(config: Any) -> dict[str, Any]:
        config_file = runner.run_dir / spec.name / "launch.train.yaml"
        with atomic_open(config_file) as fh:
            yaml.safe_dump({"train": _to_jsonable(config)}, fh, sort_keys=False)
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
        return {"output_dir": _to_jsonable(config).get("output_dir"), "launched": cmd}

    return run


def _dry_run(runner: Runner, selected: list[str]) -> PipelineResult:
    """Validate every stage config, input file and env var name; run nothing."""
    result = PipelineResult(run_dir=runner.run_dir, dry_run=True)
    problems: list[str] = []
    produced: list[Path] = [runner.run_dir]
    for spec in runner.recipe.stages:
        if not spec.enabled:
            continue
        try:
            config, _, ctx = runner.resolve(spec, live=False)
        except ThoughtDistillError as exc:
            problems.append(str(exc))
            continue
        problems += [f"stage {spec.name!r}: {p}" for p in
                     _check_env(runner, runner.env_vars(config), strict=False, result=result)]
        checked = _to_jsonable(config)
        if spec.launch is not None:
            try:
                checked = {"config": checked, "launch": resolve_launch(runner, spec).model_dump()}
                if get_kind(spec.kind).name != "train":
                    problems.append(f"stage {spec.name!r}: launch: is only for train stages")
            except ThoughtDistillError as exc:
                problems.append(str(exc))
        for key, value in _walk(checked):
            if IGNORED_KEY.search(key) or OUTPUT_KEY.search(key):
                continue
            model_like = _is_model_folder_like(key, value)
            if not (_is_path_like(value) or _is_input_name(key, value) or model_like):
                continue
            path = Path(os.path.expanduser(value))
            if path.exists() or any(_under(path, p) for p in produced) or str(path) in ctx.buildable:
                continue
            if any(_under(path, Path(b)) for b in ctx.buildable):
                continue
            if model_like and not _is_path_like(value):  # may be a hub name ("Qwen/Qwen3-4B")
                result.warnings.append(f"stage {spec.name!r}: field '{key}': {value} is not a local "
                                       "folder: it must be on the Hugging Face hub or in its cache")
                continue
            problems.append(f"stage {spec.name!r}: field '{key}': {value}: file not found")
        if spec.name in selected:
            reason = runner.why_run(spec, config) if runner.manifests.exists() else "never completed"
            status = "would-skip" if reason is None else "would-run"
        else:
            status, reason = "not-selected", ""
        result.stages.append(StageOutcome(spec.name, spec.kind, status, reason=reason or ""))
    if problems:
        raise ConfigError("recipe does not validate:\n  " + "\n  ".join(problems))
    return result
