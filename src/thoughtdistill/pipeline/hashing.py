"""Content hashes of files and folders, with a stat cache so unchanged files are not re-read.

A folder's hash covers every file's relative path and content (temp files of atomic writes
and ``__pycache__`` excluded), so a model folder or a stage folder has one stable hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import orjson

from ..io.atomic import atomic_open

_CHUNK = 1 << 20


def canonical_json(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def hash_obj(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj)).hexdigest()


def _skip(name: str) -> bool:
    return name == "__pycache__" or (name.startswith(".") and name.endswith(".tmp"))


class HashCache:
    """Path → (size, mtime_ns, sha256). Saved as JSON; a changed stat means re-hash."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self._data: dict[str, list] = {}
        if path is not None and path.exists():
            try:
                self._data = json.loads(path.read_text())
            except (OSError, ValueError):
                self._data = {}
        self._dirty = False

    def file_hash(self, path: Path) -> str:
        st = path.stat()
        key = str(path.resolve())
        hit = self._data.get(key)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        value = digest.hexdigest()
        self._data[key] = [st.st_size, st.st_mtime_ns, value]
        self._dirty = True
        return value

    def path_hash(self, path: str | Path, exclude: tuple[str, ...] = ()) -> str | None:
        """sha256 of a file, or of a folder's (relative path, file hash) list; None if absent.
        ``exclude``: relative paths inside the folder left out."""
        path = Path(path)
        if path.is_file():
            return self.file_hash(path)
        if not path.is_dir():
            return None
        entries = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not _skip(d))
            for name in sorted(files):
                if _skip(name):
                    continue
                full = Path(root) / name
                if full.is_file() and str(full.relative_to(path)) not in exclude:
                    entries.append([str(full.relative_to(path)), self.file_hash(full)])
        return "dir:" + hash_obj(entries)

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        with atomic_open(self.path) as fh:
            json.dump(self._data, fh)
        self._dirty = False
