"""Typed stage configs loaded from YAML/JSON files, with CLI overrides on top.

Secrets never live in configs: a config names the environment variable that holds a key
(``api_key_env``), and :func:`secret_from_env` reads it only when a request is made.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, TypeVar

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
    if not path.is_file():
        raise ConfigError(f"{path}: not a file (a config is a YAML or JSON file)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = "YAML" if path.suffix in (".yaml", ".yml") else "JSON" if path.suffix == ".json" else "YAML or JSON"
        raise ConfigError(f"{path}: a config must be a {kind} mapping of fields, got a {type(data).__name__}")
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


def endpoint_overrides(path: str | Path | None, field: str, name: str, base_url: str | None,
                       model: str | None, **flags: Any) -> dict[str, Any]:
    """Config overrides for the endpoint list ``field`` from a CLI's one-endpoint flags.

    ``--base-url``/``--model`` define one endpoint (refused when the config file lists
    endpoints: silently replacing them would be a surprise); the other flags alone tune every
    endpoint the config lists, and are refused when there is none to tune.
    """
    given = {k: v for k, v in flags.items() if v is not None}
    listed = (read_config_file(path).get(field) or []) if path is not None else []
    if base_url or model:
        if listed:
            raise ConfigError(f"{path}: lists {field}; --base-url/--model would replace them "
                              f"(edit the config, or drop -c or the flags)")
        return {field: [{"name": name, "base_url": base_url, "model": model, **given}]}
    if not given:
        return {}
    if not isinstance(listed, list) or not listed:
        flag_names = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ConfigError(f"{flag_names}: set one endpoint's options; give --base-url and --model "
                          f"(or a config that lists {field})")
    return {field: [dict(e, **given) if isinstance(e, dict) else e for e in listed]}


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
    prefix = [section] if path is not None and section is not None else []
    return validate_config(model, data, source=str(path) if path else "command line",
                           path=path, loc_prefix=prefix)


def validate_config(model: type[T], data: dict[str, Any], source: str, *, path: str | Path | None = None,
                    loc_prefix: list[Any] | Callable[[], list[Any]] | None = None,
                    context: str | None = None) -> T:
    """``model`` from ``data``; the error names ``source``, the line in ``path`` when the bad
    field is in that file, and the field. ``loc_prefix``: where ``data`` sits in ``path`` (a
    callable is only asked on an error)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc, msg = validation_field(exc)
        msg = msg.removeprefix("Value error, ")
        prefix = loc_prefix() if callable(loc_prefix) else (loc_prefix or [])
        line = config_line(path, [*prefix, *exc.errors()[0].get("loc", ())]) if path else None
        where = f"{source}:{line}" if line else source
        where += f": {context}" if context else ""
        raise ConfigError(f"{where}: field '{loc}': {msg}" if loc else f"{where}: {msg}") from None


def config_line(path: str | Path, loc: list[Any]) -> int | None:
    """The line of field ``loc`` in a YAML/JSON file (of its nearest present parent when the
    field is missing), from the parser's marks; None when the file cannot tell."""
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                return line
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def secret_from_env(var: str | None, *, required: bool = True, purpose: str = "") -> str | None:
    """Read a key from the environment; the error names the variable, never a value."""
    if not var:
        return None
    value = os.environ.get(var)
    if not value and required:
        what = f" for {purpose}" if purpose else ""
        raise ConfigError(f"environment variable {var} is not set (API key{what})")
    return value
