"""``run_train``: black-box (SFT) and white-box (top-k KD) training of a thinking student."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cpu import idle_cores
from ..errors import ConfigError, ThoughtDistillError
from .config import TrainConfig
from .data import DataStats, build_dataset, load_dataset_file
from .render import ChainCounts, TemplateChoice, check_example, resolve_template

LOG_KEYS = ("loss", "learning_rate", "grad_norm", "epoch", "kd_loss", "ce_loss", "num_tokens",
            "mean_token_accuracy", "generated_tokens", "completion_len", "stopped_share", "generate_s",
            "teacher_s", "update_s")


@dataclass
class TrainResult:
    output_dir: Path
    model_dir: Path
    examples: int
    dropped_overlength: int
    truncated_thought: int
    tokens: int
    supervised_tokens: int
    steps: int
    train_loss: float | None
    first_loss: float | None
    last_loss: float | None
    log_path: Path
    runtime_s: float
    template_source: str
    teacher_logprobs: Path | None = None
    world_size: int = 1
    distributed_type: str = "NO"
    torch_threads: int | None = None  # CPU: the threads each step ran with (idle cores at the start)
    trainable_params: int | None = None  # weights the optimiser updated (fewer with trainable_layers or LoRA)
    stats: dict[str, Any] = field(default_factory=dict)


def resolve_model_path(name_or_path: str) -> str:
    from ..models import MODEL_NAMES, ensure_model

    if name_or_path in MODEL_NAMES:
        return str(ensure_model(name_or_path))
    path = Path(name_or_path)
    if path.exists() and not (path / "config.json").exists():
        raise ConfigError(f"{path}: not a Hugging Face model folder (no config.json)")
    return name_or_path


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot load tokenizer: {exc}") from None


def _fingerprint(config: TrainConfig, template: TemplateChoice, tokenizer) -> str:
    from .teacher import tokenizer_fingerprint

    files = [(p, os.path.getsize(p), os.path.getmtime(p)) for p in config.data if os.path.exists(p)]
    keys = config.model_dump(include={"data", "chains", "max_chains_per_question", "require_thought",
                                      "system_prompt", "limit", "max_length", "overlength"})
    blob = json.dumps([files, keys, template.sha, tokenizer_fingerprint(tokenizer)], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def prepare_data(config: TrainConfig, tokenizer, template: TemplateChoice, out_dir: Path) -> tuple[Path, DataStats]:
    """Tokenised set in ``out_dir/data`` (reused when inputs and rendering are unchanged)."""
    data_dir = out_dir / "data"
    arrow, meta = data_dir / "train.arrow", data_dir / "train.stats.json"
    fp = _fingerprint(config, template, tokenizer)
    if arrow.exists() and meta.exists():
        saved = json.loads(meta.read_text())
        if saved.get("fingerprint") == fp:
            stats = DataStats(chains=ChainCounts(**saved["stats"].pop("chains")), lengths=saved["lengths"],
                              **saved["stats"])
            return arrow, stats
    stats = build_dataset(config, tokenizer, template, arrow)
    tmp = meta.with_name(meta.name + ".tmp")
    tmp.write_text(json.dumps({"fingerprint": fp, "stats": stats.summary(), "lengths": stats.lengths}))
    tmp.replace(meta)
    return arrow, stats


def check_rendering(config: TrainConfig, tokenizer, template: TemplateChoice, dataset, n: int) -> list[str]:
    """Token-level checks of the first ``n`` examples against the inference render."""
    from .render import Example

    problems: list[str] = []
    wanted = {dataset[i]["sample_id"]: dataset[i] for i in range(min(n, len(dataset)))}
    from .data import iter_conversations

    for conv in iter_conversations(config, ChainCounts()):
        row = wanted.get(conv.sample_id)
        if row is None:
            if len(wanted) == 0:
                break
            continue
        ex = Example(row["sample_id"], list(row["input_ids"]), list(row["labels"]), 0,
                     truncated_thought=False)
        # a truncated example's supervised text legitimately differs from the full turn
        ex.truncated_thought = config.overlength == "truncate_thought"
        check = check_example(tokenizer, template.template, conv, ex)
        problems += [f"{conv.sample_id}: {p}" for p in check.problems]
        del wanted[conv.sample_id]
        if not wanted:
            break
    return problems


def _bf16(config: TrainConfig) -> bool:
    import torch

    if config.bf16 == "auto":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return bool(config.bf16)


def default_store_path(config: TrainConfig) -> Path:
    kd = config.kd
    if kd.teacher_logprobs:
        return Path(kd.teacher_logprobs)
    name = Path(kd.teacher.rstrip("/")).name or "teacher"
    return Path(config.data[0] + ".topk") / f"{name}-k{kd.top_k}-L{config.max_length}"


def check_output_dir(config: TrainConfig) -> None:
    """Before anything loads: a named checkpoint exists, and a finished model is not replaced
    by accident (its checkpoints and log would go with it)."""
    out = Path(config.output_dir)
    resume = config.resume_from_checkpoint
    if isinstance(resume, str) and not Path(resume).exists():
        raise ConfigError(f"resume_from_checkpoint: {resume} not found")
    finished = any((out / "model" / name).exists() for name in ("config.json", "adapter_config.json"))
    if finished and not resume and not config.overwrite:
        raise ConfigError(f"{out}: holds a finished model; --resume continues its training, --overwrite "
                          "replaces it, or choose another output dir")
    if config.overwrite and not resume:  # a later resume must not pick up the replaced run's steps
        for old in out.glob("checkpoint-*"):
            shutil.rmtree(old, ignore_errors=True)


def _use_cpu() -> bool:
    """No GPU, or ACCELERATE_USE_CPU set: train on CPU processes."""
    import torch

    return not torch.cuda.is_available() or os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true")


def run_train(config: TrainConfig) -> TrainResult:
    """Train the student; see docs/train.md. Every input problem is raised before training."""
    started = time.time()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    state = _process_state(config)
    out = Path(config.output_dir)
    check_output_dir(config)
    student = resolve_model_path(config.student)
    tokenizer = load_tokenizer(student)
    template = resolve_template(tokenizer, config.chat_template)
    tokenizer.chat_template = template.template
    _check_teacher_tokenizer(config, tokenizer, student)
    with state.main_process_first():
        arrow, stats = prepare_data(config, tokenizer, template, out)
    dataset = load_dataset_file(arrow)
    _check_data(config, tokenizer, template, dataset, student)
    store, store_path = _teacher_store(config, tokenizer, dataset, state)

    trainer = _build_trainer(config, student, tokenizer, dataset, store)
    from ..progress import train_callback

    trainer.add_callback(train_callback(getattr(config, "progress", True)))
    resume = config.resume_from_checkpoint
    if resume is True and not any(out.glob("checkpoint-*")):
        resume = False
    train_out = trainer.train(resume_from_checkpoint=resume or None)

    model_dir = out / "model"
    log = _loss_log(trainer)
    if trainer.is_world_process_zero():
        _save_model(trainer, tokenizer, model_dir, config)
    state.wait_for_everyone()
    losses = [e["loss"] for e in log]
    result = TrainResult(
        output_dir=out,
        model_dir=model_dir,
        examples=stats.examples,
        dropped_overlength=stats.dropped_overlength,
        truncated_thought=stats.truncated_thought,
        tokens=stats.tokens,
        supervised_tokens=stats.supervised_tokens,
        steps=trainer.state.global_step,
        train_loss=getattr(train_out, "training_loss", None),
        first_loss=losses[0] if losses else None,
        last_loss=losses[-1] if losses else None,
        log_path=out / "trainer_log.json",
        runtime_s=time.time() - started,
        template_source=template.source,
        teacher_logprobs=store_path,
        world_size=trainer.accelerator.num_processes,
        distributed_type=str(trainer.accelerator.distributed_type.value),
        torch_threads=_torch_threads(state),
        trainable_params=sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        stats=stats.summary(),
    )
    if trainer.is_world_process_zero():
        _write_run_files(config, result, log, template)
    return result


def _process_state(config: TrainConfig):
    """accelerate's process state; a lone CPU process gets ``num_threads`` (or the idle cores)."""
    import torch
    from accelerate import PartialState

    # cpu=True when there is no GPU: under torchrun/accelerate launch this gives gloo DDP
    # (MULTI_CPU); PartialState() alone would make every CPU process think it is alone.
    use_cpu = _use_cpu()
    state = PartialState(cpu=use_cpu)
    if use_cpu and state.num_processes == 1:
        threads = config.num_threads or idle_cores()
        torch.set_num_threads(threads)
        print(f"[train] CPU: {threads} torch thread{'s' if threads > 1 else ''} "
              f"({'num_threads' if config.num_threads else 'the cores idle now'})", file=sys.stderr, flush=True)
    return state


def _loss_log(trainer) -> list[dict[str, Any]]:
    """The trainer's logged steps (those with a loss), the keys trainer_log.json keeps."""
    return [{"step": e["step"], **{k: e[k] for k in LOG_KEYS if k in e}}
            for e in trainer.state.log_history if "loss" in e]


def _torch_threads(state) -> int | None:
    import torch

    return torch.get_num_threads() if _use_cpu() and state.num_processes == 1 else None


def _check_teacher_tokenizer(config: TrainConfig, tokenizer, student: str) -> None:
    if config.kd is not None and config.kd.teacher:
        teacher_path = resolve_model_path(config.kd.teacher)
        teacher_tok = load_tokenizer(teacher_path)
        from .teacher import check_tokenizers_match

        check_tokenizers_match(tokenizer, teacher_tok, student, teacher_path)


def _check_data(config: TrainConfig, tokenizer, template, dataset, student: str) -> None:
    """The rendering check (and the on-policy one) on the prepared data, before training."""
    problems = check_rendering(config, tokenizer, template, dataset, config.preflight_samples)
    if problems:
        raise ThoughtDistillError("rendering check failed (run --preflight to see it): " + "; ".join(problems[:3]))
    if config.kd is not None and config.kd.mode == "on_policy":
        from .onpolicy import check_on_policy

        check_on_policy(config, tokenizer, dataset, student)


def _teacher_store(config: TrainConfig, tokenizer, dataset, state):
    """Offline KD: the teacher's top-k log-probs store (precomputed now in mode precompute),
    checked against the tokenizer, top-k and samples; (None, None) for SFT and online KD."""
    if config.kd is None or config.kd.mode in ("on_the_fly", "on_policy"):
        return None, None
    from .teacher import TopKStore, precompute_topk, tokenizer_fingerprint

    store_path = default_store_path(config)
    if config.kd.mode == "precompute":
        with state.main_process_first():
            if state.is_main_process:
                precompute_topk(dataset, resolve_model_path(config.kd.teacher), store_path,
                                config.kd.top_k, tokenizer_fingerprint(tokenizer))
    store = TopKStore(store_path)
    if store.meta["tokenizer"] != tokenizer_fingerprint(tokenizer):
        raise ConfigError(f"{store_path}: teacher log-probs were made with another tokenizer")
    if store.k != config.kd.top_k:
        raise ConfigError(f"{store_path}: store has top-{store.k}, config asks top-{config.kd.top_k}")
    missing = [sid for sid in dataset["sample_id"] if sid not in store]
    if missing:
        raise ConfigError(f"{store_path}: no teacher log-probs for {len(missing)} samples, e.g. {missing[0]}")
    return store, store_path


def _write_run_files(config: TrainConfig, result: TrainResult, log: list[dict], template) -> None:
    """trainer_log.json, train_result.json and the model card (main process only)."""
    result.log_path.write_text(json.dumps(log, indent=1))
    summary = {k: (str(v) if isinstance(v, Path) else v) for k, v in result.__dict__.items()}
    (result.output_dir / "train_result.json").write_text(json.dumps(summary, indent=1, default=str))
    (result.model_dir / "README.md").write_text(model_card(config, result, template))


def _build_trainer(config: TrainConfig, student: str, tokenizer, dataset, store):
    from transformers import AutoModelForCausalLM

    bf16 = _bf16(config)
    if config.liger:
        import importlib.util

        if importlib.util.find_spec("liger_kernel") is None:
            raise ConfigError("liger: true needs the liger-kernel package (pip install -e .[liger]; GPU only)")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    padding_free = config.batching in ("padding_free", "packing")
    kwargs: dict[str, Any] = {}
    if config.attn_implementation:
        kwargs["attn_implementation"] = config.attn_implementation
    model = _load_student(student, tokenizer, bf16, kwargs)
    if config.trainable_layers is not None:
        _freeze(model, config)
    args = _training_args(config, bf16)
    peft_config = _lora_config(config)
    train_ds = dataset if config.kd is not None else dataset.remove_columns(["sample_id"])
    if config.kd is None:
        from .sft import fused_head, sft_trainer_class

        trainer_class = sft_trainer_class(fused_head(config.fused_lm_head))
        return trainer_class(model=model, args=args, train_dataset=train_ds, processing_class=tokenizer,
                             peft_config=peft_config)
    if config.kd.mode == "on_policy":
        from .onpolicy import build_on_policy_trainer

        return build_on_policy_trainer(config, model, args, train_ds, tokenizer, peft_config, lambda path: (
            AutoModelForCausalLM.from_pretrained(resolve_model_path(path), dtype=model.dtype, **kwargs)))
    from .kd import KDCollator, KDTrainer

    teacher_model = None
    if config.kd.mode == "on_the_fly":
        teacher_model = _load_teacher(config, bf16, kwargs)
    collator = KDCollator(pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None
                          else tokenizer.eos_token_id, padding_free=padding_free, store=store)
    trainer = KDTrainer(model=model, args=args, train_dataset=train_ds, processing_class=tokenizer,
                        peft_config=peft_config, data_collator=collator, kd_settings=config.kd,
                        teacher_model=teacher_model)
    if teacher_model is not None:
        trainer.teacher_model = teacher_model.to(trainer.accelerator.device)
    return trainer


def _freeze(model, config: TrainConfig) -> None:
    from .freeze import decoder_layers, freeze_lower_layers

    trainable, total = freeze_lower_layers(model, config.trainable_layers, train_head=config.train_head,
                                           gradient_checkpointing=config.gradient_checkpointing)
    head = " and the output head" if config.train_head else ""
    print(f"[train] training the top {config.trainable_layers} of {len(decoder_layers(model))} layers{head}: "
          f"{trainable / 1e6:.1f}M of {total / 1e6:.1f}M parameters", file=sys.stderr, flush=True)


def _load_student(student: str, tokenizer, bf16: bool, kwargs: dict[str, Any]):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        student, dtype=torch.bfloat16 if bf16 else torch.float32, **kwargs
    )
    # no KV cache in training: with one, transformers skips packed-sequence (padding-free) masking
    model.config.use_cache = False
    if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
        raise ConfigError(
            f"{student}: the model has {model.get_input_embeddings().weight.shape[0]} embeddings but its "
            f"tokenizer {len(tokenizer)} tokens"
        )
    return model


def _load_teacher(config: TrainConfig, bf16: bool, kwargs: dict[str, Any]):
    """The frozen teacher of on-the-fly KD, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM

    teacher_model = AutoModelForCausalLM.from_pretrained(
        resolve_model_path(config.kd.teacher), dtype=torch.bfloat16 if bf16 else torch.float32, **kwargs
    ).eval()
    teacher_model.requires_grad_(False)
    return teacher_model


def _training_args(config: TrainConfig, bf16: bool):
    from trl import SFTConfig

    packing = config.batching == "packing"
    padding_free = config.batching in ("padding_free", "packing")
    return SFTConfig(
        output_dir=str(config.output_dir),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.per_device_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,
        lr_scheduler_type=config.lr_scheduler,
        max_grad_norm=config.max_grad_norm,
        seed=config.seed,
        logging_steps=config.logging_steps,
        save_strategy=("steps" if config.save_steps else "epoch") if config.save_checkpoints else "no",
        save_steps=config.save_steps or 500,
        save_total_limit=config.save_total_limit,
        bf16=bf16,
        activation_checkpointing=config.gradient_checkpointing,  # transformers 5's name
        use_liger_kernel=config.liger,
        packing=packing,
        packing_strategy="bfd",
        padding_free=padding_free and config.kd is None,
        max_length=config.max_length if packing else None,
        report_to=config.report_to or "none",
        dataloader_num_workers=config.dataloader_num_workers,
        remove_unused_columns=config.kd is None,
        completion_only_loss=False,
        assistant_only_loss=False,
        shuffle_dataset=False,  # the Trainer's sampler shuffles every epoch
        disable_tqdm=True,
        deepspeed=config.deepspeed,
        # without a GPU: CPU processes joined over gloo when launched with torchrun/accelerate
        use_cpu=_use_cpu(),
    )


def _lora_config(config: TrainConfig):
    if config.lora is None:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules, task_type="CAUSAL_LM",
    )


def _save_model(trainer, tokenizer, model_dir: Path, config: TrainConfig) -> None:
    model = trainer.accelerator.unwrap_model(trainer.model)
    if config.lora is not None:
        model.save_pretrained(model_dir / "adapter")
        model = model.merge_and_unload()
    model_dir.mkdir(parents=True, exist_ok=True)
    eot = tokenizer.convert_tokens_to_ids("<|im_end|>") if "<|im_end|>" in tokenizer.get_vocab() else None
    eos = sorted({i for i in (tokenizer.eos_token_id, eot) if i is not None})
    gen = model.generation_config
    gen.eos_token_id = eos[0] if len(eos) == 1 else eos
    gen.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    model.config.eos_token_id = tokenizer.eos_token_id
    model.config.use_cache = True  # for inference
    if config.lora is not None or trainer.accelerator.distributed_type.value in ("NO", "MULTI_CPU", "MULTI_GPU"):
        model.save_pretrained(model_dir, safe_serialization=True)
    else:  # DeepSpeed / FSDP: gather the full state dict through the trainer
        trainer.save_model(str(model_dir))
        gen.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    publish_modes(model_dir)


def publish_modes(folder: Path) -> None:
    """Files the savers wrote through a temporary file (model.safetensors: 0600) get the mode
    a plain open() gives, like every other file of the output."""
    from ..io.atomic import _UMASK

    for path in folder.rglob("*"):
        if path.is_file() and path.stat().st_mode & 0o777 == 0o600 and _UMASK & 0o066 != 0o066:
            os.chmod(path, 0o666 & ~_UMASK)


def model_card(config: TrainConfig, result: TrainResult, template: TemplateChoice) -> str:
    s = result.stats
    c = s.get("chains", {})
    kind = "white-box KD (teacher top-k)" if config.kd else "black-box KD (SFT on teacher chains)"
    if config.kd and config.kd.mode == "on_policy":
        kind = "on-policy KD (its own samples, graded token by token by the teacher's top-k)"
    hp = {
        "epochs": config.epochs, "max_steps": config.max_steps, "learning_rate": config.learning_rate,
        "per_device_batch_size": config.per_device_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "weight_decay": config.weight_decay, "warmup_ratio": config.warmup_ratio,
        "lr_scheduler": config.lr_scheduler, "max_length": config.max_length, "batching": config.batching,
        "gradient_checkpointing": config.gradient_checkpointing, "bf16": config.bf16, "seed": config.seed,
        "fused_lm_head": config.fused_lm_head,
        "lora": config.lora.model_dump() if config.lora else None,
        "trainable_layers": config.trainable_layers, "train_head": config.train_head,
        "kd": config.kd.model_dump() if config.kd else None,
    }
    lines = [
        "---",
        "library_name: transformers",
        "tags: [thoughtdistill, reasoning, distillation]",
        f"base_model: {config.student}",
        "---",
        "",
        f"# {Path(config.output_dir).name}",
        "",
        f"Student `{config.student}` trained by thoughtdistill with {kind}.",
        "",
        "## Data",
        *[f"- `{p}`" for p in config.data],
        "",
        "## Selection",
        f"- chains: `{config.chains}`, max per question: `{config.max_chains_per_question}`, "
        f"require thought: `{config.require_thought}`",
        f"- records read: {c.get('records')}, chains seen: {c.get('chains_seen')}, used: {c.get('used')}",
        f"- skipped: error {c.get('skipped_error')}, truncated by teacher {c.get('skipped_truncated_teacher')}, "
        f"no thought {c.get('skipped_no_thought')}, not correct {c.get('skipped_not_correct')}, "
        f"over per-question limit {c.get('skipped_limit')}",
        f"- over max_length ({config.max_length}, policy `{config.overlength}`): dropped "
        f"{result.dropped_overlength}, thought truncated {result.truncated_thought}",
        f"- training examples: {result.examples}, tokens: {result.tokens}, supervised: {result.supervised_tokens}",
        "",
        "## Format",
        f"Chat template: {template.source} (sha {template.sha}); assistant turns are "
        "`<think>\\n…\\n</think>\\n\\n` + solution; loss on assistant tokens and the end-of-turn token only.",
        "",
        "## Hyper-parameters",
        "```json",
        json.dumps(hp, indent=1, default=str),
        "```",
        "",
        "## Training",
        f"- processes: {result.world_size} ({result.distributed_type}); effective batch "
        f"{config.per_device_batch_size * config.gradient_accumulation_steps * result.world_size} sequences",
        f"- optimiser steps: {result.steps}, first logged loss: {result.first_loss}, last: {result.last_loss}",
        f"- loss log: `trainer_log.json` in the run folder; runtime {result.runtime_s:.0f} s",
        "",
    ]
    return "\n".join(lines)
