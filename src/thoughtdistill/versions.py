"""Installed versions of what a result was made with (recorded in manifests and run files)."""

from __future__ import annotations

import platform
from importlib import metadata


def versions(packages: tuple[str, ...], *, with_platform: bool = False,
             missing: bool = False) -> dict[str, str | None]:
    """Python's version (and the platform's), then each installed package's; a package that
    is not installed is left out, or listed as None with ``missing``."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    if with_platform:
        out["platform"] = platform.platform()
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            if missing:
                out[pkg] = None
    return out
