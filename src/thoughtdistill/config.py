"""Typed stage configs loaded from YAML/JSON files, with CLI overrides on top.

Secrets never live in configs: a config names the environment variable that holds a key
(``api_key_env``), and :func:`secret_from_env` reads it only when a request is made.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError
from .records import validation_field

T = TypeVar("T", bound=BaseModel)


class StageConfig(BaseModel):
    """Base of every stage config: unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping, got {type(data).__name__}")
    return data


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: nested mappings merge, everything else in ``override`` wins; None = unset."""
    out = dict(base)
    for key, value in override.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def build_config(
    model: type[T],
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    section: str | None = None,
) -> T:
    """Config from file (optionally one ``section`` of it) with CLI ``overrides`` on top."""
    data: dict[str, Any] = {}
    if path is not None:
        data = read_config_file(path)
        if section is not None:
            data = data.get(section, {}) or {}
    data = merge(data, overrides or {})
    return validate_config(model, data, source=str(path) if path else "command line")


def validate_config(model: type[T], data: dict[str, Any], source: str) -> T:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc, msg = validation_field(exc)
        raise ConfigError(f"{source}: field '{loc}': {msg}") from None


def secret_from_env(var: str | None, *, required: bool = True, purpose: str = "") -> str | None:
    """Read a key from the environment; the error names the variable, never a value."""
    if not var:
        return None
    value = os.environ.get(var)
    if not value and required:
        what = f" for {purpose}" if purpose else ""
        raise ConfigError(f"environment variable {var} is not set (API key{what})")
    return value
