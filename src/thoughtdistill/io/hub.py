"""Hugging Face dataset references (``hf:REPO[:SPLIT]``, ``hf:REPO:CONFIG:SPLIT``) as inputs.

Anywhere a data file is accepted, ``hf:alibaba-pai/OmniThought-0528`` or
``hf:HuggingFaceH4/MATH-500:test`` is accepted too. The rows are streamed with
``datasets.load_dataset(..., streaming=True)``, so memory stays bounded whatever the size.

Grammar (the part after ``hf:``, split on ``:``):

- ``REPO`` — the split is ``train`` when there is one, else the only split;
- ``REPO:SPLIT``;
- ``REPO:CONFIG:SPLIT`` — a named configuration (subset).

``REPO`` may also be a local folder of data files or a local data file (``.parquet``,
``.jsonl``, ``.json``, ``.csv``): ``load_dataset`` reads those the same way, which is how the
code path is tested without a hub.

Offline (``HF_HUB_OFFLINE=1``) the dataset is read from the local ``datasets`` cache when a
copy was prepared there before; otherwise the error says so and how to pass a local file.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import ThoughtDistillError

PREFIX = "hf:"
_LOCAL_BUILDERS = {".parquet": "parquet", ".pq": "parquet", ".jsonl": "json", ".json": "json",
                   ".ndjson": "json", ".csv": "csv", ".arrow": "arrow"}


@dataclass(frozen=True)
class HubRef:
    """A parsed ``hf:`` reference."""

    text: str
    repo: str
    config: str | None = None
    split: str | None = None


def is_hub_ref(text: object) -> bool:
    """Whether ``text`` (a string or path) is an ``hf:`` dataset reference."""
    return isinstance(text, (str, Path)) and str(text).startswith(PREFIX) and len(str(text)) > len(PREFIX)


def parse_hub_ref(text: str | Path) -> HubRef:
    """``hf:REPO[:SPLIT]`` or ``hf:REPO:CONFIG:SPLIT`` → :class:`HubRef`."""
    text = str(text)
    if not is_hub_ref(text):
        raise ThoughtDistillError(f"{text!r}: not a hub dataset reference (expected hf:REPO[:SPLIT])")
    parts = text[len(PREFIX):].split(":")
    if any(not part.strip() for part in parts) or len(parts) > 3:
        raise ThoughtDistillError(
            f"{text}: expected hf:REPO, hf:REPO:SPLIT or hf:REPO:CONFIG:SPLIT "
            "(e.g. hf:HuggingFaceH4/MATH-500:test)"
        )
    repo = parts[0]
    if len(parts) == 3:
        return HubRef(text, repo, parts[1], parts[2])
    return HubRef(text, repo, None, parts[1] if len(parts) == 2 else None)


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _unreachable(ref: HubRef, exc: Exception) -> ThoughtDistillError:
    if _offline():
        why = "offline (HF_HUB_OFFLINE=1) and not in the local datasets cache"
    else:
        why = f"cannot load it ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    return ThoughtDistillError(
        f"{ref.text}: Hugging Face dataset {ref.repo!r}: {why}; download it while online, or pass a "
        "local file instead (a .jsonl/.parquet/.json export of the dataset, or a save_to_disk folder)"
    )


def _load_args(ref: HubRef) -> tuple[tuple[Any, ...], dict[str, Any]]:
    local = Path(ref.repo).expanduser()
    if local.is_file():
        builder = _LOCAL_BUILDERS.get("".join(local.suffixes[-1:]).lower())
        if builder is None:
            raise ThoughtDistillError(f"{ref.text}: cannot tell the data file type of {local.name}; "
                                      f"use one of {', '.join(sorted(_LOCAL_BUILDERS))}")
        return (builder,), {"data_files": str(local)}
    args: tuple[Any, ...] = (str(local),) if local.is_dir() else (ref.repo,)
    if ref.config:
        args += (ref.config,)
    return args, {}


def _pick_split(ref: HubRef, splits: list[str]) -> str:
    if ref.split is not None:
        if ref.split not in splits:
            raise ThoughtDistillError(f"{ref.text}: no split {ref.split!r}; the dataset has: {', '.join(splits)}")
        return ref.split
    if "train" in splits or len(splits) == 1:
        return "train" if "train" in splits else splits[0]
    raise ThoughtDistillError(f"{ref.text}: several splits ({', '.join(splits)}); name one: {ref.text}:SPLIT")


def _open_streaming(ref: HubRef):
    import datasets

    args, kwargs = _load_args(ref)
    loaded = datasets.load_dataset(*args, streaming=True, **kwargs)
    if isinstance(loaded, datasets.IterableDatasetDict):
        return loaded[_pick_split(ref, list(loaded))]
    return loaded


def _open_cached(ref: HubRef):
    """Offline fallback: a copy prepared earlier in the datasets cache (memory-mapped)."""
    import datasets

    args, kwargs = _load_args(ref)
    loaded = datasets.load_dataset(*args, **kwargs)
    if isinstance(loaded, datasets.DatasetDict):
        return loaded[_pick_split(ref, list(loaded))]
    return loaded


_LOAD_ERRORS: tuple[type[Exception], ...] = (ConnectionError, FileNotFoundError, OSError, ValueError)


def open_hub_dataset(ref: str | Path | HubRef):
    """The (iterable) ``datasets`` object a reference names, or a one-line error."""
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a core dependency
        raise ThoughtDistillError("reading hf: datasets needs `pip install datasets`") from None
    ref = ref if isinstance(ref, HubRef) else parse_hub_ref(ref)
    errors = _LOAD_ERRORS + (datasets.exceptions.DatasetNotFoundError,)
    try:
        return _open_streaming(ref)
    except ThoughtDistillError:
        raise
    except errors as exc:
        if not _offline():
            raise _unreachable(ref, exc) from None
        first = exc
    try:
        return _open_cached(ref)
    except ThoughtDistillError:
        raise
    except errors:
        raise _unreachable(ref, first) from None


def iter_hub_rows(ref: str | Path, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Plain row dicts of a hub dataset (before any format mapping), streamed.

    ``limit`` stops after that many rows. Bad references, missing splits and unreachable
    datasets are one-line :class:`ThoughtDistillError`\\ s naming the reference.
    """
    parsed = parse_hub_ref(ref)
    dataset = open_hub_dataset(parsed)
    rows = iter(dataset)
    if limit is not None:
        rows = itertools.islice(rows, max(limit, 0))
    try:
        for row in rows:
            yield dict(row)
    except (OSError, ValueError) as exc:
        raise ThoughtDistillError(f"{parsed.text}: reading failed ({type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
