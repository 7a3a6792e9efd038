"""Errors users see: one clear line naming what is wrong and where."""

from __future__ import annotations


class ThoughtDistillError(Exception):
    """An error the CLI prints as one line (no traceback unless --debug)."""


class RecordError(ThoughtDistillError):
    """A bad input record, located by file, line and field."""

    def __init__(self, path: str, line: int | None, field: str | None, message: str):
        self.path, self.line, self.field, self.message = str(path), line, field, message
        where = self.path + (f":{line}" if line is not None else "")
        what = f" field '{field}'" if field else ""
        super().__init__(f"{where}:{what} {message}")


class ConfigError(ThoughtDistillError):
    """A bad configuration value, located by file and field."""
