"""Reading and writing records: JSONL (+.gz) and Parquet, streamed."""

from .atomic import atomic_dir, atomic_open, atomic_path
from .jsonl import (
    JsonlAppender,
    JsonlWriter,
    Quarantine,
    ReadStats,
    iter_dicts,
    iter_records,
    repair_torn_tail,
)

__all__ = [
    "JsonlAppender",
    "JsonlWriter",
    "Quarantine",
    "ReadStats",
    "atomic_dir",
    "atomic_open",
    "atomic_path",
    "iter_dicts",
    "iter_records",
    "repair_torn_tail",
]
