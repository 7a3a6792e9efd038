"""Parquet for canonical records: typed columns for what stages filter on, JSON for the rest.

Layout (one row per question, chains nested):

- record columns ``id``, ``question``, ``answer``, ``domain``, ``source`` (string),
  ``meta`` (JSON text), ``extra`` (JSON text: any other record field, e.g. OmniThought extras);
- ``reasoning``: ``list<struct>`` with typed chain fields ``teacher``, ``thought``, ``solution``,
  ``full_response``, ``finish_reason``, ``error`` (string), ``truncated`` (bool),
  ``prompt_tokens`` / ``completion_tokens`` (int64, from ``usage``), ``cd_judge`` / ``cd_level``,
  ``rv_judge`` / ``rv_level`` (``Cognitive_Difficulty`` / ``Reasoning_Verbosity``),
  ``correct_verdict`` / ``correct_by`` / ``correct_detail`` (``correctness``) and ``extra``
  (JSON text).

A chain field goes into its typed column(s) only when they hold it exactly (a sub-object with
just its known keys, no explicit nulls); otherwise the whole field is written to the chain's
``extra`` JSON, which wins on reading. So every field, unknown ones included, round-trips.

Writing and reading are streamed in row groups / record batches: memory stays bounded by
``rows_per_group`` records whatever the file size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ThoughtDistillError
from ..records import Record
from .atomic import RecordWriter, atomic_path

LAYOUT_KEY = b"thoughtdistill.layout"
LAYOUT_VERSION = b"canonical-v1"

_STR = pa.string()
CHAIN_TYPE = pa.struct(
    [
        ("teacher", _STR),
        ("thought", _STR),
        ("solution", _STR),
        ("full_response", _STR),
        ("finish_reason", _STR),
        ("truncated", pa.bool_()),
        ("error", _STR),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("cd_judge", _STR),
        ("cd_level", pa.int8()),
        ("rv_judge", _STR),
        ("rv_level", pa.int8()),
        ("correct_verdict", pa.bool_()),
        ("correct_by", _STR),
        ("correct_detail", _STR),
        ("extra", _STR),
    ]
)
SCHEMA = pa.schema(
    [
        ("id", _STR),
        ("question", _STR),
        ("answer", _STR),
        ("domain", _STR),
        ("source", _STR),
        ("meta", _STR),
        ("extra", _STR),
        ("reasoning", pa.list_(CHAIN_TYPE)),
    ],
    metadata={LAYOUT_KEY: LAYOUT_VERSION},
)

_PLAIN_CHAIN = ("teacher", "thought", "solution", "full_response", "finish_reason", "error")
# sub-object field -> {its key: column}
_NESTED = {
    "usage": {"prompt_tokens": "prompt_tokens", "completion_tokens": "completion_tokens"},
    "Cognitive_Difficulty": {"judge": "cd_judge", "level": "cd_level"},
    "Reasoning_Verbosity": {"judge": "rv_judge", "level": "rv_level"},
    "correctness": {"verdict": "correct_verdict", "by": "correct_by", "detail": "correct_detail"},
}
_COLUMN_TYPES = {f.name: f.type for f in CHAIN_TYPE}
_RECORD_STR = ("id", "question", "answer", "domain", "source")
_INT64 = (-(2**63), 2**63 - 1)


def _checker(kind: pa.DataType):
    if pa.types.is_string(kind):
        return lambda v: type(v) is str
    if pa.types.is_boolean(kind):
        return lambda v: type(v) is bool
    lo, hi = (-128, 127) if pa.types.is_int8(kind) else _INT64
    return lambda v: type(v) is int and lo <= v <= hi


_CHECKS = {name: _checker(kind) for name, kind in _COLUMN_TYPES.items()}


def _fits(column: str, value: Any) -> bool:
    return _CHECKS[column](value)


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def chain_to_row(chain: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in chain.items():
        if key in _PLAIN_CHAIN or key == "truncated":
            if _fits(key, value):
                row[key] = value
            else:
                extra[key] = value
        elif key in _NESTED:
            cols = _NESTED[key]
            if isinstance(value, dict) and value.keys() <= cols.keys() and all(
                _fits(cols[k], v) for k, v in value.items()
            ) and value:
                for k, v in value.items():
                    row[cols[k]] = v
            else:
                extra[key] = value
        else:
            extra[key] = value
    # Order of keys is part of "the same record" for a human reading a diff; keep it.
    if extra or list(chain) != _canonical_order(chain):
        extra["__order__"] = list(chain)
    row["extra"] = _json(extra) if extra else None
    return row


_RANK = {k: i for i, k in enumerate(list(_PLAIN_CHAIN[:5]) + ["truncated", "error"] + list(_NESTED))}


def _canonical_order(chain: dict[str, Any]) -> list[str]:
    return sorted(chain, key=lambda k: _RANK.get(k, len(_RANK)))


def row_to_chain(row: dict[str, Any]) -> dict[str, Any]:
    chain: dict[str, Any] = {}
    for key in _PLAIN_CHAIN:
        if row.get(key) is not None:
            chain[key] = row[key]
    if row.get("truncated") is not None:
        chain["truncated"] = row["truncated"]
    for field, cols in _NESTED.items():
        sub = {k: row[c] for k, c in cols.items() if row.get(c) is not None}
        if sub:
            chain[field] = sub
    if row.get("extra"):
        extra = orjson.loads(row["extra"])
        order = extra.pop("__order__", None)
        chain.update(extra)
        if order:
            chain = {k: chain[k] for k in order if k in chain}
    else:
        chain = {k: chain[k] for k in _canonical_order(chain)}
    return chain


def record_to_row(record: Record | dict[str, Any]) -> dict[str, Any]:
    data = record.dump() if isinstance(record, Record) else dict(record)
    row: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        if key in _RECORD_STR and isinstance(value, str):
            row[key] = value
        elif key == "meta" and isinstance(value, dict):
            row["meta"] = _json(value)
        elif key == "reasoning" and isinstance(value, list):
            row["reasoning"] = [chain_to_row(c) for c in value]
        else:
            extra[key] = value
    if "reasoning" not in data:
        extra["__no_reasoning__"] = True
    extra["__order__"] = list(data)
    row["extra"] = _json(extra)
    return row


def row_to_record_dict(row: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in _RECORD_STR:
        if row.get(key) is not None:
            data[key] = row[key]
    if row.get("meta") is not None:
        data["meta"] = orjson.loads(row["meta"])
    extra = orjson.loads(row["extra"]) if row.get("extra") else {}
    order = extra.pop("__order__", None)
    no_reasoning = extra.pop("__no_reasoning__", False)
    if not no_reasoning:
        data["reasoning"] = [row_to_chain(c) for c in (row.get("reasoning") or [])]
    data.update(extra)
    if order:
        data = {k: data[k] for k in order if k in data} | {k: v for k, v in data.items() if k not in order}
    return data


class ParquetWriter(RecordWriter):
    """Atomic, streamed Parquet writer: buffers ``rows_per_group`` records per row group."""

    def __init__(
        self, path: str | Path, rows_per_group: int = 2048, compression: str = "zstd", plain: bool = False
    ):
        """``plain=True`` writes foreign rows (Alpaca, messages…) as they are, schema inferred
        from the first row group, instead of the canonical layout."""
        self.path = Path(path)
        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        self._compression = compression
        self._plain = plain
        self._schema = None if plain else SCHEMA
        self._writer = None if plain else pq.ParquetWriter(self._tmp, SCHEMA, compression=compression)
        self._rows: list[dict[str, Any]] = []
        self._rows_per_group = rows_per_group
        self.count = 0

    def write(self, record: Record | dict[str, Any]) -> None:
        if self._plain:
            self._rows.append(record.dump() if isinstance(record, Record) else record)
        else:
            self._rows.append(record_to_row(record))
        self.count += 1
        if len(self._rows) >= self._rows_per_group:
            self._flush()


    def _flush(self) -> None:
        if not self._rows:
            return
        if self._writer is None:
            self._schema = pa.Table.from_pylist(self._rows).schema
            self._writer = pq.ParquetWriter(self._tmp, self._schema, compression=self._compression)
        try:
            table = pa.Table.from_pylist(self._rows, schema=self._schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            from ..errors import ThoughtDistillError

            raise ThoughtDistillError(f"{self.path}: rows do not share one Parquet schema: {exc}") from None
        self._writer.write_table(table)
        self._rows = []

    def close(self, ok: bool = True) -> None:
        try:
            if ok:
                self._flush()
        finally:
            if self._writer is None:  # no rows at all: still a valid (empty) file
                self._writer = pq.ParquetWriter(self._tmp, self._schema or pa.schema([]), compression=self._compression)
            self._writer.close()
            if ok:
                self._ctx.__exit__(None, None, None)
            else:
                self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)



def _not_parquet(path: str | Path, exc: Exception) -> ThoughtDistillError:
    return ThoughtDistillError(f"{path}: not a readable Parquet file ({exc})")


def is_canonical_parquet(path: str | Path) -> bool:
    try:
        meta = pq.read_schema(path).metadata or {}
    except pa.ArrowException as exc:
        raise _not_parquet(path, exc) from None
    return meta.get(LAYOUT_KEY) == LAYOUT_VERSION


def _drop_nulls(value: Any) -> Any:
    """Arrow fills absent struct keys with null; a foreign row's nulls mean 'not there'."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def iter_parquet_rows(path: str | Path, batch_size: int = 1024) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number from 1, row as a dict) in batches; canonical layout decoded to record dicts,
    any other Parquet (an HF export of OmniThought, say) as plain rows without nulls."""
    try:
        pf = pq.ParquetFile(path)
    except pa.ArrowException as exc:
        raise _not_parquet(path, exc) from None
    canonical = (pf.schema_arrow.metadata or {}).get(LAYOUT_KEY) == LAYOUT_VERSION
    number = 0
    for batch in pf.iter_batches(batch_size=batch_size):
        for row in batch.to_pylist():
            number += 1
            yield number, (row_to_record_dict(row) if canonical else _drop_nulls(row))
