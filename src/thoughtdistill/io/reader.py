"""One reader and one writer for every container: JSONL (+.gz), JSON array, Parquet,
Hugging Face ``save_to_disk`` folders, chosen by the path.

Every row goes through the same steps: parse → (optional) convert from a foreign format →
validate as a :class:`~thoughtdistill.records.Record` → (optional) duplicate-id check. A bad
row is a :class:`RecordError` naming file, line (row number for Parquet / datasets, the
line where the item starts for a JSON array) and field; ``on_error`` decides whether it
stops the read (``raise``), goes to a quarantine file (``quarantine``) or is counted and
dropped (``skip``). Valid rows are never lost because of a bad neighbour.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal

import orjson
from pydantic import ValidationError

from ..errors import RecordError, ThoughtDistillError
from ..records import Record, validation_field
from .atomic import RecordWriter
from .hub import is_hub_ref, parse_hub_ref
from .jsonl import JsonlWriter, OnError, Quarantine, ReadStats, _open_binary, iter_json_lines, parse_json_line

Container = Literal["jsonl", "json", "parquet", "hf"]
# A source yields (line, raw bytes for the quarantine or None when the parsed row is the
# raw row, parsed dict or the error parsing it).
Source = Iterator[tuple[int, "bytes | None", "dict[str, Any] | RecordError"]]


def container_of(path: str | Path) -> Container:
    """The container a path names: by suffix, or a ``save_to_disk`` folder."""
    path = Path(path)
    name = path.name.lower()
    if path.is_dir() or name.endswith(".hf") or (not path.suffix and not path.exists()):
        return "hf"
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")):
        return "jsonl"
    if name.endswith((".json", ".json.gz")):
        return "json"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise ThoughtDistillError(
        f"{path}: cannot tell the file type from its name; use .jsonl, .jsonl.gz, .json, "
        ".parquet or a datasets save_to_disk folder"
    )


def _jsonl_source(path: Path) -> Source:
    for number, raw in iter_json_lines(path):
        try:
            obj = orjson.loads(raw)  # the common case; orjson checks UTF-8 itself
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            yield number, raw, obj
            continue
        try:
            yield number, raw, parse_json_line(path, number, raw)  # raises the located error
        except RecordError as err:
            yield number, raw, err


class _TextChunks:
    """A UTF-8 file read ``chunk_size`` bytes at a time into a text buffer, with the read
    position and its line number (a character split between chunks waits in ``pending``)."""

    def __init__(self, fh: Any, path: Path, chunk_size: int):
        self.fh, self.path, self.chunk_size = fh, path, chunk_size
        head = fh.read(chunk_size)
        try:
            self.buf = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:
                raise RecordError(str(path), None, None, f"not UTF-8 (byte {exc.start})") from None
            self.buf = head[: exc.start].decode("utf-8")
            self.pending = head[exc.start:]
        else:
            self.pending = b""
        self.line = 1
        self.pos = 0
        self.eof = not head

    def error(self, message: str, line: int | None = None) -> RecordError:
        return RecordError(str(self.path), self.line if line is None else line, None, message)

    def more(self) -> bool:
        """Append the next chunk to the buffer; False at the end of the file."""
        if self.eof:
            return False
        chunk = self.fh.read(self.chunk_size)
        if not chunk:
            self.eof = True
            if self.pending:
                raise self.error("not UTF-8 (file ends mid-character)")
            return False
        data = self.pending + chunk
        try:
            self.buf += data.decode("utf-8")
            self.pending = b""
        except UnicodeDecodeError as exc:
            if exc.start < len(data) - 4:
                raise self.error("not UTF-8") from None
            self.buf += data[: exc.start].decode("utf-8")
            self.pending = data[exc.start:]
        return True

    def skip_ws(self) -> None:
        """Past whitespace (counting lines), reading more as needed."""
        while True:
            buf, pos, line = self.buf, self.pos, self.line
            while pos < len(buf) and buf[pos] in " \t\r\n":
                if buf[pos] == "\n":
                    line += 1
                pos += 1
            self.pos, self.line = pos, line
            if pos < len(buf) or not self.more():
                return

    def at_end(self) -> bool:
        return self.pos >= len(self.buf)

    def char(self) -> str:
        return self.buf[self.pos]

    def decode(self, decoder: json.JSONDecoder) -> tuple[Any, str]:
        """The JSON value at the position (reading more until it is whole) and its text."""
        start_line = self.line
        while True:
            try:
                obj, end = decoder.raw_decode(self.buf, self.pos)
                break
            except json.JSONDecodeError as exc:
                if not self.more():
                    raise self.error(f"invalid JSON: {exc.msg}", start_line) from None
        text = self.buf[self.pos:end]
        self.line += text.count("\n")
        self.pos = end
        if self.pos > self.chunk_size:  # drop what is consumed, keep memory bounded
            self.buf = self.buf[self.pos:]
            self.pos = 0
        return obj, text


def iter_json_array(path: str | Path, chunk_size: int = 1 << 20) -> Source:
    """Stream the items of a JSON array file (EasyDistill style) without loading it whole."""
    path = Path(path)
    decoder = json.JSONDecoder()
    with _open_binary(path, "rb") as fh:
        src = _TextChunks(fh, path, chunk_size)
        src.skip_ws()
        if src.at_end():
            return
        if src.char() != "[":
            raise src.error("a .json file must hold a JSON array of objects")
        src.pos += 1
        first = True
        while True:
            src.skip_ws()
            if src.at_end():
                raise src.error("JSON array not closed (file cut off?)")
            if src.char() == "]":
                return
            if not first:
                if src.char() != ",":
                    raise src.error(f"expected ',' or ']' in JSON array, got {src.char()!r}")
                src.pos += 1
                src.skip_ws()
            first = False
            start_line = src.line
            obj, text = src.decode(decoder)
            raw = text.encode("utf-8")
            if isinstance(obj, dict):
                yield start_line, raw, obj
            else:
                yield start_line, raw, RecordError(
                    str(path), start_line, None, f"expected a JSON object, got {type(obj).__name__}"
                )


def _parquet_source(path: Path, batch_size: int) -> Source:
    from .parquet import iter_parquet_rows

    for number, row in iter_parquet_rows(path, batch_size=batch_size):
        yield number, None, row


def _hf_source(path: Path, batch_size: int) -> Source:
    try:
        import datasets
    except ImportError:  # pragma: no cover - the [train] extra
        raise ThoughtDistillError("reading a datasets folder needs `pip install datasets`") from None
    from .parquet import LAYOUT_KEY, LAYOUT_VERSION, _drop_nulls, row_to_record_dict

    if not path.exists():
        raise ThoughtDistillError(f"{path}: no such file or folder")
    if not (path / "dataset_info.json").exists() and not (path / "dataset_dict.json").exists():
        raise ThoughtDistillError(f"{path}: a folder, but not a datasets save_to_disk folder "
                                  "(no dataset_info.json); point at a file or such a folder")
    ds = datasets.load_from_disk(str(path))
    if isinstance(ds, datasets.DatasetDict):
        raise ThoughtDistillError(f"{path}: a DatasetDict; point at one split folder ({', '.join(ds)})")
    meta = ds.data.schema.metadata or {}
    canonical = meta.get(LAYOUT_KEY) == LAYOUT_VERSION or ds.info.description == "thoughtdistill canonical-v1"
    number = 0
    for batch in ds.data.to_batches(max_chunksize=batch_size):
        for row in batch.to_pylist():
            number += 1
            data = row_to_record_dict(row) if canonical else _drop_nulls(row)
            yield number, None, data


def _looks_like_canonical_layout(row: dict[str, Any]) -> bool:
    """A hub row from a thoughtdistill canonical Parquet file (JSON ``extra`` columns)."""
    chains = row.get("reasoning")
    return isinstance(row.get("extra"), str) and isinstance(chains, list) and all(
        isinstance(c, dict) and "rv_level" in c and "extra" in c for c in chains)


def _hub_source(ref: str, limit: int | None = None) -> Source:
    from .hub import iter_hub_rows
    from .parquet import _drop_nulls, row_to_record_dict

    for number, row in enumerate(iter_hub_rows(ref, limit=limit), start=1):
        yield number, None, row_to_record_dict(row) if _looks_like_canonical_layout(row) else _drop_nulls(row)


def quarantine_path(path: str | Path) -> Path:
    """Default quarantine file of an input: ``<file>.quarantine.jsonl`` next to it, or for a
    hub reference ``<repo with / as __>.quarantine.jsonl`` in the working folder."""
    if is_hub_ref(path):
        return Path(parse_hub_ref(path).repo.replace("/", "__").lstrip("._") + ".quarantine.jsonl")
    path = Path(path)
    return path.with_name(path.name + ".quarantine.jsonl")


def iter_rows(path: str | Path, *, batch_size: int = 1024) -> Source:
    """Raw rows of any container or ``hf:`` dataset reference, each with its line (row number)
    and raw bytes (None when the parsed row is the raw row), errors as values."""
    if is_hub_ref(path):
        return _hub_source(str(path))
    path = Path(path)
    kind = container_of(path)
    if kind != "hf" and not path.exists():
        raise ThoughtDistillError(f"{path}: no such file")
    if kind == "jsonl":
        return _jsonl_source(path)
    if kind == "json":
        return iter_json_array(path)
    if kind == "parquet":
        return _parquet_source(path, batch_size)
    return _hf_source(path, batch_size)


class DuplicateIds:
    """Remembers ids seen in one read; a repeat is an error on field ``id``."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self.seen: dict[str, int] = {}

    def check(self, record: Record, line: int) -> None:
        first = self.seen.setdefault(record.id, line)
        if first != line:
            raise RecordError(self.path, line, "id", f"duplicate id {record.id!r} (first at line {first})")


def iter_records(
    path: str | Path,
    *,
    convert: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    require_chains: bool = False,
    on_error: OnError = "raise",
    quarantine: str | Path | None = None,
    stats: ReadStats | None = None,
    model: type[Record] = Record,
    unique_ids: bool = False,
    batch_size: int = 1024,
) -> Iterator[Record]:
    """Validated records from any container (see :func:`container_of`), one at a time.

    ``convert`` maps a foreign row (Alpaca, ShareGPT…) to canonical fields first.
    ``unique_ids`` makes a repeated ``id`` an error (raised, quarantined or skipped like any
    other bad row). With ``on_error='quarantine'`` bad rows go to ``quarantine`` (default:
    ``<file>.quarantine.jsonl``) as ``{file, line, field, error, raw}`` and reading goes on.
    """
    if on_error not in ("raise", "quarantine", "skip"):
        raise ThoughtDistillError(f"on_error must be raise, quarantine or skip, not {on_error!r}")
    stats = stats if stats is not None else ReadStats()
    bin_ = Quarantine(quarantine or quarantine_path(path))
    dupes = DuplicateIds(path) if unique_ids else None
    try:
        for number, raw, parsed in iter_rows(path, batch_size=batch_size):
            try:
                if isinstance(parsed, RecordError):
                    raise parsed
                record = validate_row(path, number, parsed, convert, require_chains, model)
                if dupes is not None:
                    dupes.check(record, number)
            except RecordError as err:
                stats.bad += 1
                if len(stats.errors) < 20:
                    stats.errors.append(str(err))
                if on_error == "raise":
                    raise
                if on_error == "quarantine":
                    bin_.add(err, raw if raw is not None else orjson.dumps(parsed, default=str))
                continue
            stats.read += 1
            yield record
    finally:
        bin_.close()


CONVERT_ERRORS = (ValidationError, RecordError, KeyError, TypeError, ValueError, AttributeError)


def located(path: str | Path, number: int | None, exc: Exception) -> RecordError:
    """A converter's or validator's exception as a RecordError naming file, line and field."""
    if isinstance(exc, ValidationError):
        loc, msg = validation_field(exc)
        return RecordError(str(path), number, loc, msg)
    if isinstance(exc, RecordError):  # a converter located the field itself
        return RecordError(str(path), number, exc.field, exc.message)
    field = exc.args[0] if isinstance(exc, KeyError) and exc.args else None
    why = f"missing field {field!r}" if isinstance(exc, KeyError) else f"cannot convert row: {exc}"
    return RecordError(str(path), number, field, why)


def validate_row(path, number, obj, convert, require_chains, model=Record) -> Record:
    try:
        if convert is not None:
            obj = convert(obj)
        record = model.model_validate(obj)
    except CONVERT_ERRORS as exc:
        raise located(path, number, exc) from None
    if require_chains and not record.reasoning:
        raise RecordError(str(path), number, "reasoning", "no chains (empty reasoning list)")
    return record


class JsonArrayWriter(RecordWriter):
    """Atomic writer of a JSON array (``[{…},\\n{…}]``), streamed item by item."""

    def __init__(self, path: str | Path):
        from .atomic import atomic_path

        self.path = Path(path)
        self._ctx = atomic_path(self.path)
        self._fh = open(self._ctx.__enter__(), "wb")
        self._fh.write(b"[")
        self.count = 0

    def write(self, obj: Record | dict[str, Any]) -> None:
        data = obj.dump() if isinstance(obj, Record) else obj
        self._fh.write((b",\n" if self.count else b"\n") + orjson.dumps(data))
        self.count += 1


    def close(self, ok: bool = True) -> None:
        import os

        self._fh.write(b"\n]\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._ctx.__exit__(None if ok else RuntimeError, None if ok else RuntimeError("aborted"), None)



class HfDatasetWriter(RecordWriter):
    """``datasets.save_to_disk`` folder in the canonical Parquet layout, built atomically."""

    def __init__(self, path: str | Path, plain: bool = False):
        import tempfile

        from .parquet import ParquetWriter

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._plain = plain
        self._tmpdir = tempfile.TemporaryDirectory(prefix=f".{self.path.name}.", dir=self.path.parent)
        self._parquet = ParquetWriter(Path(self._tmpdir.name) / "data.parquet", plain=plain)
        self.count = 0

    def write(self, obj: Record | dict[str, Any]) -> None:
        self._parquet.write(obj)
        self.count += 1


    def close(self, ok: bool = True) -> None:
        try:
            self._parquet.close(ok)
            if ok:
                import datasets

                from .atomic import atomic_dir

                bar_was_on = datasets.is_progress_bar_enabled()
                datasets.disable_progress_bars()

                ds = datasets.Dataset.from_parquet(
                    str(self._parquet.path), cache_dir=str(Path(self._tmpdir.name) / "cache"),
                    info=datasets.DatasetInfo(description="" if self._plain else "thoughtdistill canonical-v1"),
                )
                with atomic_dir(self.path) as tmp:
                    ds.save_to_disk(str(tmp))
                if bar_was_on:
                    datasets.enable_progress_bars()
        finally:
            self._tmpdir.cleanup()



def open_writer(path: str | Path, container: Container | None = None, *, plain: bool = False):
    """An atomic writer for ``path`` (``write``, ``write_all``, ``close``, context manager).

    ``plain=True``: the rows are not canonical records (an export format), so Parquet and
    datasets outputs take their schema from the rows instead of the canonical layout.
    """
    from .parquet import ParquetWriter

    kind = container or container_of(path)
    if kind == "jsonl":
        return JsonlWriter(path)
    if kind == "json":
        return JsonArrayWriter(path)
    if kind == "parquet":
        return ParquetWriter(path, plain=plain)
    return HfDatasetWriter(path, plain=plain)


def write_records(path: str | Path, records: Iterable[Record | dict[str, Any]]) -> int:
    """Write records (or plain dict rows) atomically; the container follows the suffix."""
    with open_writer(path) as writer:
        return writer.write_all(records)
