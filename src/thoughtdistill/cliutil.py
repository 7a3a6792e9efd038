"""Stage CLIs built from their config models: each option has one source, its ``Field``.

:func:`config_options` turns every field of a stage config (nested sections included) into a
command-line option whose help is the field's ``description``, its choices and its default,
and hands the command the set options as a nested ``overrides`` dict for
:func:`~thoughtdistill.config.build_config` (so a ``-c`` file's values stand where no flag is
given). Adding a field to a config therefore adds the option, its ``--help`` line and its row
in the docs' generated option table (``scripts/gen_option_docs.py``), with no other edit.

Names: a top-level field ``max_length`` is ``--max-length``; a field of a section
(``budget.max_chains``) keeps its bare name ``--max-chains`` when no other field has that
name, else (or when the command asks, ``prefixed=``) it is prefixed with its section
(``--rv-cd-mix-per-question``, ``--lora-r``); a section within a section is one YAML value. A
bool is a ``--x/--no-x`` pair. Lists are repeatable options; values that are neither scalars nor lists
of scalars (ranges, mappings, mixed types) are read as YAML (``--rv '[3, 5]'``).
"""

from __future__ import annotations

import enum
import functools
import inspect
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping, Optional, Union

import typer
import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from .errors import ConfigError

PARAM_PREFIX = "cfg__"  # a generated parameter's name: cfg__budget__max_chains
ENDPOINT_PREFIX = "ep__"  # an endpoint flag's: ep__teachers__base_url


@dataclass(frozen=True)
class EndpointFlags:
    """One-endpoint flags of a stage whose config lists endpoints (``teachers``, ``judges``):
    ``--base-url`` and ``--model`` define one endpoint named by ``name_flag``; the other
    ``fields`` (of the endpoint model) alone tune every endpoint the ``-c`` file lists."""

    field: str
    role: str
    name_flag: str
    fields: tuple[str, ...] = ("base_url", "model", "api_key_env", "concurrency", "max_tokens")


_SCALARS = (bool, int, float, str, Path)


@dataclass(frozen=True)
class FieldOption:
    """One config field as a command-line option."""

    path: tuple[str, ...]
    decls: tuple[str, ...]
    annotation: Any
    help: str
    as_yaml: bool = False
    panel: str | None = None
    endpoint: bool = False  # a field of the one endpoint --base-url/--model define
    comma: bool = False  # a list given as one comma-separated value ('' = empty)

    @property
    def param(self) -> str:
        return (ENDPOINT_PREFIX if self.endpoint else PARAM_PREFIX) + "__".join(self.path)

    @property
    def dotted(self) -> str:
        return f"{self.path[0]}[].{'.'.join(self.path[1:])}" if self.endpoint else ".".join(self.path)

    @property
    def metavar(self) -> str | None:
        if self.as_yaml:
            return "YAML"
        if typing.get_origin(_unwrap_optional(self.annotation)) is list:  # repeatable: one value each
            (item,) = typing.get_args(_unwrap_optional(self.annotation))
            return {int: "<int>", float: "<float>", Path: "<path>"}.get(item, "<str>") + " (repeat)"
        return None

    def parameter(self) -> inspect.Parameter:
        from rich.markup import escape  # '[low, high]' is text, not a style tag

        option = typer.Option(None, *self.decls, help=escape(self.help), rich_help_panel=self.panel,
                              metavar=self.metavar, show_default=False)
        return inspect.Parameter(self.param, inspect.Parameter.KEYWORD_ONLY, default=option,
                                 annotation=self.annotation)


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _submodel(tp: Any) -> type[BaseModel] | None:
    tp = _unwrap_optional(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _choices(tp: Any) -> list[str] | None:
    if typing.get_origin(tp) is Literal and all(isinstance(a, str) for a in typing.get_args(tp)):
        return list(typing.get_args(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return [str(m.value) for m in tp]
    return None


def _scalar(tp: Any) -> Any | None:
    """The CLI type of a scalar field type (Literal/Enum -> str), None when not a scalar."""
    if tp in _SCALARS:
        return tp
    if _choices(tp) is not None:
        return str
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if str in args and all(a is str or _submodel(a) for a in args):
            return str  # e.g. list[str | FilterSpec]: strings on the command line
    return None


def _cli_type(tp: Any) -> tuple[Any, bool]:
    """(annotation of the option, whether its value is YAML)."""
    tp = _unwrap_optional(tp)
    scalar = _scalar(tp)
    if scalar is not None:
        return Optional[scalar], False
    if typing.get_origin(tp) in (list, set, frozenset):
        (item,) = typing.get_args(tp) or (str,)
        item_type = _scalar(_unwrap_optional(item))
        if item_type is not None and item_type is not bool:
            return Optional[list[item_type]], False
    return Optional[str], True


def _default_text(info: Any) -> str | None:
    if info.default_factory is not None:
        try:
            value = info.default_factory()
        except TypeError:  # a factory that takes the validated data
            return None
    else:
        value = info.default
    if value is PydanticUndefined:
        return "required"
    if value is None or value in ("", [], {}) or isinstance(value, BaseModel):
        return None
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, (list, tuple, dict)):
        text = json.dumps(value, default=str)
        return text if len(text) <= 60 else None
    return str(value)


def _help(info: Any, tp: Any, *, flag: str | None = None) -> str:
    text = (info.description or "").strip()
    choices = _choices(_unwrap_optional(tp))
    if choices is None and typing.get_origin(_unwrap_optional(tp)) in (list, set):
        (item,) = typing.get_args(_unwrap_optional(tp)) or (str,)
        choices = _choices(_unwrap_optional(item))
    if choices and not all(c in text for c in choices):  # unless the description names them
        text = f"{text} ({' | '.join(choices)})" if text else " | ".join(choices)
    default = _default_text(info)
    if default == "required":
        return f"{text} (required, here or in the config file)" if text else "required"
    if default is not None:
        if flag is not None and default in ("True", "False"):  # a --x/--no-x pair
            default = flag if default == "True" else "no-" + flag
        text = f"{text} (default: {default})" if text else f"(default: {default})"
    return text


def _leaves(model: type[BaseModel], path: tuple[str, ...] = ()) -> Iterable[tuple[tuple[str, ...], Any]]:
    """Fields, a section's fields one level down; a section within a section is one YAML value."""
    for name, info in model.model_fields.items():
        sub = _submodel(info.annotation)
        if sub is not None and not path:
            yield from _leaves(sub, (*path, name))
        else:
            yield (*path, name), info


def field_options(model: type[BaseModel], *, names: Mapping[str, str | tuple[str, ...]] | None = None,
                  skip: Iterable[str] = (), comma: Iterable[str] = (),
                  prefixed: Iterable[str] = ()) -> list[FieldOption]:
    """An option per field of ``model``. ``names``: dotted field -> its flag(s), replacing the
    derived name (``{"learning_rate": "--lr", "enable_thinking": "--thinking/--no-thinking"}``);
    ``skip``: dotted fields (or sections) the command handles itself, or not at all;
    ``comma``: list fields given as one comma-separated value instead of a repeated flag;
    ``prefixed``: sections whose fields always carry the section's name (``--lora-r``)."""
    comma, prefixed = set(comma), set(prefixed)
    names = dict(names or {})
    skipped = tuple(skip)
    leaves = [(p, i) for p, i in _leaves(model)
              if not any(".".join(p) == s or ".".join(p).startswith(s + ".") for s in skipped)]
    counts: dict[str, int] = {}
    for path, _ in leaves:
        counts[path[-1]] = counts.get(path[-1], 0) + 1
    options = []
    for path, info in leaves:
        dotted = ".".join(path)
        annotation, as_yaml = _cli_type(info.annotation)
        if dotted in comma:
            annotation, as_yaml = Optional[str], False
        bare = len(path) == 1 or (counts[path[-1]] == 1 and path[0] not in prefixed)
        flag = (path[-1] if bare else "_".join(path)).replace("_", "-")
        decls = names.get(dotted)
        if isinstance(decls, str):
            decls = (decls,)
        is_bool = annotation == Optional[bool]
        if decls is None:
            decls = (f"--{flag}/--no-{flag}",) if is_bool else (f"--{flag}",)
        shown = decls[0].split("/")[0].lstrip("-") if is_bool else None
        panel = " ".join(path[:-1]).replace("_", " ") + " (section)" if len(path) > 1 else None
        help_text = _help(info, info.annotation, flag=shown)
        if dotted in comma:
            help_text = f"{help_text} (comma-separated; '' for none)"
        options.append(FieldOption(path, tuple(decls), annotation, help_text, as_yaml, panel,
                                   comma=dotted in comma))
    return options


def endpoint_options(model: type[BaseModel], flags: EndpointFlags) -> list[FieldOption]:
    """The one-endpoint flags, from the endpoint model's fields (``flags.field`` is a list of them)."""
    item = typing.get_args(_unwrap_optional(model.model_fields[flags.field].annotation))[0]
    options = [FieldOption((flags.field, "name"), (flags.name_flag,), Optional[str],
                           f"one {flags.role}: its name, written into the records it makes "
                           f"(default: {flags.role})", endpoint=True)]
    for name in flags.fields:
        info = item.model_fields[name]
        annotation, as_yaml = _cli_type(info.annotation)
        flag = name.replace("_", "-")
        decl = f"--{flag}/--no-{flag}" if annotation == Optional[bool] else f"--{flag}"
        text = (info.description or name.replace("_", " ")).strip()
        text = (f"one {flags.role}: {text}" if name in ("base_url", "model")
                else f"{text} (one {flags.role}, or every {flags.role} of -c)")
        options.append(FieldOption((flags.field, name), (decl,), annotation, text, as_yaml, endpoint=True))
    return options


def overrides_from(options: Iterable[FieldOption], values: Mapping[str, Any]) -> dict[str, Any]:
    """The nested config overrides of the options that were given (None / empty = not given)."""
    out: dict[str, Any] = {}
    for opt in options:
        if opt.endpoint:
            continue
        value = values.get(opt.param)
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue
        if isinstance(value, tuple):
            value = list(value)
        if opt.comma:
            value = [v.strip() for v in value.split(",") if v.strip()]
        if opt.as_yaml:
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError as exc:
                raise ConfigError(f"{opt.decls[0]}: not a YAML value: {exc}") from None
        node = out
        for key in opt.path[:-1]:
            node = node.setdefault(key, {})
        node[opt.path[-1]] = value
    return out


def _decls_of(param: inspect.Parameter) -> set[str]:
    info = param.default
    decls = getattr(info, "param_decls", None) or ()
    if not decls:
        return {"--" + param.name.replace("_", "-")}
    return {d for decl in decls for d in decl.split("/") if d.startswith("-")}


def config_options(model: type[BaseModel] | Callable[[], type[BaseModel]], *,
                   names: Mapping[str, str | tuple[str, ...]] | None = None,
                   skip: Iterable[str] = (), comma: Iterable[str] = (), prefixed: Iterable[str] = (),
                   endpoints: EndpointFlags | None = None,
                   ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a typer command: the command gets an option per field of ``model`` (beside its
    own parameters) and receives the given ones as ``overrides`` (nested dict).

    The command's own parameters are its headline options (``-c``, endpoint flags...); a
    field one of them stands for goes in ``skip``. A derived flag that clashes with one of
    the command's own is an error at import, so a new field cannot silently shadow one.
    ``endpoints``: one-endpoint flags (see :class:`EndpointFlags`); they need the command's
    ``config`` parameter (the ``-c`` file whose endpoint list they tune).
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        cls = model if isinstance(model, type) else model()
        options = field_options(cls, names=names, skip=[*skip, *([endpoints.field] if endpoints else [])],
                                comma=comma, prefixed=prefixed)
        if endpoints is not None:
            options = endpoint_options(cls, endpoints) + options
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name != "overrides"]
        taken = set().union(*(_decls_of(p) for p in own)) if own else set()
        for opt in options:
            clash = taken & {d for decl in opt.decls for d in decl.split("/")}
            if clash:
                raise ConfigError(f"{cls.__name__}.{opt.dotted}: its option {', '.join(sorted(clash))} "
                                  f"clashes with the command's own; name it in names= or skip=")
            taken |= {d for decl in opt.decls for d in decl.split("/")}
        generated = [o.parameter() for o in options]

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            values = {o.param: kwargs.pop(o.param, None) for o in options}
            overrides = overrides_from(options, values)
            if endpoints is not None:
                from .config import endpoint_overrides

                given = {o.path[1]: values[o.param] for o in options if o.endpoint}
                name = given.pop("name") or endpoints.role
                base_url, model_name = given.pop("base_url", None), given.pop("model", None)
                overrides.update(endpoint_overrides(kwargs.get("config"), endpoints.field, name,
                                                    base_url, model_name, **given))
            return fn(**kwargs, overrides=overrides)

        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + generated
        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__dict__.pop("__wrapped__", None)
        return command

    return decorate


# --- option tables for the docs ---------------------------------------------------------

def option_rows(command: Any) -> list[tuple[str, str, str]]:
    """(flags, config field, help) per option of a click command, in --help order."""
    rows = []
    for param in command.params:
        if getattr(param, "param_type_name", "") != "option" or param.hidden or param.name == "help":
            continue
        flags = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        name = param.name or ""
        field = ""
        if name.startswith(PARAM_PREFIX):
            field = name.removeprefix(PARAM_PREFIX).replace("__", ".")
        elif name.startswith(ENDPOINT_PREFIX):
            section, _, rest = name.removeprefix(ENDPOINT_PREFIX).partition("__")
            field = f"{section}[].{rest}"
        help_text = (param.help or "").strip().replace("\\[", "[")
        if param.default not in (None, False, (), []) and param.show_default is not False \
                and "(default:" not in help_text:
            help_text += f" (default: {param.default})"
        rows.append((flags, f"`{field}`" if field else "", help_text))
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def fields_markdown(model: type[BaseModel]) -> str:
    """The markdown table of a config model's fields (for models no command exposes whole,
    such as an endpoint in a list): field, default, meaning."""
    lines = ["| field | default | meaning |", "| --- | --- | --- |"]
    for name, info in model.model_fields.items():
        default = _default_text(info)
        default = "" if default is None else "required" if default == "required" else f"`{default}`"
        lines.append(f"| `{name}` | {_cell(default)} | {_cell((info.description or '').strip())} |")
    return "\n".join(lines)


def options_markdown(command: Any) -> str:
    """The markdown table of a command's options (generated into docs/<stage>.md)."""
    cell = _cell
    lines = ["| option | config field | meaning |", "| --- | --- | --- |"]
    lines += [f"| {cell(f)} | {cell(k)} | {cell(h)} |" for f, k, h in option_rows(command)]
    return "\n".join(lines)


def find_command(app: typer.Typer, words: list[str]) -> Any:
    """The click command ``thoughtdistill WORDS...``."""
    command: Any = typer.main.get_command(app)
    for word in words:
        if word not in getattr(command, "commands", {}):
            raise ConfigError(f"no command 'thoughtdistill {' '.join(words)}'")
        command = command.commands[word]
    return command
