"""Where the real test data lives (``../shared/data`` beside the checkout by default).

Test and bench data only: nothing under ``src/`` reads this folder (the product ships what it
needs). Tests get it through the ``data_dir`` fixture; bench scripts import this module."""

from __future__ import annotations

import os
from pathlib import Path



def shared_data_dir() -> Path:
    env = os.environ.get("THOUGHTDISTILL_SHARED_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [parent / "shared" / "data" for parent in here.parents]
    candidates += [Path.cwd().parent / "shared" / "data", Path.cwd() / "shared" / "data"]
    for path in candidates:
        if (path / "MANIFEST.md").exists():
            return path
    raise FileNotFoundError(
        "shared data not found: set THOUGHTDISTILL_SHARED_DATA to the folder holding MANIFEST.md"
    )


def shared_file(name: str) -> Path:
    path = shared_data_dir() / name
    if not path.exists():
        raise FileNotFoundError(f"{path}: shared data file missing")
    return path
