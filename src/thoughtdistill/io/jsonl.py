"""Streaming JSON Lines (plain or .gz): bounded memory, located errors, quarantine,
atomic writes and crash-safe appends.

Hand-written rather than ``datasets.load_dataset('json')`` because that loads a whole file
into Arrow, stops at the first bad line without naming it, and has no quarantine.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator, Literal

import orjson

from ..errors import RecordError
from ..records import Record
from .atomic import RecordWriter, atomic_path

OnError = Literal["raise", "quarantine", "skip"]


def _open_binary(path: Path, mode: str) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, mode)  # type: ignore[return-value]
    return open(path, mode)


@dataclass
class ReadStats:
    read: int = 0
    bad: int = 0
    errors: list[str] = field(default_factory=list)  # first few, for the summary


class Quarantine:
    """Bad lines go here, each with where it came from and why, never silently lost."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fh: IO[bytes] | None = None

    def add(self, error: RecordError, raw: bytes) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab")
        entry = {
            "file": error.path,
            "line": error.line,
            "field": error.field,
            "error": error.message,
            "raw": raw.decode("utf-8", errors="backslashreplace"),
        }
        self._fh.write(orjson.dumps(entry) + b"\n")

    def close(self) -> None:
        if self._fh:
            self._fh.close()
            self._fh = None


def iter_json_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw bytes) for each non-blank line; a file in binary, streamed."""
    path = Path(path)
    number = 0
    with _open_binary(path, "rb") as fh:
        try:
            for number, raw in enumerate(fh, start=1):
                if raw.strip():
                    yield number, raw
        except (EOFError, OSError, zlib.error) as exc:  # a cut-off or corrupt .gz
            raise RecordError(str(path), number + 1, None, f"compressed stream unreadable: {exc}") from None


def parse_json_line(path: str | Path, number: int, raw: bytes) -> dict[str, Any]:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(str(path), number, None, f"not UTF-8 (byte {exc.start})") from None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        torn = not raw.endswith(b"\n")
        # orjson counts lines inside this one line (its newline makes a "line 2"): give the column
        why = "torn last line (file cut off mid-write)" if torn else f"invalid JSON: {exc.msg} (column {exc.pos + 1})"
        raise RecordError(str(path), number, None, why) from None
    if not isinstance(obj, dict):
        raise RecordError(str(path), number, None, f"expected a JSON object, got {type(obj).__name__}")
    return obj


def iter_dicts(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, raw in iter_json_lines(path):
        yield number, parse_json_line(path, number, raw)


def dumps(obj: Record | dict[str, Any]) -> bytes:
    data = obj.dump() if isinstance(obj, Record) else obj
    return orjson.dumps(data) + b"\n"


class JsonlWriter(RecordWriter):
    """Write a whole file atomically: it appears under its name only when closed cleanly."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._ctx = atomic_path(self.path)
        tmp = self._ctx.__enter__()
        self._raw = open(tmp, "wb")
        self._fh: IO[bytes] = (
            gzip.GzipFile(fileobj=self._raw, mode="wb") if self.path.suffix == ".gz" else self._raw
        )
        self.count = 0

    def write(self, obj: Record | dict[str, Any]) -> None:
        self._fh.write(dumps(obj))
        self.count += 1


    def close(self, ok: bool = True) -> None:
        if self._fh is not self._raw:
            self._fh.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        if ok:
            self._ctx.__exit__(None, None, None)
        else:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)



def repair_torn_tail(path: str | Path) -> int:
    """Cut a torn (unterminated) last line off an append-only file; return bytes removed.

    A crash mid-append leaves a partial line; everything before the last newline is whole.
    """
    path = Path(path)
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as fh:
        fh.seek(-1, io.SEEK_END)
        if fh.read(1) == b"\n":
            return 0
        block = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                keep = start + idx + 1
                break
            pos = start
        else:
            keep = 0
        fh.truncate(keep)
        return size - keep


class JsonlAppender:
    """Crash-safe append-only JSONL: torn tail repaired on open, each line flushed whole.

    ``fsync_every`` trades durability against speed: 1 = every line hits the disk.
    """

    def __init__(self, path: str | Path, fsync_every: int = 0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired_bytes = repair_torn_tail(self.path)
        self._fh = open(self.path, "ab", buffering=0)
        self._fsync_every = fsync_every
        self._since_sync = 0

    def write(self, obj: Record | dict[str, Any]) -> None:
        # One write() of the complete line: an unbuffered O_APPEND write is never interleaved
        # with another and a crash can only tear the last line, which open() repairs.
        self._fh.write(dumps(obj))
        self._since_sync += 1
        if self._fsync_every and self._since_sync >= self._fsync_every:
            os.fsync(self._fh.fileno())
            self._since_sync = 0

    def close(self) -> None:
        if not self._fh.closed:
            os.fsync(self._fh.fileno())
            self._fh.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
