"""Atomic file and folder writes: readers never see half a file."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterable, Iterator

from ..errors import ConfigError, ThoughtDistillError

if TYPE_CHECKING:
    from ..records import Record

# mkstemp/mkdtemp create 0600/0700 entries; finished outputs get the modes a plain open()
# or mkdir() would give. Read once at import: os.umask has no getter that leaves it unchanged.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _publish_mode(tmp: Path, target: Path, default: int) -> None:
    """Give ``tmp`` the mode ``target`` has (when replacing it) or the umask's default."""
    try:
        mode = target.stat().st_mode & 0o7777
    except OSError:
        mode = default & ~_UMASK
    os.chmod(tmp, mode)


def _unwritable(path: Path, exc: OSError) -> ConfigError:
    return ConfigError(f"{path}: cannot write there ({exc.strerror or exc})")


@contextlib.contextmanager
def output_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (a hidden ``.<name>.lock`` beside it) for a whole run:
    two long runs writing the same output would otherwise both succeed, the last one winning."""
    path = Path(path)
    lock_path = path.with_name(f".{path.name}.lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(lock_path, "a+b")
    except OSError as exc:
        raise _unwritable(path, exc) from None
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ThoughtDistillError(f"{path}: another run is writing this output") from None
        yield
    finally:
        fh.close()  # closing releases the lock


def refuse_overwriting_input(output: str | Path, inputs: Iterable[str | Path], field: str = "output") -> None:
    """A stage must not replace its own input with its (possibly partial) output."""
    out = Path(output).resolve()
    for src in inputs:
        if Path(src).resolve() == out:
            raise ConfigError(f"{field}: {output} is also the input; write to another path")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; rename it over ``path`` only on success."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _unwritable(path, exc) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _publish_mode(tmp_path, path, 0o666)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    with atomic_path(path) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding}
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Build a folder under a temp name and move it into place only when complete."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    except OSError as exc:
        raise _unwritable(path, exc) from None
    try:
        yield tmp
        _publish_mode(tmp, path, 0o777)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class RecordWriter:
    """Shared behaviour of the whole-file writers (JSONL, JSON array, Parquet, datasets):
    ``write_all`` over ``write``, and a context that keeps the file only on a clean exit."""

    count: int

    def write(self, obj: Record | dict[str, Any]) -> None:
        raise NotImplementedError

    def close(self, ok: bool = True) -> None:
        raise NotImplementedError

    def write_all(self, objs: Iterable[Record | dict[str, Any]]) -> int:
        for obj in objs:
            self.write(obj)
        return self.count

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)
