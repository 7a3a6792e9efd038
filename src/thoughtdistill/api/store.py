"""Durable state of the engine: the append-only journal and the response cache."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Any, Iterator

import orjson

from ..errors import ThoughtDistillError
from ..io import JsonlAppender
from .types import ChatResult

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    root = os.environ.get("THOUGHTDISTILL_CACHE") or Path.home() / ".cache" / "thoughtdistill"
    return Path(root) / "responses"


class ResponseCache:
    """Content-addressed responses: ``<dir>/ab/<request_hash>.json``, written atomically
    (temp file + rename), so a crash leaves either the whole entry or none. Shared by runs and
    stages; only successful responses are stored. An unreadable entry counts as a miss."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self._made: set[Path] = set()
        self._seq = 0

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}.json"

    def get(self, digest: str) -> dict[str, Any] | None:
        try:
            data = orjson.loads(self._path(digest).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        if not isinstance(data, dict) or data.get("request_hash") != digest:
            return None
        self.hits += 1
        return data

    def put(self, digest: str, payload: dict[str, Any]) -> None:
        path = self._path(digest)
        folder = path.parent
        if folder not in self._made:  # one mkdir per shard folder, not per entry (hot path)
            folder.mkdir(parents=True, exist_ok=True)
            self._made.add(folder)
        # pid + counter make the temp name unique without mkstemp's random-name retries
        self._seq += 1
        tmp = folder / f".{digest}.{os.getpid()}.{self._seq}.tmp"
        try:
            with open(tmp, "xb") as fh:
                fh.write(orjson.dumps(dict(payload, request_hash=digest)))
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _short(digest: str | None) -> int:
    """64 bits of a request hash (0: unknown), so the index stays small in memory."""
    try:
        return int(digest[:16], 16) if digest else 0
    except ValueError:
        return 0


class Journal:
    """Append-only JSONL of finished requests (one :class:`ChatResult` per line).

    The durable state of a run: a result is appended before it is reported, a torn last line
    (crash mid-write) is cut on open, a later line for the same key wins. Only one process may
    use a journal at a time (an exclusive lock beside it). Memory holds key → file offset only.
    """

    def __init__(self, path: str | Path, fsync_every: int = 0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.path.with_name(self.path.name + ".lock"), "a+b")
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise ThoughtDistillError(f"{self.path}: another run is using this journal") from None
        self._app = JsonlAppender(self.path, fsync_every=fsync_every)
        self.repaired_bytes = self._app.repaired_bytes
        if self.repaired_bytes:
            log.warning("%s: cut a torn last line (%d bytes)", self.path, self.repaired_bytes)
        self.index: dict[str, tuple[int, bool, int]] = {}  # key -> (offset, ok, short request hash)
        self.bad_lines = 0
        self._scan()
        self._reader = open(self.path, "rb")

    def _scan(self) -> None:
        offset = 0
        with open(self.path, "rb") as fh:
            for raw in fh:
                try:
                    entry = orjson.loads(raw)
                    self.index[entry["key"]] = (offset, entry.get("error") is None,
                                                _short(entry.get("request_hash")))
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    self.bad_lines += 1
                offset += len(raw)
        self._end = offset
        if self.bad_lines:
            log.warning("%s: %d unreadable lines skipped (those requests are sent again)",
                        self.path, self.bad_lines)

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def __len__(self) -> int:
        return len(self.index)

    def done(self, key: str, *, retry_failed: bool = False) -> bool:
        hit = self.index.get(key)
        return hit is not None and (hit[1] or not retry_failed)

    def sent_differently(self, key: str, digest: str) -> bool:
        """Was ``key`` journaled for another request (other prompt, sampling or model)?"""
        hit = self.index.get(key)
        return hit is not None and hit[2] != 0 and hit[2] != _short(digest)

    def append(self, result: ChatResult) -> None:
        line = orjson.dumps(result.to_json()) + b"\n"
        self._app._fh.write(line)  # one unbuffered O_APPEND write of the whole line
        self._app._since_sync += 1
        if self._app._fsync_every and self._app._since_sync >= self._app._fsync_every:
            os.fsync(self._app._fh.fileno())
            self._app._since_sync = 0
        self.index[result.key] = (self._end, result.error is None, _short(result.request_hash))
        self._end += len(line)

    def get(self, key: str) -> ChatResult | None:
        hit = self.index.get(key)
        if hit is None:
            return None
        self._reader.seek(hit[0])
        return ChatResult.from_json(orjson.loads(self._reader.readline()), resumed=True)

    def results(self) -> Iterator[ChatResult]:
        for key in self.index:
            result = self.get(key)
            if result is not None:
                yield result

    def close(self) -> None:
        self._app.close()
        self._reader.close()
        fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
        self._lock.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
