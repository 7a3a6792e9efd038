"""EasyDistill 1.x job configs (``{"job_type": ..., "dataset": ..., "inference": ...}``) mapped
onto thoughtdistill stages, so ``thoughtdistill run --config job.json`` runs them unchanged.

| job_type | stages |
|---|---|
| cot_generation_api / _batch | prepare → generate → easydistill_export (generation) |
| cot_eval_api | prepare → judge (EasyDistill's prompts from eval.prompts_file) → easydistill_export (eval) |
| cot_long2short_* / cot_short2long_* | prepare (rewrite requests) → generate → export (rewrite) |
| kd_black_box_api / _local | prepare → generate (labels) → export (labeled_path) → train |
| kd_black_box_train_only | prepare (labeled_path) → train |
| kd_white_box | prepare → generate (local teacher) → export → train (white-box KD) |
| kd_white_box_train_only(_multi) | prepare (labeled_path) → train (white-box KD) |

``*_api`` jobs call ``inference.base_url``; ``*_batch`` / ``*_local`` / white-box jobs serve
``models.teacher`` on this machine (vLLM when installed with a GPU, else transformers through
llm-katan) and call it like an endpoint. Input and output files keep EasyDistill's formats
(JSON arrays of ``{"instruction", "output"}``; eval adds ``reasoning_verbosity``,
``cognitive_difficulty``, ``logical_correctness``); the canonical records of every stage stay
in the run directory.

The API key: ``inference.api_key`` may be ``"env:NAME"`` / ``"$NAME"`` (preferred), or a literal
key, which is moved into this process's environment (``THOUGHTDISTILL_EASYDISTILL_API_KEY``)
and never written to the run directory, logs or outputs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx

from ..errors import ConfigError
from .recipe import Recipe, ServerSpec, StageSpec

KEY_ENV = "THOUGHTDISTILL_EASYDISTILL_API_KEY"

JOB_TYPES = (
    "cot_generation_api", "cot_generation_batch", "cot_eval_api",
    "cot_long2short_api", "cot_long2short_batch", "cot_short2long_api", "cot_short2long_batch",
    "kd_black_box_api", "kd_black_box_local", "kd_black_box_train_only",
    "kd_white_box", "kd_white_box_local", "kd_white_box_train_only", "kd_white_box_train_only_multi",
)
OUT_OF_SCOPE = ("instruction_", "rank_", "rl_", "mmkd_", "agentkd_", "cot_eval_batch")

# Every field EasyDistill 1.x reads, per section; anything else is reported as unknown.
KNOWN = {
    "": {"job_type", "dataset", "inference", "models", "training", "distillation",
         "eval"},  # thoughtdistill extension: eval.prompts_file, EasyDistill 2's name for the judge prompts
    "dataset": {"input_path", "output_path", "template", "instruction_path", "labeled_path",
                "logits_path", "seed"},
    "inference": {"base_url", "api_key", "stream", "prompt", "system_prompt", "max_new_tokens",
                  "enable_chunked_prefill", "seed", "gpu_memory_utilization", "temperature",
                  "trust_remote_code", "enforce_eager", "max_model_len", "top_logits_num",
                  # thoughtdistill extensions
                  "model", "api_key_env", "concurrency", "n"},
    "models": {"teacher", "student"},
    "training": {"output_dir", "num_train_epochs", "per_device_train_batch_size",
                 "gradient_accumulation_steps", "max_length", "save_steps", "logging_steps",
                 "learning_rate", "weight_decay", "warmup_ratio", "lr_scheduler_type",
                 # thoughtdistill extension
                 "max_steps"},
    "distillation": {"kd_ratio", "max_seq_length", "distillation_type"},
    "eval": {"prompts_file"},
}
VLLM_ONLY = {"enable_chunked_prefill", "gpu_memory_utilization", "enforce_eager", "trust_remote_code",
             "max_model_len"}
KD_LOSS = {"forward_kld": "forward_kl", "fkl": "forward_kl", "kld": "forward_kl", "forward_kl": "forward_kl",
           "reverse_kld": "reverse_kl", "rkl": "reverse_kl", "reverse_kl": "reverse_kl", "jsd": "jsd"}


def read_easydistill(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: EasyDistill config not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or "job_type" not in data:
        raise ConfigError(f"{path}: not an EasyDistill config (no job_type)")
    return data


def is_easydistill(path: str | Path) -> bool:
    path = Path(path)
    if path.suffix != ".json" or not path.exists():
        return False
    try:
        return "job_type" in json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return False


def unknown_fields(config: dict[str, Any]) -> list[str]:
    out = [k for k in config if k not in KNOWN[""]]
    for section in ("dataset", "inference", "models", "training", "distillation", "eval"):
        value = config.get(section)
        if isinstance(value, dict):
            out += [f"{section}.{k}" for k in value if k not in KNOWN[section]]
    return out


def redacted(config: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(config))
    inf = out.get("inference")
    if isinstance(inf, dict) and "api_key" in inf and not _key_ref(inf["api_key"]):
        inf["api_key"] = "<redacted>"
    return out


def _key_ref(value: Any) -> str | None:
    if isinstance(value, str):
        if value.startswith("env:"):
            return value[4:]
        if value.startswith("$"):
            return value[1:].strip("{}")
    return None


def _discover_model(base_url: str, key: str | None) -> str:
    headers = {"Authorization": f"Bearer {key or 'no-key'}"}
    try:
        resp = httpx.get(base_url.rstrip("/") + "/models", headers=headers, timeout=15)
        resp.raise_for_status()
        return resp.json()["data"][0]["id"]
    except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"inference.base_url {base_url}: cannot list its models to pick one "
            f"({type(exc).__name__}); set inference.model") from None


def _api_endpoint(inf: dict[str, Any], dry_run: bool, warnings: list[str]) -> dict[str, Any]:
    base_url = inf.get("base_url")
    if not base_url:
        raise ConfigError("inference.base_url is required for an *_api job")
    key_env = inf.get("api_key_env")
    key = None
    if key_env is None and "api_key" in inf:
        ref = _key_ref(inf["api_key"])
        if ref:
            key_env = ref
        else:
            # Literal key from the file: keep it in this process's environment only.
            os.environ[KEY_ENV] = str(inf["api_key"])
            key_env = KEY_ENV
            warnings.append("inference.api_key: the key is read from the config file; prefer "
                            "\"api_key\": \"env:NAME\" with the key in an environment variable "
                            "(it is never written to the run directory or logs either way)")
    if key_env:
        key = os.environ.get(key_env)
    model = inf.get("model") or ("served-model" if dry_run else _discover_model(base_url, key))
    return {"name": "teacher", "base_url": base_url, "model": model, "api_key_env": key_env,
            "stream": bool(inf.get("stream", False)), "concurrency": _number(inf, "inference", "concurrency", int, 16),
            **_sampling(inf)}


def _number(section: dict[str, Any], where: str, key: str, kind: type = int, default: Any = None) -> Any:
    """``section[key]`` as an int or float; a clear error naming ``where.key`` otherwise."""
    value = section.get(key, default)
    if value is None:
        return None
    try:
        if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise ConfigError(f"{where}.{key}: expected {what}, got {value!r}") from None


def _sampling(inf: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if inf.get("max_new_tokens"):
        out["max_tokens"] = _number(inf, "inference", "max_new_tokens")
    if inf.get("temperature") is not None:
        out["temperature"] = _number(inf, "inference", "temperature", float)
    if inf.get("seed") is not None:
        out["seed"] = _number(inf, "inference", "seed")
    return out


def _local_server(config: dict[str, Any], inf: dict[str, Any], backend: str) -> ServerSpec:
    teacher = (config.get("models") or {}).get("teacher")
    if isinstance(teacher, list):
        teacher = teacher[0]
    if not teacher:
        raise ConfigError(f"{config['job_type']}: models.teacher (a local model folder) is required")
    extra: list[str] = []
    if inf.get("max_model_len"):
        extra += ["--max-model-len", str(inf["max_model_len"])]
    if inf.get("gpu_memory_utilization"):
        extra += ["--gpu-memory-utilization", str(inf["gpu_memory_utilization"])]
    if inf.get("enforce_eager"):
        extra.append("--enforce-eager")
    if inf.get("trust_remote_code"):
        extra.append("--trust-remote-code")
    if inf.get("enable_chunked_prefill"):
        extra.append("--enable-chunked-prefill")
    chosen = backend
    if backend == "auto":
        from .servers import pick_backend

        chosen = pick_backend(ServerSpec(model=str(teacher), backend="auto"))
    return ServerSpec(model=str(teacher), backend=chosen, served_name="teacher",
                      max_tokens=_number(inf, "inference", "max_new_tokens") or 512,
                      max_concurrent=_number(inf, "inference", "concurrency", int, 4),
                      extra_args=extra if chosen == "vllm" else [])


def _local_endpoint(inf: dict[str, Any]) -> dict[str, Any]:
    return {"name": "teacher", "base_url": "${servers.teacher.base_url}", "model": "${servers.teacher.model}",
            "api_key_env": "${servers.teacher.api_key_env}", "concurrency": _number(inf, "inference", "concurrency", int, 4),
            **_sampling(inf)}


def _train_config(config: dict[str, Any], data: str, white_box: bool, warnings: list[str]) -> dict[str, Any]:
    tr = config.get("training") or {}
    models = config.get("models") or {}
    if not models.get("student"):
        raise ConfigError(f"{config['job_type']}: models.student is required")
    out: dict[str, Any] = {
        "data": [data], "student": models["student"],
        "output_dir": tr.get("output_dir") or "${stage_dir}/student",
        "require_thought": False, "chains": "all",
    }
    mapping = {"num_train_epochs": "epochs", "per_device_train_batch_size": "per_device_batch_size",
               "gradient_accumulation_steps": "gradient_accumulation_steps", "max_length": "max_length",
               "save_steps": "save_steps", "logging_steps": "logging_steps", "learning_rate": "learning_rate",
               "weight_decay": "weight_decay", "warmup_ratio": "warmup_ratio", "lr_scheduler_type": "lr_scheduler",
               "max_steps": "max_steps"}
    for src, dst in mapping.items():
        if tr.get(src) is not None:
            out[dst] = tr[src]
    ds = config.get("dataset") or {}
    if ds.get("seed") is not None:
        out["seed"] = ds["seed"]
    if ds.get("template"):
        warnings.append(f"dataset.template ({ds['template']}): EasyDistill's hand-written KD template is not "
                        "used; the student is trained in its own chat template (Qwen3 thinking format "
                        "where it has none), with loss on assistant tokens only")
    if white_box:
        dist = config.get("distillation") or {}
        teacher = models.get("teacher")
        if isinstance(teacher, list):
            if len(teacher) > 1:
                warnings.append(f"models.teacher: {len(teacher)} teachers given; white-box KD here uses one "
                                f"teacher, the first ({teacher[0]})")
            teacher = teacher[0]
        if not teacher:
            raise ConfigError(f"{config['job_type']}: models.teacher is required for white-box KD")
        kd: dict[str, Any] = {"teacher": teacher, "mode": "precompute",
                              "teacher_logprobs": "${stage_dir}/teacher_topk"}
        if dist.get("kd_ratio") is not None:
            kd["alpha"] = dist["kd_ratio"]
        if dist.get("distillation_type"):
            loss = KD_LOSS.get(str(dist["distillation_type"]).lower())
            if loss is None:
                raise ConfigError(f"distillation.distillation_type {dist['distillation_type']!r}: "
                                  f"supported: {', '.join(sorted(KD_LOSS))}")
            kd["loss"] = loss
        if (config.get("inference") or {}).get("top_logits_num"):
            kd["top_k"] = _number(config["inference"], "inference", "top_logits_num")
        if dist.get("max_seq_length"):
            longest = _number(dist, "distillation", "max_seq_length")
            out["max_length"] = min(longest, _number(out, "training", "max_length", int, 1 << 30))
        if ds.get("logits_path"):
            warnings.append("dataset.logits_path: EasyDistill's logits files are not read; the teacher's "
                            "top-k log-probs are recomputed from models.teacher into the run directory")
        out["kd"] = kd
        out["batching"] = "padded"
    return out


def easydistill_recipe(path: str | Path, *, dry_run: bool = False, backend: str = "auto",
                       log=None) -> tuple[Recipe, list[str]]:
    """The recipe an EasyDistill config means, and the warnings (unknown fields…)."""
    config = read_easydistill(path)
    try:
        return _recipe(config, path, dry_run, backend)
    except ConfigError as exc:
        unknown = unknown_fields(config)
        hint = f" (unknown fields, a typo?: {', '.join(unknown)})" if unknown else ""
        raise ConfigError(f"{path}: {exc}{hint}") from None


def _check_job(config: dict[str, Any]) -> tuple[str, list[str]]:
    """The job type (refused when out of scope or unknown) and the first warnings."""
    job = str(config["job_type"])
    warnings: list[str] = []
    if job not in JOB_TYPES:
        if job.startswith(OUT_OF_SCOPE):
            raise ConfigError(f"job_type {job!r} is not supported by thoughtdistill (it covers CoT generation, "
                              f"evaluation, rewriting and KD: {', '.join(JOB_TYPES)})")
        raise ConfigError(f"unknown EasyDistill job_type {job!r}; supported: {', '.join(JOB_TYPES)}")
    unknown = unknown_fields(config)
    if unknown:
        warnings.append(f"unknown EasyDistill fields ignored: {', '.join(unknown)}")
    return job, warnings


def _teacher(job: str, config: dict[str, Any], dry_run: bool, backend: str,
             warnings: list[str]) -> tuple[dict[str, ServerSpec], dict[str, Any] | None]:
    """(local servers, the teacher endpoint): an API, a local teacher server, or none (train only)."""
    ds = config.get("dataset") or {}
    inf = config.get("inference") or {}
    if job.endswith("_api"):
        ignored = sorted(k for k in VLLM_ONLY if k in inf)
        if ignored:
            warnings.append(f"inference fields for a local vLLM have no effect on an API job: {', '.join(ignored)}")
        return {}, _api_endpoint(inf, dry_run, warnings)
    if job.endswith(("_batch", "_local")) or job == "kd_white_box":
        if ds.get("template") and not job.startswith("kd_"):
            warnings.append(f"dataset.template ({ds['template']}): the local teacher renders prompts with "
                            "its own chat template (EasyDistill's hand-written template is not used)")
        return {"teacher": _local_server(config, inf, backend)}, _local_endpoint(inf)
    return {}, None


def _need(job: str, section: dict[str, Any], key: str, where: str) -> str:
    if not section.get(key):
        raise ConfigError(f"{job}: {where}.{key} is required")
    return str(section[key])


def _prepare(source: str, output: str, **options: Any) -> StageSpec:
    return StageSpec(name="prepare", config={"sources": [{"path": source, "format": "easydistill"}],
                                             "output": f"${{stage_dir}}/{output}", **options})


def _export(data: str, output: str, fmt: str) -> StageSpec:
    return StageSpec(name="export", uses="easydistill_export", config={"input": data, "output": output, "format": fmt})


def _generate(data: str, endpoint: Any, n: int, **prompt: Any) -> StageSpec:
    return StageSpec(name="generate", config={"input": data, "output": "${stage_dir}/chains.jsonl",
                                              "teachers": [endpoint], "n": n, "prompt": "plain", **prompt})


QUESTIONS = "${stages.prepare.dir}/questions.jsonl"
CHAINS = "${stages.generate.dir}/chains.jsonl"


def _generation_stages(job: str, ds: dict[str, Any], inf: dict[str, Any], endpoint: Any, n: int) -> list[StageSpec]:
    prompt = inf.get("prompt")
    return [
        _prepare(_need(job, ds, "input_path", "dataset"), "questions.jsonl", keep_chains=False),
        _generate(QUESTIONS, endpoint, n, user_template=f"{prompt}\n{{question}}" if prompt else "{question}"),
        _export(CHAINS, _need(job, ds, "output_path", "dataset"), "generation")]


def _eval_stages(job: str, config: dict[str, Any], endpoint: Any, warnings: list[str]) -> list[StageSpec]:
    ds = config.get("dataset") or {}
    judge = {k: v for k, v in endpoint.items() if k not in ("temperature", "seed")}
    judge["name"] = "judge"
    prompts = (config.get("eval") or {}).get("prompts_file")
    if not prompts:
        warnings.append("cot_eval_api: no eval.prompts_file (EasyDistill's configs/prompts/"
                        "default_cot_eval_prompts.yaml), so the judge uses thoughtdistill's own rubric")
    rubric = {"rubric": "easydistill", "rubric_file": str(prompts)} if prompts else {"rubric": "thoughtdistill"}
    return [
        _prepare(_need(job, ds, "input_path", "dataset"), "chains.jsonl", keep_chains=True),
        StageSpec(name="judge", config={
            "input": "${stages.prepare.dir}/chains.jsonl", "output": "${stage_dir}/annotated.jsonl",
            "judges": [judge], **rubric}),
        _export("${stages.judge.dir}/annotated.jsonl", _need(job, ds, "output_path", "dataset"), "eval")]


def _rewrite_stages(job: str, ds: dict[str, Any], inf: dict[str, Any], endpoint: Any) -> list[StageSpec]:
    direction = "long2short" if "long2short" in job else "short2long"
    return [
        _prepare(_need(job, ds, "input_path", "dataset"), "requests.jsonl",
                 rewrite={"direction": direction, "prompt": _need(job, inf, "prompt", "inference")}),
        _generate("${stages.prepare.dir}/requests.jsonl", endpoint, 1),
        _export(CHAINS, _need(job, ds, "output_path", "dataset"), "rewrite")]


def _kd_stages(job: str, config: dict[str, Any], endpoint: Any, n: int, warnings: list[str]) -> list[StageSpec]:
    ds = config.get("dataset") or {}
    inf = config.get("inference") or {}
    white_box = job.startswith("kd_white_box")
    if endpoint is None:  # *_train_only: the labeled data is given
        return [_prepare(_need(job, ds, "labeled_path", "dataset"), "labeled.jsonl", keep_chains=True),
                StageSpec(name="train", config=_train_config(
                    config, "${stages.prepare.dir}/labeled.jsonl", white_box=white_box, warnings=warnings))]
    return [
        _prepare(_need(job, ds, "instruction_path", "dataset"), "questions.jsonl", keep_chains=False),
        _generate(QUESTIONS, endpoint, n, system_prompt=inf.get("system_prompt") or None),
        _export(CHAINS, _need(job, ds, "labeled_path", "dataset"), "labeled"),
        StageSpec(name="train", config=_train_config(config, CHAINS, white_box=white_box, warnings=warnings))]


def _recipe(config: dict[str, Any], path: str | Path, dry_run: bool, backend: str) -> tuple[Recipe, list[str]]:
    job, warnings = _check_job(config)
    servers, endpoint = _teacher(job, config, dry_run, backend, warnings)
    ds = config.get("dataset") or {}
    inf = config.get("inference") or {}
    n = _number(inf, "inference", "n", int, 1)
    if job in ("cot_generation_api", "cot_generation_batch"):
        stages = _generation_stages(job, ds, inf, endpoint, n)
    elif job == "cot_eval_api":
        stages = _eval_stages(job, config, endpoint, warnings)
    elif job.startswith(("cot_long2short", "cot_short2long")):
        stages = _rewrite_stages(job, ds, inf, endpoint)
    else:  # kd_*: black box / white box, with a teacher or train only
        stages = _kd_stages(job, config, endpoint, n, warnings)
    stages.append(StageSpec(name="report", config={"run_dir": "${run_dir}", "output_dir": "${stage_dir}",
                                                   "title": f"EasyDistill {job}"}))
    name = Path(path).stem
    recipe = Recipe(name=f"easydistill-{name}", description=f"EasyDistill {job} job from {path}",
                    run_dir=f"runs/easydistill-{name}", servers=servers, stages=stages)
    return recipe, warnings


def run_easydistill(path: str | Path, run_dir: str | Path | None = None, *, dry_run: bool = False,
                    backend: str = "auto", log=None, **kwargs):
    """Map and run an EasyDistill config; the run directory gets a redacted copy of it."""
    from .runner import _stderr, run_pipeline

    log = log or _stderr
    recipe, warnings = easydistill_recipe(path, dry_run=dry_run, backend=backend, log=log)
    for w in warnings:
        log(f"warning: {w}")
    run_dir = Path(run_dir or recipe.run_dir)
    if not dry_run:
        run_dir.mkdir(parents=True, exist_ok=True)
        from ..io.atomic import atomic_open

        with atomic_open(run_dir / "easydistill.config.json") as fh:
            json.dump(redacted(read_easydistill(path)), fh, indent=2, ensure_ascii=False)
    result = run_pipeline(recipe, run_dir, dry_run=dry_run, log=log, **kwargs)
    result.warnings = warnings + result.warnings
    result.warnings_logged = len(warnings)
    return result
