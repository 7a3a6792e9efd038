"""``thoughtdistill infer``: generate answers for a benchmark, streamed to JSONL, resumable.

Output: one line per (item, sample) -- see docs/evaluate.md for the fields -- plus a
``<output>.meta.json`` with every setting. Re-running with the same settings skips the
(item, sample) keys already done without error; different settings on an existing file are
an error (use a new output or ``overwrite``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..config import StageConfig
from ..errors import ConfigError
from ..io.atomic import atomic_open
from ..io.jsonl import JsonlAppender, iter_dicts
from ..stage_io import EnvName, IOPath, NoEffectPath
from ..versions import versions as package_versions
from .backends import GenOutput, InferBackend, Sampling
from .benchmarks import (BenchmarkSpec, EvalItem, benchmark_window, build_messages, file_sha256, get_benchmark,
                         load_items, load_registry)
from .scoring import answer_part

BackendName = Literal["transformers", "vllm", "openai"]


class GenSettings(StageConfig):
    """What to generate with and on: shared by ``infer`` and ``eval``."""

    model: IOPath[str] = Field(description="HF model folder (transformers/vllm), a fixture name as train takes it "
                               "(smollm2, tiny-qwen3), or served model name (openai)")
    backend: BackendName = Field(default="transformers", description="what generates")
    benchmark: str = Field(description="registry name, e.g. math500, aime24, gsm8k, humaneval")
    benchmark_path: IOPath[str | None] = Field(default=None, description="file (CSV, JSONL(.gz), JSON array, "
                                               "Parquet, a save_to_disk folder) or hf:REPO[:SPLIT] / "
                                               "hf:REPO:CONFIG:SPLIT for the benchmark (needed for gpqa_diamond, "
                                               "livecodebench)")
    benchmarks_files: IOPath[list[str]] = Field(default_factory=list, description="extra registry YAML/JSON "
                                                "files (repeat the flag)")
    release: str | None = Field(default=None, description="LiveCodeBench release window: release_v1..release_v6 "
                                "(cumulative), v1..v6 (what one release added), v1_v3 (a range)")
    date_from: str | None = Field(default=None, description="only problems with contest_date on or after YYYY-MM-DD")
    date_to: str | None = Field(default=None, description="only problems with contest_date on or before YYYY-MM-DD")
    limit: int | None = Field(default=None, ge=1, description="only the first N items (after slice)")
    slice: str | None = Field(default=None, description="START:STOP over the items after the release/date "
                              "window (Python slice, negative counts from the end), before limit; selecting "
                              "nothing is an error")
    enable_thinking: bool = Field(default=True, description="enable_thinking in the chat template")
    sampling: Sampling = Field(default_factory=Sampling)
    n: int = Field(default=1, ge=1, description="samples per item")
    seed: int = Field(default=0, description="base seed; each (item, sample) derives its own")
    prompt_template: str | None = Field(default=None, description="prompt instead of the benchmark's "
                                        "({question} placeholder)")
    system_prompt: str | None = Field(default=None, description="system turn instead of the benchmark's")
    # The chat template prompts are rendered with (transformers, vllm): None = the model's own;
    # 'train' = the one `thoughtdistill train` trains this model with (its own if it has
    # {% generation %} markers, Qwen3's thinking template for ChatML/Qwen-style models), so a
    # model evaluated before training sees the prompts its trained self will see; or a jinja
    # file / the template text.
    chat_template: IOPath[str | None] = Field(default=None, description="default: the model's own; 'train': "
                                              "the one thoughtdistill train trains this model with (so an untrained "
                                              "model is prompted as its trained self will be); or a jinja file / "
                                              "the template text (transformers, vllm)")
    # transformers / vllm
    batch_size: int = Field(default=8, ge=1, description="prompts per batch (transformers); openai/vllm take at "
                            "least this many at once")
    device: str | None = Field(default=None, description="transformers: device (default: cuda if available)")
    dtype: str = Field(default="auto", description="transformers: dtype (auto: bf16 on GPU, fp32 on CPU)")
    num_threads: int | None = Field(default=None, ge=1, description="transformers on CPU: torch threads "
                                    "(default: allowed cores minus load)")
    tensor_parallel_size: int = Field(default=1, ge=1, description="vllm: GPUs per model")
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1, description="vllm: share of GPU memory")
    max_model_len: int | None = Field(default=None, description="vllm: context length")
    # openai
    base_url: str | None = Field(default=None, description="openai: OpenAI-compatible endpoint")
    api_key_env: EnvName[str | None] = Field(default=None, description="openai: environment variable holding "
                                             "the API key")
    concurrency: int = Field(default=8, ge=1, description="openai: requests in flight")
    timeout_s: float = Field(default=600.0, gt=0, description="openai: whole-request timeout")
    tokenizer: IOPath[str | None] = Field(default=None, description="openai: HF folder for exact thinking/answer "
                                          "token counts")
    cache_dir: NoEffectPath[str | None] = Field(default=None, description="openai: response cache folder")
    label: str | None = Field(default=None, description="name in comparison tables (default: model folder name)")
    progress: bool = Field(default=True, description="a bar on a terminal, else a line every ~10 s")


class InferConfig(GenSettings):
    output: str = Field(description="JSONL file, one line per (item, sample)")
    overwrite: bool = Field(default=False, description="start the output afresh")


@dataclass
class InferResult:
    output: Path
    meta_path: Path
    generated: int
    skipped: int
    total: int
    errors: int
    seconds: float
    completion_tokens: int
    first_error: str | None = None  # the first failed generation's error, this run

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0


def sample_seed(base: int, item_id: str, sample: int) -> int:
    """Per-(item, sample) seed, independent of batching and resumption order."""
    return (base * 1_000_003 + zlib.crc32(item_id.encode()) + sample * 7_919) % (2**31 - 1)


def versions() -> dict[str, str | None]:
    return package_versions(("thoughtdistill", "torch", "transformers", "vllm", "math-verify", "openai"), missing=True)


def default_label(model: str) -> str:
    """A model's name in tables: its folder name, or the run folder's for ``<run>/model``
    (every student ``train`` writes is called ``model``)."""
    path = Path(model)
    if path.name == "model" and path.parent.name not in ("", ".", "/"):
        return path.parent.name
    return path.name


def check_model_folder(model: str) -> None:
    """A local folder given as the model must be a model, not a train run or an adapter."""
    folder = Path(model)
    if not folder.is_dir() or (folder / "config.json").exists():
        return
    if (folder / "model" / "config.json").exists():
        raise ConfigError(f"{folder}: a train run folder, not a model; did you mean {folder / 'model'}?")
    if (folder / "adapter_config.json").exists():
        raise ConfigError(f"{folder}: a LoRA adapter, not a whole model; evaluate the merged model "
                          f"(train writes it to {folder.parent})")
    raise ConfigError(f"{folder}: not a model folder (no config.json)")


def resolve_model(model: str, backend: str = "transformers") -> str:
    """A fixture name (``smollm2``, ``tiny-qwen3``, or ``fixture:<name>``) as ``train`` accepts
    it: the fixture's folder, built on first use. Other names and the openai backend: as given."""
    from ..models import MODEL_NAMES, ensure_model

    name = model.removeprefix("fixture:")
    if backend == "openai" or name not in MODEL_NAMES or Path(model).exists():
        return model
    return str(ensure_model(name))


def eval_chat_template(tokenizer: Any, chat_template: str) -> str:
    """The template text ``chat_template`` names for this tokenizer: 'train', the jinja text
    (anything with a ``{``), or a jinja file."""
    if chat_template == "train":
        from .heldout import template_for

        return template_for(tokenizer, None)
    if "{" in chat_template:
        return chat_template
    path = Path(chat_template)
    if not path.is_file():
        raise ConfigError(f"chat_template: {path}: file not found (give a jinja file, its text, or 'train')")
    return path.read_text(encoding="utf-8")


def _template_setting(value: str | None) -> str | None:
    """What the settings record keeps of ``chat_template``: the name, a file with its hash, or
    the hash of a template given as text."""
    if value is None or value == "train":
        return value
    if "{" in value:
        return "text#" + hashlib.sha256(value.encode()).hexdigest()[:16]
    path = Path(value)
    return f"{value}#{file_sha256(path)[:16]}" if path.is_file() else value


def make_backend(cfg: GenSettings, journal_path: Path | None = None) -> InferBackend:
    if cfg.backend in ("transformers", "vllm"):
        check_model_folder(cfg.model)
    if cfg.backend == "openai" and cfg.chat_template:
        raise ConfigError("chat_template applies to local models (transformers, vllm); a server renders "
                          "with its own (vllm serve --chat-template FILE)")
    local: Any = None
    if cfg.backend == "transformers":
        from .backends import TransformersBackend

        local = TransformersBackend(cfg.model, enable_thinking=cfg.enable_thinking, batch_size=cfg.batch_size,
                                    device=cfg.device, dtype=cfg.dtype, num_threads=cfg.num_threads)
    elif cfg.backend == "vllm":
        from .backends import VLLMBackend

        local = VLLMBackend(cfg.model, enable_thinking=cfg.enable_thinking,
                            tensor_parallel_size=cfg.tensor_parallel_size,
                            gpu_memory_utilization=cfg.gpu_memory_utilization,
                            max_model_len=cfg.max_model_len, dtype=cfg.dtype)
    if local is not None:
        if cfg.chat_template:  # both render with local.tokenizer; describe() hashes what is used
            local.tokenizer.chat_template = eval_chat_template(local.tokenizer, cfg.chat_template)
        return local
    if not cfg.base_url:
        raise ConfigError("the openai backend needs base_url (e.g. http://127.0.0.1:8000/v1)")
    from .backends import OpenAIBackend

    return OpenAIBackend(cfg.model, base_url=cfg.base_url, api_key_env=cfg.api_key_env,
                         enable_thinking=cfg.enable_thinking, concurrency=cfg.concurrency,
                         timeout_s=cfg.timeout_s, journal_path=journal_path, cache_dir=cfg.cache_dir,
                         tokenizer=cfg.tokenizer)


def resolve_benchmark(cfg: GenSettings) -> tuple[BenchmarkSpec, list[EvalItem], Path]:
    registry = load_registry(cfg.benchmarks_files)
    spec = get_benchmark(cfg.benchmark, registry, cfg.benchmark_path, release=cfg.release,
                         date_from=cfg.date_from, date_to=cfg.date_to)
    items = load_items(spec, limit=cfg.limit, slice_=cfg.slice)
    return spec, items, spec.resolved_path()


def settings_record(cfg: GenSettings, spec: BenchmarkSpec, path: Path, n_items: int) -> dict[str, Any]:
    """Everything that decides what is generated: compared on resume, copied into results."""
    return {
        "model": cfg.model,
        "backend": cfg.backend,
        "label": cfg.label or default_label(cfg.model),
        "benchmark": {"name": spec.name, "scorer": spec.scorer, "path": str(path),
                      "sha256": file_sha256(path), "slice": cfg.slice, "limit": cfg.limit,
                      "n_items": n_items, **benchmark_window(spec),
                      "prompt_template": cfg.prompt_template or spec.prompt_template,
                      "system_prompt": cfg.system_prompt if cfg.system_prompt is not None else spec.system_prompt},
        "enable_thinking": cfg.enable_thinking,
        "chat_template": _template_setting(cfg.chat_template),
        "sampling": cfg.sampling.resolved(cfg.enable_thinking).model_dump(),
        "n": cfg.n,
        "seed": cfg.seed,
        "model_files": model_fingerprint(cfg.model) if cfg.backend != "openai" else None,
    }


def model_fingerprint(model: str) -> str | None:
    """Names, sizes and modification times of a local model folder's files: a model retrained
    in place (same path) gets another fingerprint, so its old generations are not reused.
    Not a content hash: reading tens of GB on every eval would cost more than it protects."""
    folder = Path(model)
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = path.stat()
        digest.update(f"{path.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _done_keys(config: InferConfig, output: Path, meta_path: Path, settings: dict[str, Any]) -> set[tuple[str, int]]:
    """(item, sample) keys already generated without error in ``output``, after checking that
    they were made with these settings; generations of a model since changed are set aside."""
    if meta_path.exists():
        old = json.loads(meta_path.read_text())["settings"]
        diff = [k for k in settings if k != "label" and old.get(k) != settings[k]
                and not (k == "model_files" and old.get(k) is None)]  # older files: not recorded
        if diff == ["model_files"]:
            stale = _set_aside_stale(output, meta_path)  # retrained in place: start afresh
            print(f"note: {config.model} changed since {output} was generated; the old generations "
                  f"were moved to {stale}", file=sys.stderr)
            return set()
        if diff:
            raise ConfigError(f"{output} was generated with different settings ({', '.join(diff)}); "
                              "use another output file or --overwrite")
    from ..io.jsonl import repair_torn_tail

    repair_torn_tail(output)
    return {(str(row["id"]), int(row["sample"])) for _, row in iter_dicts(output) if not row.get("error")}


def _set_aside_stale(output: Path, meta_path: Path) -> Path:
    """Move generations of a model that has since changed out of the way (kept, not deleted)."""
    stale = output.with_name(output.name + ".stale")
    for path, target in ((output, stale), (meta_path, stale.with_name(stale.name + ".meta.json")),
                         (output.with_name(output.name + ".api-journal.jsonl"),
                          stale.with_name(stale.name + ".api-journal.jsonl"))):
        if path.exists():
            os.replace(path, target)
    return stale


def _split_tokens(backend: Any, out: GenOutput) -> dict[str, Any]:
    answer, thought, truncated = answer_part(out.text, out.reasoning, out.finish_reason)
    thought = thought or ""
    counter = getattr(backend, "count_tokens", None)
    t_tok = counter(thought) if counter else None
    if t_tok is not None:
        a_tok = (out.completion_tokens - t_tok) if out.completion_tokens is not None else counter(answer)
        method = "tokenizer"
    elif out.completion_tokens is not None:
        total_chars = len(thought) + len(answer)
        t_tok = round(out.completion_tokens * len(thought) / total_chars) if total_chars else 0
        a_tok = out.completion_tokens - t_tok
        method = "proportional"
    else:
        t_tok = a_tok = None
        method = None
    return {"thinking_tokens": t_tok, "answer_tokens": None if a_tok is None else max(0, a_tok),
            "token_count_method": method,
            "truncated": bool(truncated or out.finish_reason == "length")}


def run_infer(config: InferConfig, backend: InferBackend | None = None) -> InferResult:
    """Generate ``n`` samples per benchmark item into ``config.output`` (resumable).

    The openai backend's endpoint is checked (GET /models) before the first request; a
    ``backend`` passed in is used as it is. Failed generations are written with their
    ``error`` (retried on the next run) and counted in the result, not raised.
    """
    if config.model != (model := resolve_model(config.model, config.backend)):
        label = config.label or default_label(config.model.removeprefix("fixture:"))
        config = config.model_copy(update={"model": model, "label": label})
    spec, items, path = resolve_benchmark(config)
    output = Path(config.output)
    meta_path = output.with_name(output.name + ".meta.json")
    settings = settings_record(config, spec, path, len(items))
    if config.overwrite:
        output.unlink(missing_ok=True)
        output.with_name(output.name + ".api-journal.jsonl").unlink(missing_ok=True)
    done: set[tuple[str, int]] = set()
    if output.exists() and output.stat().st_size:
        done = _done_keys(config, output, meta_path, settings)
    jobs = [(item, s) for item in items for s in range(config.n) if (item.id, s) not in done]
    if config.backend == "transformers":
        # similar lengths share a batch: less padding (a stable sort keeps the order otherwise)
        jobs.sort(key=lambda job: -len(job[0].question))
    own_backend = backend is None
    started = time.monotonic()
    tally = _Tally()
    if jobs:
        backend = backend or make_backend(config, output.with_name(output.name + ".api-journal.jsonl"))
        try:
            if own_backend and hasattr(backend, "check"):
                backend.check()  # openai: unreachable / wrong model / refused key → one clear error
            _write_meta(config, spec, items, settings, backend, meta_path)
            _run_jobs(config, spec, backend, jobs, settings["label"], output, tally)
        finally:
            if own_backend:
                backend.close()
    elif not meta_path.exists():
        raise ConfigError(f"{output}: nothing to do but no {meta_path.name} beside it")
    return InferResult(output, meta_path, tally.generated, len(done), len(items) * config.n, tally.errors,
                       time.monotonic() - started, tally.tokens, tally.first_error)


@dataclass
class _Tally:
    generated: int = 0
    errors: int = 0
    tokens: int = 0
    first_error: str | None = None

    def add(self, out: GenOutput) -> None:
        self.generated += 1
        self.errors += bool(out.error)
        self.tokens += out.completion_tokens or 0
        if out.error and self.first_error is None:
            self.first_error = out.error


def _write_meta(config: InferConfig, spec: BenchmarkSpec, items: list[EvalItem], settings: dict[str, Any],
                backend: InferBackend, meta_path: Path) -> None:
    meta = {"settings": settings, "backend": backend.describe(), "versions": versions(),
            "example_messages": build_messages(spec, items[0], config.prompt_template, config.system_prompt)}
    if hasattr(backend, "render"):
        meta["example_prompt"] = backend.render(meta["example_messages"])
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(meta_path, "w") as fh:
        json.dump(meta, fh, indent=2, ensure_ascii=False)


def _chunk_size(config: InferConfig) -> int:
    if config.backend == "transformers":
        return config.batch_size
    chunk = max(config.batch_size, config.concurrency * 4)
    return max(chunk, 256) if config.backend == "vllm" else chunk


def _run_jobs(config: InferConfig, spec: BenchmarkSpec, backend: InferBackend, jobs: list[tuple[EvalItem, int]],
              label: str, output: Path, tally: _Tally) -> None:
    """Generate ``jobs`` chunk by chunk, appending one row per (item, sample) to ``output``."""
    from ..progress import Progress

    chunk = _chunk_size(config)
    sampling = config.sampling.resolved(config.enable_thinking)
    with JsonlAppender(output) as sink, Progress(len(jobs), f"infer {label}", "sample",
                                                 enabled=config.progress) as bar:
        for start in range(0, len(jobs), chunk):
            part = jobs[start:start + chunk]
            prompts = [build_messages(spec, item, config.prompt_template, config.system_prompt)
                       for item, _ in part]
            seeds = [sample_seed(config.seed, item.id, s) for item, s in part]
            if hasattr(backend, "on_progress"):  # samples done within a call (transformers: per decode step)
                backend.on_progress = lambda done, base=start: bar.set_done(base + done)
            outs = _generate(backend, prompts, sampling, seeds, [f"{i.id}#{s}" for i, s in part])
            bar.set_done(start + len(part))
            for (item, s), messages, seed, out in zip(part, prompts, seeds, outs):
                sink.write({"id": item.id, "sample": s, "benchmark": spec.name, "model": label,
                            "messages": messages, "text": out.text, "reasoning": out.reasoning,
                            "finish_reason": out.finish_reason, "prompt_tokens": out.prompt_tokens,
                            "completion_tokens": out.completion_tokens, **_split_tokens(backend, out),
                            "seed": seed, "error": out.error})
                tally.add(out)


def _generate(backend: Any, prompts: list, sampling: Sampling, seeds: list[int], keys: list[str]) -> list[GenOutput]:
    """One output per prompt, each with its own seed where the backend can honour it."""
    if getattr(backend, "name", "") == "openai":
        rows = backend.generate(prompts, sampling, 1, seeds, keys=keys)
    else:
        rows = backend.generate(prompts, sampling, 1, seeds)
    return [r[0] for r in rows]
