"""Reading and writing records: JSONL (+.gz), JSON arrays, Parquet, datasets folders and
``hf:`` hub datasets, streamed, plus format converters (OmniThought, EasyDistill, Alpaca,
ShareGPT, messages…). Stages read their inputs through :func:`read_records` (validated
records) or :func:`iter_canonical_rows` (fast dicts), both detecting the format."""

from .atomic import atomic_dir, atomic_open, atomic_path
from .jsonl import (
    JsonlAppender,
    JsonlWriter,
    Quarantine,
    ReadStats,
    iter_dicts,
    repair_torn_tail,
)
from .parquet import ParquetWriter
from .hub import is_hub_ref, iter_hub_rows
from .reader import container_of, iter_records, iter_rows, open_writer, write_records


def read_records(path, fmt="auto", *, limit=None, **kwargs):
    """Canonical records from any file, format (detected by default) or ``hf:`` reference,
    streamed; see :func:`thoughtdistill.io.convert.read_records`."""
    from .convert import read_records as _read

    return _read(path, fmt, limit=limit, **kwargs)


def iter_canonical_rows(path, fmt="auto"):
    """Canonical record dicts, unvalidated, as ``(line, raw, dict | RecordError)``; see
    :func:`thoughtdistill.io.convert.iter_canonical_rows`."""
    from .convert import iter_canonical_rows as _rows

    return _rows(path, fmt)


def load_questions(path, fmt=None, **kwargs):
    """All records of a small file as a list, format detected; see :mod:`.convert`."""
    from .convert import load_questions as _load

    return _load(path, fmt, **kwargs)


__all__ = [
    "JsonlAppender",
    "JsonlWriter",
    "ParquetWriter",
    "Quarantine",
    "ReadStats",
    "atomic_dir",
    "atomic_open",
    "atomic_path",
    "container_of",
    "iter_canonical_rows",
    "iter_dicts",
    "iter_hub_rows",
    "is_hub_ref",
    "iter_records",
    "iter_rows",
    "load_questions",
    "open_writer",
    "read_records",
    "repair_torn_tail",
    "write_records",
]
