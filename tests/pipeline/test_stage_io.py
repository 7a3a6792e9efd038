"""Every stage declares its files: each path-typed field of every registered stage kind's
config is covered by the config's ``inputs()`` / ``outputs()`` or marked as not affecting
results, and renaming such a field without updating them fails here. The runner hashes
exactly the declared inputs (real runs of the built-in stages, no model or server)."""

from __future__ import annotations

import json
import re
import types
import typing
from pathlib import Path
from typing import Any, Union

import pytest
import yaml
from pydantic import BaseModel

from thoughtdistill.pipeline import run_pipeline
from thoughtdistill.pipeline.stages import KINDS
from thoughtdistill.stage_io import PathField, declared_fields

from shared_data import shared_data_dir

ENDPOINT = {"name": "t", "base_url": "http://127.0.0.1:9/v1", "model": "m"}
# A valid config of every kind, with every optional settings block that holds path fields set.
EXAMPLES: dict[str, dict[str, Any]] = {
    "prepare": {"sources": [{"path": "q.jsonl"}], "output": "o.jsonl"},
    "easydistill_export": {"input": "i.jsonl", "output": "o.json"},
    "generate": {"input": "i.jsonl", "output": "o.jsonl", "teachers": [ENDPOINT]},
    "judge": {"input": "i.jsonl", "output": "o.jsonl", "judges": [ENDPOINT]},
    "verify": {"input": "i.jsonl", "output": "o.jsonl"},
    "select": {"input": ["i.jsonl"], "output": "o.jsonl", "hygiene": {"eval_files": []}},
    "train": {"data": ["d.jsonl"], "student": "smollm2", "output_dir": "out",
              "kd": {"teacher": "t", "mode": "stored", "teacher_logprobs": "lp"}},
    "evaluate": {"model": "m", "benchmark": "gsm8k"},
    "report": {"run_dir": "run", "output_dir": "run/report"},
}
KIND_NAMES = sorted({k.name for k in KINDS.values()})


def _config_class(kind: str) -> type[BaseModel]:
    return KINDS[kind].load()[0]


def mentions_path(annotation: Any) -> bool:
    """Whether a type is or holds ``pathlib.Path``."""
    if annotation is Path:
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        return any(mentions_path(a) for a in typing.get_args(annotation))
    return False


def _unindexed(label: str) -> str:
    return re.sub(r"\[\d+\]", "", label)


def _fill(model: BaseModel, prefix: str = "") -> list[tuple[str, str, PathField]]:
    """Give every path field of ``model`` (nested settings too) its own sentinel path;
    returns (label, sentinel, marker)."""
    out = []
    for name, info in type(model).model_fields.items():
        label = f"{prefix}{name}"
        marker = next((m for m in info.metadata if isinstance(m, PathField)), None)
        if marker is not None:
            sentinel = f"/td-sentinel/{label}"
            setattr(model, name, [sentinel] if typing.get_origin(info.annotation) is list else sentinel)
            out.append((label, sentinel, marker))
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            out += _fill(value, f"{label}.")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    out += _fill(item, f"{label}[{i}].")
    return out


def uncovered(config_class: type[BaseModel], raw: dict[str, Any]) -> list[str]:
    """Path fields whose value inputs()/outputs() do not declare (or declare though marked
    as not affecting results); an error calling them counts as uncovered."""
    config = config_class.model_validate(raw)
    filled = _fill(config)
    reached = {_unindexed(label) for label, _, _ in filled}
    missing = [f"{loc} (not set by the example)" for loc, _, _ in declared_fields(config_class) if loc not in reached]
    try:
        declared = [str(f.path) for f in config.inputs() + config.outputs()]
    except AttributeError as exc:
        return missing + [f"inputs()/outputs() failed: {exc}"]
    for label, sentinel, marker in filled:
        hit = any(p == sentinel or p.startswith(sentinel + "/") or p.startswith(sentinel + ".") for p in declared)
        if hit != marker.affects_results:
            missing.append(label if marker.affects_results else f"{label} (marked NO_EFFECT, yet declared)")
    return missing


# -- a copy of a config class with one field renamed -----------------------------------------

def _swap(tp: Any, old: type, new: type) -> Any:
    if tp is old:
        return new
    args = typing.get_args(tp)
    swapped = tuple(_swap(a, old, new) for a in args)
    if swapped == args:
        return tp
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return Union[swapped]
    return origin[swapped]


def copy_model(cls: type[BaseModel], rename: list[str] | None = None) -> type[BaseModel]:
    """``cls``'s fields and its inputs()/outputs() in a new class; the field at dotted path
    ``rename`` (in nested settings too) is called ``<name>_renamed`` there."""
    annotations: dict[str, Any] = {}
    ns: dict[str, Any] = {"__module__": cls.__module__, "__annotations__": annotations,
                          "model_config": cls.model_config}
    for name, info in cls.model_fields.items():
        annotation, new_name = info.annotation, name
        if rename and name == rename[0]:
            if len(rename) == 1:
                new_name = f"{name}_renamed"
            else:
                sub = next(m for m in typing.get_args(annotation) + (annotation,)
                           if isinstance(m, type) and issubclass(m, BaseModel))
                annotation = _swap(annotation, sub, copy_model(sub, rename[1:]))
        annotations[new_name] = annotation
        ns[new_name] = info
    for method in ("inputs", "outputs"):
        if hasattr(cls, method):
            ns[method] = getattr(cls, method)
    return type(cls)(f"{cls.__name__}Copy", (BaseModel,), ns)


def rename_raw(raw: Any, rename: list[str]) -> Any:
    if isinstance(raw, list):
        return [rename_raw(item, rename) for item in raw]
    if not isinstance(raw, dict) or rename[0] not in raw:
        return raw
    out = dict(raw)
    if len(rename) == 1:
        out[f"{rename[0]}_renamed"] = out.pop(rename[0])
    else:
        out[rename[0]] = rename_raw(out[rename[0]], rename[1:])
    return out


def affecting_fields() -> list[tuple[str, str]]:
    return [(kind, loc) for kind in KIND_NAMES for loc, _, marker in declared_fields(_config_class(kind))
            if marker.affects_results]


# -- tests -----------------------------------------------------------------------------------

def test_every_kind_names_its_function_and_config_exactly():
    assert set(EXAMPLES) == set(KIND_NAMES), "add an example config for every registered stage kind"
    for kind in KIND_NAMES:
        spec = KINDS[kind]
        assert re.fullmatch(r"[\w.]+:\w+", spec.function) and re.fullmatch(r"[\w.]+:\w+", spec.config)
        config_class, fn = spec.load()
        assert callable(fn) and callable(config_class.inputs) and callable(config_class.outputs)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_path_typed_fields_are_marked(kind):
    """A field typed Path (at any depth) says whether it is a stage file or has no effect."""

    def unmarked(model: type[BaseModel], prefix: str = "") -> list[str]:
        out = []
        for name, info in model.model_fields.items():
            if mentions_path(info.annotation) and not any(isinstance(m, PathField) for m in info.metadata):
                out.append(prefix + name)
            for arg in (info.annotation, *typing.get_args(info.annotation)):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    out += unmarked(arg, f"{prefix}{name}.")
        return out

    assert unmarked(_config_class(kind)) == []


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_path_fields_are_covered_by_inputs_or_outputs(kind):
    assert uncovered(_config_class(kind), EXAMPLES[kind]) == []
    assert uncovered(copy_model(_config_class(kind)), EXAMPLES[kind]) == []  # the copy below is faithful


@pytest.mark.parametrize(("kind", "loc"), affecting_fields())
def test_renaming_a_path_field_alone_is_caught(kind, loc):
    """What a field rename that forgets inputs()/outputs() looks like: this test's check fails."""
    renamed = copy_model(_config_class(kind), loc.split("."))
    problems = uncovered(renamed, rename_raw(EXAMPLES[kind], loc.split(".")))
    assert problems and not all("not set by the example" in p for p in problems), problems


def test_not_local_files_are_not_declared():
    """hf: datasets, packaged benchmarks and fixture models are names, not files to hash."""
    select = _config_class("select").model_validate(
        {"input": ["hf:org/chains:train", "local.jsonl"], "output": "o.jsonl",
         "hygiene": {"eval_files": ["hf:org/bench:test", "package:gsm8k_test.jsonl"]}})
    assert [f.path for f in select.inputs()] == ["local.jsonl"]
    train = _config_class("train").model_validate({"data": ["d.jsonl"], "student": "smollm2", "output_dir": "o",
                                                   "chat_template": "{{ messages }}"})
    assert [(f.path, f.kind) for f in train.inputs()] == [("d.jsonl", "file")]
    hub = train.model_copy(update={"student": "Qwen/Qwen3-4B", "chat_template": "t.jinja"})
    assert [(f.path, f.kind) for f in hub.inputs()] == [("d.jsonl", "file"), ("Qwen/Qwen3-4B", "model"),
                                                       ("t.jinja", "file")]
    served = _config_class("evaluate").model_validate({"model": "deepseek-reasoner", "benchmark": "gsm8k",
                                                       "backend": "openai", "chat_template": "train"})
    assert served.inputs() == []


def test_manifest_hashes_exactly_the_declared_inputs(tmp_path):
    """prepare -> export -> report: each manifest lists what the config declares; the report
    (which reads the other stages' manifests, not its own) is skipped when nothing changed and
    re-runs after a stage before it did."""
    data = shared_data_dir() / "multi_chain.jsonl"

    def write(fmt: str) -> Path:
        path = tmp_path / "recipe.yaml"
        path.write_text(yaml.safe_dump({"name": "io", "stages": [
            {"name": "prepare", "config": {"sources": [{"path": str(data), "limit": 2}],
                                           "output": "${stage_dir}/questions.jsonl"}},
            {"name": "export", "uses": "easydistill_export", "config": {
                "input": "${stages.prepare.dir}/questions.jsonl", "output": "${stage_dir}/out.json", "format": fmt}},
            {"name": "report", "config": {"run_dir": "${run_dir}", "output_dir": "${stage_dir}"}}]}))
        return path

    run = tmp_path / "run"
    first = run_pipeline(write("generation"), run, log=lambda m: None)
    assert {s.status for s in first.stages} == {"ran"}
    manifest = json.loads((run / "manifests" / "export.json").read_text())
    assert list(manifest["inputs"]) == [str(run / "prepare" / "questions.jsonl")]
    assert list(manifest["outputs"]) == [str(run / "export")]
    assert list(json.loads((run / "manifests" / "prepare.json").read_text())["inputs"]) == [str(data.resolve())]
    assert list(json.loads((run / "manifests" / "report.json").read_text())["inputs"]) == [str(run / "manifests")]
    again = run_pipeline(write("generation"), run, log=lambda m: None)
    assert {s.name: s.status for s in again.stages} == {"prepare": "skipped", "export": "skipped", "report": "skipped"}
    changed = run_pipeline(write("eval"), run, log=lambda m: None)
    assert {s.name: s.status for s in changed.stages} == {"prepare": "skipped", "export": "ran", "report": "ran"}
