"""What a stage reads and writes, declared by its config.

Every stage config has ``inputs()`` and ``outputs()``: the files, folders and models its
result depends on, and those it writes, as :class:`StageFile` entries. The pipeline hashes
exactly the inputs (and the config) to skip an unchanged stage, and checks exactly the
outputs; nothing is guessed from field names.

A field that names a path says so in its type, so tools and tests can find it::

    input: IOPath[Path]                  # read or written: in inputs() or outputs()
    cache_dir: NoEffectPath[Path | None]  # a cache, journal or log: never hashed
    api_key_env: EnvName[str | None]      # names an environment variable

(``IOPath[T]`` is ``Annotated[T, PATH]``, and so on.)

``tests/pipeline/test_stage_io.py`` checks that every ``PATH`` field of every stage kind is
covered by ``inputs()``/``outputs()``. Not local files, and so never in them: ``hf:``
dataset references, ``package:`` benchmark files, fixture model names (``smollm2``,
``fixture:smollm2``); a model may also be a hub name (``Qwen/Qwen3-4B``), hashed only when a
local folder of that name exists.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal, TypeVar

from pydantic import BaseModel

from .io.hub import is_hub_ref
from .models import MODEL_NAMES


@dataclass(frozen=True)
class PathField:
    """Field metadata: the field names a file, folder or model (or a list of them)."""

    affects_results: bool = True


@dataclass(frozen=True)
class EnvVarField:
    """Field metadata: the field names an environment variable (checked before a run)."""


PATH = PathField()
NO_EFFECT = PathField(affects_results=False)
ENV_VAR = EnvVarField()

T = TypeVar("T")
IOPath = Annotated[T, PATH]
NoEffectPath = Annotated[T, NO_EFFECT]
EnvName = Annotated[T, ENV_VAR]

Kind = Literal["file", "folder", "model"]


@dataclass(frozen=True)
class StageFile:
    """One path a stage reads or writes.

    ``kind``: ``file`` / ``folder`` (must exist, or be made by an earlier stage) or ``model``
    (a local folder, else a name on the Hugging Face hub). ``exclude``: names inside a folder
    left out of its hash. ``field``: the name of the config field it came from (messages)."""

    path: str
    kind: Kind = "file"
    field: str = ""
    exclude: tuple[str, ...] = ()


def is_reference(value: str, kind: Kind = "file") -> bool:
    """A name that is not a local path: ``hf:`` and ``package:`` references, fixture models."""
    if is_hub_ref(value) or value.startswith("package:"):
        return True
    return kind == "model" and (value in MODEL_NAMES or value.startswith("fixture:"))


def looks_like_file(value: str) -> bool:
    """For fields that take a file or the text itself (a chat template): the file case."""
    if not value or "\n" in value or len(value) >= 4096:
        return False
    return value.startswith(("/", "./", "../", "~")) or value.endswith((".jinja", ".j2")) or Path(value).exists()


def _values(obj: Any, parts: list[str], label: str) -> Iterator[tuple[str, Any]]:
    if not parts:
        if isinstance(obj, (list, tuple)):
            for i, item in enumerate(obj):
                yield f"{label}[{i}]", item
        elif obj is not None:
            yield label, obj
        return
    if isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            yield from _values(item, parts, f"{label}[{i}]")
        return
    if obj is None:
        return
    head = parts[0]
    yield from _values(getattr(obj, head), parts[1:], f"{label}.{head}" if label else head)


def files(config: BaseModel, *fields: str, kind: Kind = "file") -> list[StageFile]:
    """The paths in ``fields`` of ``config`` (dotted for nested settings, lists expanded, unset
    and reference values left out)."""
    out = []
    for name in fields:
        for _, value in _values(config, name.split("."), ""):
            text = str(value)
            if text and not is_reference(text, kind):
                out.append(StageFile(text, kind, name.rsplit(".", 1)[-1]))
    return out


# -- declared fields ------------------------------------------------------------------------

def _metadata(info: Any) -> list[Any]:
    return list(getattr(info, "metadata", None) or [])


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """Model classes a field's type holds (``Sub``, ``list[Sub]``, ``Sub | None``...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def declared_fields(model: type[BaseModel], marker_type: type = PathField,
                    prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(dotted field name, field info, marker) for every field of ``model`` and its nested
    settings whose type carries a ``marker_type`` marker."""
    for name, info in model.model_fields.items():
        loc = f"{prefix}{name}"
        marker = next((m for m in _metadata(info) if isinstance(m, marker_type)), None)
        if marker is not None:
            yield loc, info, marker
        for sub in _models_in(info.annotation):
            yield from declared_fields(sub, marker_type, f"{loc}.")


def field_values(config: BaseModel, marker_type: type = PathField) -> Iterator[tuple[str, Any, Any]]:
    """(field label, value, marker) of every set ``marker_type`` field in a config instance."""
    for loc, _, marker in declared_fields(type(config), marker_type):
        for label, value in _values(config, loc.split("."), ""):
            yield label, value, marker
