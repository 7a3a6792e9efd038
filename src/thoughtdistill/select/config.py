"""Configuration of ``thoughtdistill select``: filters, strategy parameters, hygiene, budgets."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..config import StageConfig

LEVEL_MIN, LEVEL_MAX = 0, 9  # the RV / CD judge scale
StrategyName = Literal["threshold", "rv-cd-mix", "student-fit", "random"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class FilterSpec(_Params):
    """One condition: ``{"field": "rv", "op": "in", "value": [3, 5]}``; see ``filters.FIELDS``."""

    field: str
    op: Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in"] = "=="
    value: Any = None


class ThresholdParams(_Params):
    """EasyDistill's reference rule: correct, RV in ``rv`` and CD in ``cd`` (inclusive ranges)."""

    require_correct: bool = True
    rv: tuple[int, int] = (3, 5)
    cd: tuple[int, int] = (4, 4)

    @field_validator("rv", "cd")
    @classmethod
    def _level_range(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not (LEVEL_MIN <= v[0] <= v[1] <= LEVEL_MAX):
            raise ValueError(f"needs low <= high within the {LEVEL_MIN}-{LEVEL_MAX} level scale, got {list(v)}")
        return v


class RvCdMixParams(_Params):
    """EasyDistill's ``cot_mix_by_rv_cd`` semantics with its bugs fixed (see docs/select.md)."""

    cd_bins: list[float] = Field(default_factory=lambda: [0.0, 3.0, 6.0, 10.0])
    rv_target: Literal["matched", "low", "medium", "high"] | float | list[float] = "matched"
    samples_per_bin: int | None = Field(default=None, ge=1)
    total: int | None = Field(default=None, ge=1, description="total chains split over bins by bin_weights")
    bin_weights: list[float] | None = None
    per_question: int = Field(default=1, ge=1)
    require_correct: bool = True

    @field_validator("cd_bins")
    @classmethod
    def _edges(cls, v: list[float]) -> list[float]:
        if len(v) < 2:
            raise ValueError("cd_bins needs at least two edges")
        if any(b <= a for a, b in zip(v, v[1:])):
            raise ValueError("cd_bins edges must be strictly increasing")
        return v

    @field_validator("rv_target")
    @classmethod
    def _on_scale(cls, v: Any) -> Any:
        for x in v if isinstance(v, list) else [v]:
            if not isinstance(x, str) and not LEVEL_MIN <= x <= LEVEL_MAX:
                raise ValueError(f"RV target {x:g} is outside the {LEVEL_MIN}-{LEVEL_MAX} level scale "
                                 "(or use matched, low, medium, high)")
        return v

    @model_validator(mode="after")
    def _shapes(self) -> "RvCdMixParams":
        n = len(self.cd_bins) - 1
        if isinstance(self.rv_target, list) and len(self.rv_target) != n:
            raise ValueError(f"rv_target list needs one value per bin ({n}), got {len(self.rv_target)}")
        if self.bin_weights is not None:
            if len(self.bin_weights) != n:
                raise ValueError(f"bin_weights needs one weight per bin ({n}), got {len(self.bin_weights)}")
            if any(w < 0 for w in self.bin_weights) or sum(self.bin_weights) <= 0:
                raise ValueError("bin_weights must be non-negative with a positive sum")
        return self


# Student size (billions of parameters) -> inclusive CD target band. A heuristic following
# the ThoughtY note (small students learn from simpler methods): the band moves up one level
# per size step. Override with ``student_fit.size_bands``.
DEFAULT_SIZE_BANDS: dict[str, tuple[float, float]] = {
    "0.6": (1.0, 3.0),
    "1.7": (2.0, 4.0),
    "4": (3.0, 5.0),
    "8": (4.0, 6.0),
    "14": (5.0, 7.0),
    "32": (6.0, 8.0),
}


class StudentFitParams(_Params):
    """Per question: the correct chain whose CD fits the student and whose RV fits the question."""

    student_size: float | str = "4B"
    size_bands: dict[str, tuple[float, float]] = Field(default_factory=lambda: dict(DEFAULT_SIZE_BANDS))
    size_policy: Literal["interpolate", "exact"] = "interpolate"
    difficulty: Literal["mean_cd", "pass_rate", "meta"] = "mean_cd"
    difficulty_key: str = "difficulty"
    difficulty_range: tuple[float, float] = (0.0, 1.0)
    rv_range: tuple[float, float] = (2.0, 8.0)
    cd_weight: float = Field(default=1.0, ge=0)
    rv_weight: float = Field(default=1.0, ge=0)
    max_cd_distance: float | None = Field(default=None, ge=0)
    per_question: int = Field(default=1, ge=1)
    teacher_order: list[str] = Field(default_factory=list)
    require_correct: bool = True


class RandomParams(_Params):
    """The control: uniformly random chains at the same budget as another strategy."""

    n: int | None = Field(default=None, ge=1)
    match: Literal["threshold", "rv-cd-mix", "student-fit"] | None = None
    per_question: int = Field(default=1, ge=1)
    require_correct: bool = True


class QualityConfig(_Params):
    drop_truncated: bool = True
    final_answer: Literal["off", "nonempty", "boxed"] = "nonempty"
    drop_loops: bool = True
    loop_window: int = Field(default=64, ge=8)
    loop_tail: int = Field(default=4096, ge=256)
    loop_min_repeats: int = Field(default=4, ge=2)
    drop_language_mix: bool = True
    max_foreign_script: float = Field(default=0.05, ge=0, le=1)
    drop_errors: bool = True


class HygieneConfig(_Params):
    exact_dedup: bool = True
    near_dedup: bool = True
    near_threshold: float = Field(default=0.8, gt=0, le=1)
    num_perm: int = Field(default=64, ge=8)
    shingle: int = Field(default=3, ge=1)
    decontaminate: bool = True
    decontaminate_against: list[str] | None = Field(
        default=None, description="packaged benchmarks to decontaminate against, by name (default: all of them)")
    eval_files: list[Path] = Field(default_factory=list, description="more evaluation sets: JSONL/JSON/Parquet/CSV files or hf: references")
    ngram: int = Field(default=13, ge=3)

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and ({"shared_exclude", "use_shared_data"} & data.keys()):
            raise ValueError("shared_exclude / use_shared_data were replaced by decontaminate_against: "
                             "a list of benchmark names (default: every packaged benchmark)")
        return data

    @field_validator("decontaminate_against", mode="before")
    @classmethod
    def _names(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [name.strip() for name in v.split(",") if name.strip()]
        if v is not None:
            from ..evaluate.benchmarks import packaged_benchmarks

            known = packaged_benchmarks()
            unknown = [name for name in v if name not in known]
            if unknown:
                raise ValueError(f"unknown benchmark(s) {', '.join(unknown)}; packaged: {', '.join(known)} "
                                 "(other evaluation sets: eval_files)")
        return v


class BudgetConfig(_Params):
    max_chains: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_per_question: int | None = Field(default=None, ge=1)
    domain_quota: dict[str, float] = Field(default_factory=dict)
    teacher_quota: dict[str, float] = Field(default_factory=dict)


class SelectConfig(StageConfig):
    input: list[Path]
    output: Path
    strategy: StrategyName = "student-fit"
    filters: list[str | FilterSpec] = Field(default_factory=list)
    threshold: ThresholdParams = Field(default_factory=ThresholdParams)
    rv_cd_mix: RvCdMixParams = Field(default_factory=RvCdMixParams)
    student_fit: StudentFitParams = Field(default_factory=StudentFitParams)
    random: RandomParams = Field(default_factory=RandomParams)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    hygiene: HygieneConfig = Field(default_factory=HygieneConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    seed: int = 0
    chars_per_token: float = Field(default=4.0, gt=0)
    on_error: Literal["raise", "quarantine", "skip"] = "raise"
    figures: bool = True
    progress: bool = True  # rows read per pass: a bar on a terminal, otherwise a line every ~10 s
    report: bool = True

    @field_validator("input", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, (str, Path)) else v
