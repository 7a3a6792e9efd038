"""Reading and writing records: JSONL (+.gz), JSON arrays, Parquet and datasets folders,
streamed, plus format converters (OmniThought, EasyDistill, Alpaca, ShareGPT, messages…)."""

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
from .reader import container_of, iter_records, iter_rows, open_writer, write_records


def read_records(path, fmt="canonical", **kwargs):
    """Canonical records from any file; see :func:`thoughtdistill.io.convert.read_records`."""
    from .convert import read_records as _read

    return _read(path, fmt, **kwargs)


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
    "iter_dicts",
    "iter_records",
    "iter_rows",
    "load_questions",
    "open_writer",
    "read_records",
    "repair_torn_tail",
    "write_records",
]
