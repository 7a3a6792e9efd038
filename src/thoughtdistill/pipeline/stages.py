"""Stage kinds the recipe's ``uses:`` can name: the stage packages' own ``run_<stage>``
functions and configs, plus the pipeline's built-in helpers (prepare, export, report)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import ConfigError


@dataclass(frozen=True)
class StageKind:
    name: str
    module: str
    config_names: tuple[str, ...]
    func_names: tuple[str, ...]
    doc: str = ""
    # Optional hook: config -> list of input paths (replaces the automatic detection).
    inputs_hook: str | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def load(self) -> tuple[type, Callable[[Any], Any]]:
        try:
            mod = importlib.import_module(self.module)
        except ImportError as exc:
            raise ConfigError(
                f"stage kind {self.name!r} is not available: cannot import {self.module} ({exc})"
            ) from None
        cfg = next((getattr(mod, n) for n in self.config_names if hasattr(mod, n)), None)
        fn = next((getattr(mod, n) for n in self.func_names if hasattr(mod, n)), None)
        for sub in ("stage", "run", "core"):  # a package that does not re-export them
            if cfg is not None and fn is not None:
                break
            try:
                submod = importlib.import_module(f"{self.module}.{sub}")
            except ImportError:
                continue
            cfg = cfg or next((getattr(submod, n) for n in self.config_names if hasattr(submod, n)), None)
            fn = fn or next((getattr(submod, n) for n in self.func_names if hasattr(submod, n)), None)
        if cfg is None or fn is None:
            raise ConfigError(
                f"stage kind {self.name!r}: {self.module} lacks "
                f"{'/'.join(self.config_names) if cfg is None else '/'.join(self.func_names)}"
            )
        return cfg, fn

    def input_paths(self, config: Any) -> list[str] | None:
        if not self.inputs_hook:
            return None
        mod = importlib.import_module(self.module)
        return list(getattr(mod, self.inputs_hook)(config))


KINDS: dict[str, StageKind] = {}


def register_kind(kind: StageKind) -> None:
    KINDS[kind.name] = kind
    for alias in kind.aliases:
        KINDS[alias] = kind


for _kind in (
    StageKind("generate", "thoughtdistill.generate", ("GenerateConfig",), ("run_generate",),
              "teacher chains from OpenAI-compatible endpoints"),
    StageKind("judge", "thoughtdistill.judge", ("JudgeConfig",), ("run_judge",),
              "LLM-judge RV / CD / correctness annotations"),
    StageKind("verify", "thoughtdistill.verify", ("VerifyConfig",), ("run_verify",),
              "rule verifiers (math-verify, code sandbox) and the verification cascade"),
    StageKind("select", "thoughtdistill.select", ("SelectConfig",), ("run_select",),
              "filters, strategies (student-fit...), hygiene; writes <output>.select_report.json"),
    StageKind("train", "thoughtdistill.train", ("TrainConfig",), ("run_train",),
              "SFT / white-box KD of the student; writes trainer_log.json"),
    StageKind("evaluate", "thoughtdistill.evaluate", ("EvalConfig", "EvaluateConfig"),
              ("run_eval", "run_evaluate"), "benchmarks and scoring; one JSON per run",
              aliases=("eval",)),
    StageKind("prepare", "thoughtdistill.pipeline.builtin", ("PrepareConfig",), ("run_prepare",),
              "questions from data files (GSM8K, MATH-500, AIME, EasyDistill JSON...) to canonical JSONL"),
    StageKind("easydistill_export", "thoughtdistill.pipeline.builtin", ("ExportConfig",),
              ("run_export",), "canonical records to EasyDistill's JSON output formats"),
    StageKind("report", "thoughtdistill.report", ("ReportConfig",), ("run_report",),
              "self-contained HTML report + report.json", inputs_hook="report_inputs"),
):
    register_kind(_kind)


def get_kind(name: str) -> StageKind:
    if name not in KINDS:
        raise ConfigError(f"unknown stage kind {name!r}; known: {', '.join(sorted(KINDS))}")
    return KINDS[name]
