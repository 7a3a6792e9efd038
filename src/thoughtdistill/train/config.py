"""Typed configuration of ``thoughtdistill train``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..config import StageConfig
from .onpolicy_config import OnPolicySettings


class LoraSettings(StageConfig):
    """LoRA through peft; ``None`` in :class:`TrainConfig` means full fine-tuning."""

    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | str = "all-linear"


class KDSettings(StageConfig):
    """White-box distillation: the student also matches the teacher's top-k next-token distribution.

    ``teacher_logprobs`` is a store written by :func:`thoughtdistill.train.teacher.precompute_topk`
    (or by this run when ``mode='precompute'``); with ``mode='on_the_fly'`` the teacher model
    runs beside the student on every batch.
    """

    teacher: str | None = Field(None, description="teacher HF folder (needed to precompute or on the fly)")
    mode: Literal["precompute", "on_the_fly", "stored", "on_policy"] = "precompute"
    teacher_logprobs: str | None = Field(
        None, description="top-k store folder; default <data>.topk/<teacher folder name>"
    )
    top_k: int = Field(20, ge=1, le=1024)
    loss: Literal["forward_kl", "reverse_kl", "jsd"] = "forward_kl"
    alpha: float = Field(0.5, ge=0, le=1, description="loss = (1-alpha)*CE + alpha*KD (EasyDistill kd_ratio)")
    temperature: float = Field(1.0, gt=0)
    jsd_beta: float = Field(0.5, gt=0, lt=1)
    teacher_batch_size: int = Field(1, ge=1)
    on_policy: OnPolicySettings | None = Field(None, description="mode on_policy: student sampling, served "
                                               "teacher, SFT mix (None: the defaults)")


class TrainConfig(StageConfig):
    # data
    data: list[str] = Field(description="canonical JSONL file(s) of selected records")
    student: str = Field(description="student HF folder, or a fixture name ('smollm2', 'tiny-qwen3')")
    output_dir: str
    chains: Literal["all", "first", "correct"] = "all"
    max_chains_per_question: int | None = Field(None, ge=1)
    require_thought: bool = True
    system_prompt: str | None = None
    limit: int | None = Field(None, ge=1, description="use at most this many samples (tests, smoke runs)")
    # rendering
    chat_template: str | None = Field(
        None, description="jinja file or text; default: the student's own if it has {% generation %} markers, "
        "else the Qwen3 thinking template for ChatML/Qwen3 tokenizers"
    )
    max_length: int = Field(8192, ge=8)
    overlength: Literal["drop", "truncate_thought"] = "drop"
    # optimisation
    epochs: float = Field(3.0, gt=0)
    max_steps: int = -1
    learning_rate: float = Field(5e-5, gt=0)
    per_device_batch_size: int = Field(1, ge=1)
    gradient_accumulation_steps: int = Field(8, ge=1)
    weight_decay: float = Field(0.05, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    lr_scheduler: str = "cosine"
    max_grad_norm: float = 1.0
    seed: int = 42
    # speed and memory
    batching: Literal["padded", "padding_free", "packing"] = "padding_free"
    gradient_checkpointing: bool = False
    bf16: bool | Literal["auto"] = "auto"
    attn_implementation: str | None = "sdpa"
    liger: bool = False
    num_threads: int | None = Field(None, ge=1, description="CPU training, one process: torch threads "
                                    "(default: the cores idle right now, at least 1)")
    lora: LoraSettings | None = None
    deepspeed: str | None = Field(None, description="DeepSpeed JSON for torchrun/deepspeed launches "
                                  "(with accelerate launch, name it in the accelerate config instead)")
    # checkpoints and logging
    logging_steps: int = Field(1, ge=1)
    save_steps: int | None = Field(None, ge=1, description="checkpoint every N steps; None = at the end only")
    save_total_limit: int | None = 2
    save_checkpoints: bool = Field(True, description="False: no checkpoints (no resume), only the final model")
    resume_from_checkpoint: bool | str = False
    overwrite: bool = Field(False, description="replace a finished model in output_dir (else: refused)")
    dataloader_num_workers: int = 0
    report_to: list[str] = Field(default_factory=list)
    # white-box
    kd: KDSettings | None = None
    # preflight
    preflight_samples: int = Field(3, ge=1)

    @field_validator("data", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        value = [value] if isinstance(value, (str, Path)) else value
        return [str(v) if isinstance(v, Path) else v for v in value] if isinstance(value, list) else value

    @field_validator("data")
    @classmethod
    def _some_data(cls, value):
        if not value:
            raise ValueError("at least one data file is needed")
        return [str(v) for v in value]

    @model_validator(mode="after")
    def _kd_needs(self) -> "TrainConfig":
        kd = self.kd
        if kd is not None:
            if kd.mode in ("precompute", "on_the_fly") and not kd.teacher:
                raise ValueError(f"kd.mode={kd.mode!r} needs kd.teacher (a teacher HF folder)")
            if kd.mode == "on_policy" and not (kd.teacher or (kd.on_policy and kd.on_policy.teacher_endpoint)):
                raise ValueError("kd.mode='on_policy' needs kd.teacher (HF folder) or kd.on_policy.teacher_endpoint")
            if kd.mode == "stored" and not kd.teacher_logprobs:
                raise ValueError("kd.mode='stored' needs kd.teacher_logprobs (a top-k store folder)")
            if self.batching == "packing":
                raise ValueError("white-box KD supports batching 'padded' or 'padding_free', not 'packing'")
        return self
