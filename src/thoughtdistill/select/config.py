"""Configuration of ``thoughtdistill select``: filters, strategy parameters, hygiene, budgets."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..config import StageConfig
from ..stage_io import IOPath, StageFile, files

LEVEL_MIN, LEVEL_MAX = 0, 9  # the RV / CD judge scale
StrategyName = Literal["threshold", "rv-cd-mix", "student-fit", "random"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class FilterSpec(_Params):
    """One condition: ``{"field": "rv", "op": "in", "value": [3, 5]}``; see ``filters.FIELDS``."""

    field: str = Field(description="rv, cd, correct, teacher, domain, tokens, truncated")
    op: Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in"] = Field(default="==", description="comparison")
    value: Any = Field(default=None, description="a number, true/false/none, a word, a list; [low, high] for in")


class ThresholdParams(_Params):
    """EasyDistill's reference rule: correct, RV in ``rv`` and CD in ``cd`` (inclusive ranges)."""

    require_correct: bool = Field(default=True, description="only chains judged or verified correct")
    rv: tuple[int, int] = Field(default=(3, 5), description="inclusive RV range [low, high] (0-9)")
    cd: tuple[int, int] = Field(default=(4, 4), description="inclusive CD range [low, high] (0-9)")

    @field_validator("rv", "cd")
    @classmethod
    def _level_range(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not (LEVEL_MIN <= v[0] <= v[1] <= LEVEL_MAX):
            raise ValueError(f"needs low <= high within the {LEVEL_MIN}-{LEVEL_MAX} level scale, got {list(v)}")
        return v


class RvCdMixParams(_Params):
    """EasyDistill's ``cot_mix_by_rv_cd`` semantics with its bugs fixed (see docs/select.md)."""

    cd_bins: list[float] = Field(default_factory=lambda: [0.0, 3.0, 6.0, 10.0],
                                 description="CD bin edges; bins [e_i, e_i+1), the last one closed")
    rv_target: Literal["matched", "low", "medium", "high"] | float | list[float] = Field(
        default="matched", description="RV aimed at per bin: low/medium/high = 2/5/8, a number 0-9, a list "
        "per bin, or matched = 2 -> 10 linearly over the bins")
    samples_per_bin: int | None = Field(default=None, ge=1, description="chains per CD bin at most")
    total: int | None = Field(default=None, ge=1, description="total chains split over bins by bin_weights")
    bin_weights: list[float] | None = Field(default=None, description="share of total per bin (default: equal)")
    per_question: int = Field(default=1, ge=1, description="chains of one question, over all bins")
    require_correct: bool = Field(default=True, description="only chains judged or verified correct")

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

    student_size: float | str = Field(default="4B", description="student parameters, e.g. 0.6B, 1.7B, 4B, 8B, "
                                      "14B, 32B (or 4, 600M)")
    size_bands: dict[str, tuple[float, float]] = Field(default_factory=lambda: dict(DEFAULT_SIZE_BANDS),
                                                       description="student size (billions) -> inclusive CD band")
    size_policy: Literal["interpolate", "exact"] = Field(default="interpolate", description="a size between "
                                                         "table entries: interpolate its band, or refuse it")
    difficulty: Literal["mean_cd", "pass_rate", "meta"] = Field(default="mean_cd", description="how a question's "
                                                                "difficulty (0-1) is measured")
    difficulty_key: str = Field(default="difficulty", description="difficulty meta: the record.meta key")
    difficulty_range: tuple[float, float] = Field(default=(0.0, 1.0), description="difficulty meta: the values "
                                                  "scaled to 0..1")
    rv_range: tuple[float, float] = Field(default=(2.0, 8.0), description="RV aimed at for difficulty 0 and 1")
    cd_weight: float = Field(default=1.0, ge=0, description="weight of the CD distance from the band")
    rv_weight: float = Field(default=1.0, ge=0, description="weight of the RV distance from the target")
    max_cd_distance: float | None = Field(default=None, ge=0, description="drop chains farther from the band "
                                          "(default: any)")
    per_question: int = Field(default=1, ge=1, description="chains per question")
    teacher_order: list[str] = Field(default_factory=list, description="preferred teachers on ties, first first")
    require_correct: bool = Field(default=True, description="only chains judged or verified correct")


class RandomParams(_Params):
    """The control: uniformly random chains at the same budget as another strategy."""

    n: int | None = Field(default=None, ge=1, description="number of chains")
    match: Literal["threshold", "rv-cd-mix", "student-fit"] | None = Field(
        default=None, description="take as many chains as this strategy keeps on the same input")
    per_question: int = Field(default=1, ge=1, description="chains per question at most")
    require_correct: bool = Field(default=True, description="only chains judged or verified correct")


class QualityConfig(_Params):
    drop_truncated: bool = Field(default=True, description="drop truncated chains (length stop, unclosed thought)")
    final_answer: Literal["off", "nonempty", "boxed"] = Field(default="nonempty", description="what must follow "
                                                              "the thought: off (no check), nonempty, boxed (a \\boxed answer)")
    drop_loops: bool = Field(default=True, description="drop chains stuck in a repetition loop")
    loop_window: int = Field(default=64, ge=8, description="loops: characters of the repeated tail")
    loop_tail: int = Field(default=4096, ge=256, description="loops: characters searched for repeats")
    loop_min_repeats: int = Field(default=4, ge=2, description="loops: repeats that make a loop")
    drop_language_mix: bool = Field(default=True, description="drop chains in CJK script when the question has none")
    max_foreign_script: float = Field(default=0.05, ge=0, le=1, description="language mix: largest share of "
                                      "CJK characters allowed")
    drop_errors: bool = Field(default=True, description="drop chains whose request failed")


class HygieneConfig(_Params):
    exact_dedup: bool = Field(default=True, description="drop questions equal after case and whitespace folding")
    near_dedup: bool = Field(default=True, description="drop MinHash near-duplicate questions")
    near_threshold: float = Field(default=0.8, gt=0, le=1, description="near dedup: estimated Jaccard similarity")
    num_perm: int = Field(default=64, ge=8, description="near dedup: MinHash permutations")
    shingle: int = Field(default=3, ge=1, description="near dedup: words per shingle")
    decontaminate: bool = Field(default=True, description="drop questions sharing an n-gram with an evaluation set")
    decontaminate_against: list[str] | None = Field(
        default=None, description="packaged benchmarks to decontaminate against, by name (default: all of them)")
    eval_files: IOPath[list[Path]] = Field(default_factory=list, description="more evaluation sets: JSONL/JSON/Parquet/CSV files or hf: references")
    ngram: int = Field(default=13, ge=3, description="decontamination: words per n-gram")

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
    max_chains: int | None = Field(default=None, ge=1, description="total chains")
    max_tokens: int | None = Field(default=None, ge=1, description="total completion tokens")
    max_per_question: int | None = Field(default=None, ge=1, description="chains per question")
    domain_quota: dict[str, float] = Field(default_factory=dict, description="{domain: q}: q >= 1 a count, "
                                           "0 < q < 1 a share")
    teacher_quota: dict[str, float] = Field(default_factory=dict, description="{teacher: q}: q >= 1 a count, "
                                            "0 < q < 1 a share")


class SelectConfig(StageConfig):
    input: IOPath[list[Path]] = Field(description="annotated record file(s): any container and format convert "
                                      "reads (detected), or hf:REPO[:SPLIT]")
    output: IOPath[Path] = Field(description="where the selected records go (JSONL)")
    strategy: StrategyName = Field(default="student-fit", description="how chains are chosen")
    filters: list[str | FilterSpec] = Field(default_factory=list, description="conditions, e.g. 'rv in 3..5', "
                                            "'correct == true' (repeat the flag)")
    threshold: ThresholdParams = Field(default_factory=ThresholdParams)
    rv_cd_mix: RvCdMixParams = Field(default_factory=RvCdMixParams)
    student_fit: StudentFitParams = Field(default_factory=StudentFitParams)
    random: RandomParams = Field(default_factory=RandomParams)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    hygiene: HygieneConfig = Field(default_factory=HygieneConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    seed: int = Field(default=0, description="seed for tie-breaks and the random strategy")
    chars_per_token: float = Field(default=4.0, gt=0, description="token estimate of chains without usage counts")
    on_error: Literal["raise", "quarantine", "skip"] = Field(default="raise", description="what a bad row does")
    figures: bool = Field(default=True, description="write PNG figures beside the report")
    progress: bool = Field(default=True, description="rows read per pass: a bar on a terminal, otherwise a "
                           "line every ~10 s")
    report: bool = Field(default=True, description="write <name>.select_report.json")

    @field_validator("input", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, (str, Path)) else v

    def inputs(self) -> list[StageFile]:
        return files(self, "input", "hygiene.eval_files")

    def outputs(self) -> list[StageFile]:
        return files(self, "output")
