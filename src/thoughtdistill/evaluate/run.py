"""``thoughtdistill eval``: infer (or reuse an infer output), score, and write one run JSON.

Files in ``out_dir`` for a run named ``NAME``:
- ``NAME.infer.jsonl`` (+ ``.meta.json``): the generations (absent with ``from_infer``);
- ``NAME.samples.jsonl``: every sample with its score (``correct``, ``pred``, ``scored_by``…);
- ``NAME.json``: the run: settings, versions, metrics. Keys are documented in
  docs/evaluate.md and kept stable (``schema`` = ``thoughtdistill.eval/1``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from ..errors import ConfigError, ThoughtDistillError
from ..io.atomic import atomic_open
from ..io.jsonl import JsonlWriter, iter_dicts
from ..stage_io import IOPath, StageFile, files, looks_like_file
from .benchmarks import get_benchmark, load_items, load_registry
from .infer import GenSettings, InferConfig, InferResult, default_label, run_infer, versions
from .metrics import format_adherence, problem_metrics
from .scoring import score_many

SCHEMA = "thoughtdistill.eval/1"


class EvalConfig(GenSettings):
    out_dir: IOPath[str] = Field(default="eval", description="folder for the run files")
    run_name: str | None = Field(default=None, description="file name stem for the run "
                                 "(default: LABEL__BENCHMARK__think|nothink)")
    from_infer: IOPath[str | None] = Field(default=None, description="score this infer JSONL instead of generating")
    pass_k: list[int] = Field(default_factory=lambda: [1, 4, 8, 16, 32, 64], description="k values reported "
                              "(those <= n)")
    processes: int = Field(default=1, ge=1, description="math-verify worker processes")
    ci_level: float = Field(default=0.95, gt=0, lt=1, description="confidence interval level")
    bootstrap: int = Field(default=1000, ge=0, description="bootstrap resamples for the interval")
    overwrite: bool = Field(default=False, description="regenerate instead of resuming the run's infer output")
    # teacher chains never trained on (canonical JSONL): metrics.heldout_nll, the model's mean NLL
    # per supervised token on them, rendered as `train` renders (needs the model's weights)
    heldout_chains: IOPath[str | None] = Field(default=None, description="canonical JSONL of teacher chains "
                                               "never trained on: metrics.heldout_nll (needs the weights)")
    heldout_max_length: int = Field(default=2048, ge=16, description="held-out chains: tokens per chain at most")
    # model / benchmark are optional when scoring an existing infer output (read from its meta)
    model: IOPath[str] = Field(default="", description="HF model folder (transformers/vllm) or served model "
                               "name (openai); default: the infer output's")
    benchmark: str = Field(default="", description="registry name, e.g. math500, aime24, gsm8k, humaneval; "
                           "default: the infer output's")

    def inputs(self) -> list[StageFile]:
        out = files(self, "benchmark_path", "benchmarks_files", "heldout_chains")
        if self.backend != "openai":  # else the served model's name
            out += files(self, "model", kind="model")
        out += files(self, "tokenizer", kind="model")
        if self.chat_template and looks_like_file(self.chat_template):  # else 'train' or the template's text
            out += files(self, "chat_template")
        for infer in files(self, "from_infer"):
            out += [infer, StageFile(f"{infer.path}.meta.json", "file", infer.field)]
        return out

    def outputs(self) -> list[StageFile]:
        return files(self, "out_dir", kind="folder")


@dataclass
class EvalResult:
    run_json: Path
    samples: Path
    infer_output: Path
    metrics: dict[str, Any]
    infer: InferResult | None = None
    failed: int = 0  # samples whose generation failed (scored wrong)
    first_error: str | None = None

    @property
    def accuracy(self) -> float:
        return self.metrics["accuracy"]


def _run_name(cfg: EvalConfig, label: str, benchmark: str, thinking: bool) -> str:
    raw = cfg.run_name or f"{label}__{benchmark}__{'think' if thinking else 'nothink'}"
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", raw)


def _latest_rows(path: Path) -> dict[tuple[str, int], dict[str, Any]]:
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for _, row in iter_dicts(path):
        key = (str(row["id"]), int(row["sample"]))
        if key not in rows or not row.get("error") or rows[key].get("error"):
            rows[key] = row  # a later success replaces an earlier error
    return rows


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def run_eval(config: EvalConfig) -> EvalResult:
    """Generate (unless ``from_infer``), score with the benchmark's scorer, write the run.

    Failed generations count as wrong and are reported in ``failed``/``first_error`` (and
    ``metrics.error_rate``). If every generation failed there is no score to report: the files
    are still written, then a ThoughtDistillError is raised.
    """
    out_dir = Path(config.out_dir)
    _check_heldout(config)
    infer_path, meta, infer_result = _infer_output(config, out_dir)
    settings = meta["settings"]
    bench = settings["benchmark"]
    spec = _benchmark_spec(config, bench)
    items = load_items(spec, limit=bench["limit"], slice_=bench["slice"])
    name = _run_name(config, settings["label"], bench["name"], settings["enable_thinking"])
    n = int(settings["n"])
    ordered = _ordered_samples(infer_path, items, n)
    scores = score_many(spec, [it for it, _ in ordered], [r for _, r in ordered], processes=config.processes)
    samples_path = out_dir / f"{name}.samples.jsonl"
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_samples(samples_path, ordered, scores)
    metrics = _metrics(config, spec, settings, ordered, scores, len(items), n)
    run = _run_record(config, name, meta, spec, metrics, infer_result)
    run["files"] = {"infer": str(infer_path), "infer_meta": str(infer_path.with_name(infer_path.name + ".meta.json")),
                    "samples": str(samples_path)}
    run_json = out_dir / f"{name}.json"
    with atomic_open(run_json, "w") as fh:
        json.dump(run, fh, indent=2, ensure_ascii=False)
    samples_rows = [r for _, r in ordered]
    errors = [r["error"] for r in samples_rows if r.get("error")]
    if errors and len(errors) == len(samples_rows):
        raise ThoughtDistillError(f"{run_json}: all {len(errors)} generations failed, no score "
                                  f"(first error: {errors[0]})")
    return EvalResult(run_json, samples_path, infer_path, metrics, infer_result,
                      failed=len(errors), first_error=errors[0] if errors else None)


def _check_heldout(config: EvalConfig) -> None:
    if config.heldout_chains:
        if config.backend == "openai":
            raise ConfigError("heldout_chains needs the model's weights (a local folder); the openai backend "
                              "has none: evaluate the same model folder with backend transformers")
        if not Path(config.heldout_chains).is_file():
            raise ConfigError(f"heldout_chains: {config.heldout_chains}: file not found")


def _infer_output(config: EvalConfig, out_dir: Path) -> tuple[Path, dict[str, Any], InferResult | None]:
    """The generations to score, their meta (settings) and, when made now, the infer result:
    ``from_infer``'s file, else a fresh (or resumed) infer run into ``out_dir``."""
    if config.from_infer:
        infer_path = Path(config.from_infer)
        meta_path = infer_path.with_name(infer_path.name + ".meta.json")
        if not infer_path.exists():
            raise ConfigError(f"{infer_path}: infer output not found")
        if not meta_path.exists():
            raise ConfigError(f"{meta_path}: missing; it records the settings the output was made with")
        return infer_path, json.loads(meta_path.read_text()), None
    if not config.model or not config.benchmark:
        raise ConfigError("eval needs model and benchmark (or from_infer to score an existing output)")
    label = config.label or default_label(config.model)
    name = _run_name(config, label, config.benchmark, config.enable_thinking)
    infer_path = out_dir / f"{name}.infer.jsonl"
    infer_cfg = InferConfig(**config.model_dump(include=set(GenSettings.model_fields)),
                            output=str(infer_path), overwrite=config.overwrite)
    infer_result = run_infer(infer_cfg)
    return infer_path, json.loads(infer_result.meta_path.read_text()), infer_result


def _benchmark_spec(config: EvalConfig, bench: dict[str, Any]) -> Any:
    """The benchmark the generations were made for, with the scorer they were made with."""
    registry = load_registry(config.benchmarks_files)
    spec = get_benchmark(bench["name"], registry, bench["path"], release=bench.get("release"),
                         date_from=bench.get("date_from"), date_to=bench.get("date_to"))
    if spec.scorer != bench["scorer"]:
        spec = spec.model_copy(update={"scorer": bench["scorer"]})
    return spec


def _ordered_samples(infer_path: Path, items: list[Any], n: int) -> list[tuple[Any, dict[str, Any]]]:
    """(item, latest row) for every item and sample, in item order; a missing sample raises."""
    rows = _latest_rows(infer_path)
    missing = [(i.id, s) for i in items for s in range(n) if (i.id, s) not in rows]
    if missing:
        raise ThoughtDistillError(
            f"{infer_path}: incomplete, {len(missing)} of {len(items) * n} samples missing "
            f"(first: {missing[0]}); run infer again with the same settings to resume")
    return [(item, rows[(item.id, s)]) for item in items for s in range(n)]


def _write_samples(path: Path, ordered: list[tuple[Any, dict[str, Any]]], scores: list[Any]) -> None:
    with JsonlWriter(path) as sink:
        for (item, row), score in zip(ordered, scores):
            sample = {k: v for k, v in row.items() if k != "messages"}
            sample.update(gold=item.answer, correct=score.correct, pred=score.pred,
                          scored_by=score.by, score_detail=score.detail)
            sink.write(sample)


def _heldout(config: EvalConfig, settings: dict[str, Any]) -> dict[str, Any] | None:
    if not config.heldout_chains:
        return None
    from .heldout import heldout_nll

    return heldout_nll(settings["model"], config.heldout_chains, max_length=config.heldout_max_length,
                       chat_template=config.chat_template,  # None/'train': the training policy
                       device=config.device, dtype=config.dtype,
                       num_threads=config.num_threads).as_dict()


def _metrics(config: EvalConfig, spec: Any, settings: dict[str, Any], ordered: list[tuple[Any, dict[str, Any]]],
             scores: list[Any], n_items: int, n: int) -> dict[str, Any]:
    """The run's ``metrics``: accuracy with its bootstrap interval, pass@k, token and
    truncation rates, format adherence, held-out NLL."""
    correct = [[scores[i * n + s].correct for s in range(n)] for i in range(n_items)]
    preds = [[scores[i * n + s].pred for s in range(n)] for i in range(n_items)]
    estimates = problem_metrics(correct, preds, config.pass_k, resamples=config.bootstrap,
                                level=config.ci_level, seed=0)
    samples_rows = [r for _, r in ordered]
    completion = _mean([r.get("completion_tokens") for r in samples_rows])
    accuracy = estimates[f"avg@{n}"].value if estimates else float("nan")
    ci = estimates.get(f"avg@{n}")
    n_choices = [int(item.meta.get("n_choices", 4)) for item, _ in ordered]
    heldout = _heldout(config, settings)
    return {
        "accuracy": accuracy,
        "ci_level": config.ci_level,
        "ci_method": f"percentile bootstrap over problems ({config.bootstrap} resamples, seed 0)",
        **{k: v.as_dict() for k, v in estimates.items()},
        "n_problems": n_items,
        "n_samples_per_problem": n,
        "n_samples": len(samples_rows),
        "mean_completion_tokens": completion,
        "mean_thinking_tokens": _mean([r.get("thinking_tokens") for r in samples_rows]),
        "mean_answer_tokens": _mean([r.get("answer_tokens") for r in samples_rows]),
        "mean_completion_tokens_correct": _mean(
            [r.get("completion_tokens") for r, sc in zip(samples_rows, scores) if sc.correct]),
        "truncation_rate": _mean([float(bool(r.get("truncated"))) for r in samples_rows]),
        "cap_rate": _mean([float(r.get("finish_reason") == "length") for r in samples_rows]),
        "error_rate": _mean([float(bool(r.get("error"))) for r in samples_rows]),
        "accuracy_per_1k_tokens": (accuracy / (completion / 1000)) if completion else None,
        "token_count_method": next((r.get("token_count_method") for r in samples_rows), None),
        "accuracy_ci": {"low": ci.ci_low, "high": ci.ci_high} if ci else None,
        "format_adherence": format_adherence(samples_rows, spec.scorer, bool(settings["enable_thinking"]),
                                             n_choices),
        "heldout_nll": heldout,
    }


def _run_record(config: EvalConfig, name: str, meta: dict[str, Any], spec: Any, metrics: dict[str, Any],
                infer_result: InferResult | None) -> dict[str, Any]:
    """The run JSON (``files`` is added by the caller): settings, versions and metrics."""
    settings = meta["settings"]
    bench = settings["benchmark"]
    return {
        "schema": SCHEMA,
        "run_name": name,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "label": settings["label"],
        "model": settings["model"],
        "backend": meta.get("backend", {"backend": settings["backend"]}),
        "benchmark": bench,
        "enable_thinking": settings["enable_thinking"],
        "sampling": settings["sampling"],
        "n": int(settings["n"]),
        "seed": settings["seed"],
        "prompt": {"template": bench["prompt_template"], "system": bench["system_prompt"],
                   "example_messages": meta.get("example_messages"),
                   "example_prompt": meta.get("example_prompt")},
        "versions": meta.get("versions", {}),
        "scoring": {"scorer": spec.scorer, "versions": versions(), "pass_k": config.pass_k},
        "metrics": metrics,
        "infer": None if infer_result is None else {
            "generated": infer_result.generated, "skipped": infer_result.skipped,
            "seconds": round(infer_result.seconds, 3), "tokens_per_s": round(infer_result.tokens_per_s, 2)},
    }
