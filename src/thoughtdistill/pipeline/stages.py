"""Stage kinds the recipe's ``uses:`` can name: the stage packages' own ``run_<stage>``
functions and configs, plus the pipeline's built-in helpers (prepare, export, report).

Each kind names its function and its config exactly, as ``"package.module:name"``; a config
declares the files the stage reads and writes (``inputs()`` / ``outputs()``,
:mod:`thoughtdistill.stage_io`)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import ConfigError


def load_object(ref: str) -> Any:
    """The object ``"package.module:name"`` names."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class StageKind:
    name: str
    function: str  # "package.module:run_<stage>"
    config: str  # "package.module:<Stage>Config"
    doc: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def load(self) -> tuple[type, Callable[[Any], Any]]:
        try:
            return load_object(self.config), load_object(self.function)
        except ImportError as exc:
            raise ConfigError(f"stage kind {self.name!r} is not available: cannot import "
                              f"{self.config} / {self.function} ({exc})") from None
        except AttributeError as exc:
            raise ConfigError(f"stage kind {self.name!r}: {exc}") from None


KINDS: dict[str, StageKind] = {}


def register_kind(kind: StageKind) -> None:
    KINDS[kind.name] = kind
    for alias in kind.aliases:
        KINDS[alias] = kind


for _kind in (
    StageKind("generate", "thoughtdistill.generate:run_generate", "thoughtdistill.generate:GenerateConfig",
              "teacher chains from OpenAI-compatible endpoints"),
    StageKind("judge", "thoughtdistill.judge:run_judge", "thoughtdistill.judge:JudgeConfig",
              "LLM-judge RV / CD / correctness annotations"),
    StageKind("verify", "thoughtdistill.verify:run_verify", "thoughtdistill.verify:VerifyConfig",
              "rule verifiers (math-verify, code sandbox) and the verification cascade"),
    StageKind("select", "thoughtdistill.select:run_select", "thoughtdistill.select:SelectConfig",
              "filters, strategies (student-fit...), hygiene; writes <output>.select_report.json"),
    StageKind("train", "thoughtdistill.train:run_train", "thoughtdistill.train:TrainConfig",
              "SFT / white-box KD of the student; writes trainer_log.json"),
    StageKind("evaluate", "thoughtdistill.evaluate:run_eval", "thoughtdistill.evaluate:EvalConfig",
              "benchmarks and scoring; one JSON per run", aliases=("eval",)),
    StageKind("prepare", "thoughtdistill.pipeline.builtin:run_prepare", "thoughtdistill.pipeline.builtin:PrepareConfig",
              "questions from data files (GSM8K, MATH-500, AIME, EasyDistill JSON...) to canonical JSONL"),
    StageKind("easydistill_export", "thoughtdistill.pipeline.builtin:run_export",
              "thoughtdistill.pipeline.builtin:ExportConfig", "canonical records to EasyDistill's JSON output formats"),
    StageKind("report", "thoughtdistill.report:run_report", "thoughtdistill.report:ReportConfig",
              "self-contained HTML report + report.json"),
):
    register_kind(_kind)


def get_kind(name: str) -> StageKind:
    if name not in KINDS:
        raise ConfigError(f"unknown stage kind {name!r}; known: {', '.join(sorted(KINDS))}")
    return KINDS[name]
