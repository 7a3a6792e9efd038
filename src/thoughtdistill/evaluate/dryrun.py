"""``--dry-run`` for ``infer`` and ``eval``: the checks that need neither a model nor a server."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .infer import GenSettings, check_model_folder, resolve_benchmark


def dry_run_plan(cfg: GenSettings, from_infer: str | None = None) -> str:
    """What infer/eval would do, checked without loading a model or sending a request: the
    benchmark resolves, the model is a fixture, a model folder or (with a warning) a hub name,
    the openai backend has a base_url."""
    from ..models import MODEL_NAMES

    if from_infer:
        path = Path(from_infer)
        meta = path.with_name(path.name + ".meta.json")
        for p in (path, meta):
            if not p.exists():
                raise ConfigError(f"{p}: not found")
        return f"would score {path} (settings from {meta.name}); nothing generated (--dry-run)"
    spec, items, _ = resolve_benchmark(cfg)
    lines = []
    if cfg.backend == "openai":
        if not cfg.base_url:
            raise ConfigError("the openai backend needs base_url (e.g. http://127.0.0.1:8000/v1)")
        lines.append(f"model {cfg.model} at {cfg.base_url} (not contacted: --dry-run)")
    elif cfg.model.removeprefix("fixture:") in MODEL_NAMES:
        lines.append(f"model: the {cfg.model.removeprefix('fixture:')} fixture")
    elif Path(cfg.model).exists():
        check_model_folder(cfg.model)
        lines.append(f"model folder {cfg.model}")
    else:
        lines.append(f"warning: {cfg.model} is not a local folder; {cfg.backend} would load it as a hub name "
                     "(needs network access or a filled cache)")
    sampling = cfg.sampling.resolved(cfg.enable_thinking)
    samples = len(items) * cfg.n
    lines.append(f"would generate {samples} samples ({len(items)} {spec.name} items x {cfg.n}) with "
                 f"{cfg.backend}, thinking {'on' if cfg.enable_thinking else 'off'}, up to "
                 f"{sampling.max_new_tokens:,} new tokens each ({samples * sampling.max_new_tokens:,} at most); "
                 "nothing run (--dry-run)")
    return "\n".join(lines)
