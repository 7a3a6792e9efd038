"""Whether a stage must run, and the manifest that records that it ran.

What a stage reads and writes is what its config declares (``config.inputs()`` /
``config.outputs()``, :mod:`thoughtdistill.stage_io`); its own folder and the recipe's
``outputs:`` are outputs too. A stage is skipped when its manifest says it finished, no
request failed for good, and the config hash, every input's hash and every recorded
output's hash are unchanged.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ..io.atomic import atomic_open
from ..stage_io import StageFile
from ..versions import versions as package_versions
from .context import to_jsonable
from .hashing import HashCache

PACKAGES = ("thoughtdistill", "torch", "transformers", "trl", "accelerate", "openai", "pydantic", "vllm",
            "deepspeed", "math-verify", "llm-katan")


def versions() -> dict[str, str | None]:
    return package_versions(PACKAGES, with_platform=True)


def failed_count(result: Any) -> int:
    """Requests a stage gave up on (generate, judge, evaluate report ``failed``)."""
    failed = getattr(result, "failed", 0)
    return failed if isinstance(failed, int) and not isinstance(failed, bool) else 0


def under(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _key(path: str | Path) -> str:
    """A path as a manifest records it: absolute once it exists."""
    path = Path(os.path.expanduser(path))
    return str(path.resolve()) if path.exists() else str(path)


def declared_outputs(config: Any, stage_dir: Path, extra: list[str]) -> list[Path]:
    """The stage's folder, the recipe's ``outputs:`` and the config's declared outputs."""
    paths = [stage_dir, *(Path(p) for p in extra), *(Path(f.path) for f in config.outputs())]
    return [Path(k) for k in dict.fromkeys(_key(p) for p in paths)]


class Manifests:
    """``RUN/manifests/NAME.json`` for every finished stage, and the hashes they compare."""

    def __init__(self, run_dir: Path):
        self.folder = run_dir / "manifests"
        self.hashes = HashCache(run_dir / ".hashcache.json")

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def read(self, name: str) -> dict[str, Any] | None:
        path = self.path(name)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except ValueError:
            return None

    def input_hashes(self, inputs: list[StageFile]) -> dict[str, str | None]:
        return {_key(f.path): self.hashes.path_hash(_key(f.path), f.exclude) for f in inputs}

    def why_run(self, name: str, config_hash: str, inputs: list[StageFile]) -> str | None:
        """None when the recorded manifest still matches; else the reason to run."""
        manifest = self.read(name)
        if manifest is None or manifest.get("status") != "done":
            return "never completed"
        if manifest.get("failed"):
            return f"{manifest['failed']} failed request(s) to send again"
        if manifest.get("config_hash") != config_hash:
            return "config changed"
        now = self.input_hashes(inputs)
        if now != manifest.get("inputs"):
            changed = sorted(set(now.items()) ^ set(manifest.get("inputs", {}).items()))
            return f"inputs changed ({', '.join(sorted({c[0] for c in changed})[:3])})"
        for path, digest in manifest.get("outputs", {}).items():
            if self.hashes.path_hash(path) != digest:
                return f"output {path} missing or modified"
        return None

    def write(self, name: str, fields: dict[str, Any], inputs: list[StageFile], outputs: list[Path],
              stage_dir: Path, result: Any, seconds: float) -> Path:
        """Record a finished stage: ``fields`` (kind, config hash, config dump), its inputs'
        hashes and those of its outputs that exist (the stage folder once, not what is in it)."""
        outputs = [p for p in outputs if p.exists() and (p == stage_dir or not under(p, stage_dir))]
        manifest = {
            "status": "done",
            "stage": name,
            **fields,
            "inputs": self.input_hashes(inputs),
            "outputs": {str(p): self.hashes.path_hash(p) for p in outputs},
            "result": to_jsonable(result),
            "failed": failed_count(result),
            "seconds": round(seconds, 3),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": versions(),
        }
        path = self.path(name)
        with atomic_open(path) as fh:
            json.dump(manifest, fh, indent=2, ensure_ascii=False)
        self.hashes.save()
        return path
