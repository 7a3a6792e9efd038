"""Typed configuration of ``thoughtdistill train``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..config import StageConfig
from ..stage_io import IOPath, NoEffectPath, StageFile, files, looks_like_file
from .onpolicy_config import OnPolicySettings


class LoraSettings(StageConfig):
    """LoRA through peft; ``None`` in :class:`TrainConfig` means full fine-tuning."""

    r: int = Field(16, ge=1, description="LoRA rank")
    alpha: int = Field(32, ge=1, description="LoRA scaling alpha")
    dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout")
    target_modules: list[str] | str = Field("all-linear", description="modules to adapt (peft target_modules)")


class KDSettings(StageConfig):
    """White-box distillation: the student also matches the teacher's top-k next-token distribution.

    ``teacher_logprobs`` is a store written by :func:`thoughtdistill.train.teacher.precompute_topk`
    (or by this run when ``mode='precompute'``); with ``mode='on_the_fly'`` the teacher model
    runs beside the student on every batch.
    """

    teacher: IOPath[str | None] = Field(None, description="teacher HF folder (needed to precompute or on the fly)")
    mode: Literal["precompute", "on_the_fly", "stored", "on_policy"] = Field(
        "precompute", description="where the teacher's distributions come from")
    teacher_logprobs: IOPath[str | None] = Field(
        None, description="top-k store folder; default <data>.topk/<teacher folder name>"
    )
    top_k: int = Field(20, ge=1, le=1024, description="teacher tokens kept per position")
    loss: Literal["forward_kl", "reverse_kl", "jsd"] = Field("forward_kl", description="distillation loss")
    alpha: float = Field(0.5, ge=0, le=1, description="loss = (1-alpha)*CE + alpha*KD (EasyDistill kd_ratio)")
    temperature: float = Field(1.0, gt=0, description="softmax temperature of both distributions")
    jsd_beta: float = Field(0.5, gt=0, lt=1, description="loss jsd: the mixture weight")
    teacher_batch_size: int = Field(1, ge=1, description="sequences per teacher forward pass")
    on_policy: OnPolicySettings | None = Field(None, description="mode on_policy: student sampling, served "
                                               "teacher, SFT mix (None: the defaults)")


class TrainConfig(StageConfig):
    # data
    data: IOPath[list[str]] = Field(description="canonical JSONL file(s) of selected records")
    student: IOPath[str] = Field(description="student HF folder, or a fixture name ('smollm2', 'tiny-qwen3')")
    output_dir: IOPath[str] = Field(description="run folder: the trained model goes to <dir>/model, logs beside it")
    chains: Literal["all", "first", "correct"] = Field("all", description="which chains of a record to train on: all, first "
                                                         "(one per question), correct (verdict true)")
    max_chains_per_question: int | None = Field(None, ge=1, description="chains per record at most")
    require_thought: bool = Field(True, description="skip chains without a thought")
    system_prompt: str | None = Field(None, description="system turn of every conversation")
    limit: int | None = Field(None, ge=1, description="use at most this many samples (tests, smoke runs)")
    # rendering
    chat_template: IOPath[str | None] = Field(
        None, description="jinja file or text; default: the student's own if it has {% generation %} markers, "
        "else the Qwen3 thinking template for ChatML/Qwen3 tokenizers"
    )
    max_length: int = Field(8192, ge=8, description="max tokens per rendered conversation (longer ones follow "
                            "overlength)")
    overlength: Literal["drop", "truncate_thought"] = Field("drop", description="what an over-long "
                                                            "conversation does")
    # optimisation
    epochs: float = Field(3.0, gt=0, description="passes over the data")
    max_steps: int = Field(-1, description="stop after this many optimiser steps (overrides epochs; -1: off)")
    learning_rate: float = Field(5e-5, gt=0, description="peak learning rate")
    per_device_batch_size: int = Field(1, ge=1, description="sequences per device per micro-batch (effective "
                                       "batch = this x gradient_accumulation_steps x processes)")
    gradient_accumulation_steps: int = Field(8, ge=1, description="micro-batches per optimiser step")
    weight_decay: float = Field(0.05, ge=0, description="AdamW weight decay")
    warmup_ratio: float = Field(0.1, ge=0, le=1, description="share of the steps spent warming up")
    lr_scheduler: str = Field("cosine", description="transformers scheduler name")
    max_grad_norm: float = Field(1.0, description="gradient clipping norm")
    seed: int = Field(42, description="seed for data order and initialisation")
    # speed and memory
    batching: Literal["padded", "padding_free", "packing"] = Field("padding_free", description="how micro-batches "
                                                                   "are laid out (packing: best-fit decreasing)")
    gradient_checkpointing: bool = Field(False, description="recompute activations (less memory, "
                                         "slower; use on long chains)")
    bf16: bool | Literal["auto"] = Field("auto", description="bfloat16 training (auto: where the GPU "
                                         "supports it; fp32 on CPU)")
    attn_implementation: str | None = Field("sdpa", description="attention kernel: sdpa, eager; on GPU "
                                                "flash_attention_2 or kernels-community/flash-attn")
    fused_lm_head: bool | Literal["auto"] = Field("auto", description="SFT: TRL's chunked LM head (no "
                                                  "[tokens x vocab] logits in memory; its backward recomputes "
                                                  "them, ~30% slower a step on CPU); auto: on GPU only")
    liger: bool = Field(False, description="Liger kernels (GPU; pip install liger-kernel, extra liger)")
    num_threads: int | None = Field(None, ge=1, description="CPU training, one process: torch threads "
                                    "(default: the cores idle right now, at least 1)")
    lora: LoraSettings | None = Field(None, description="LoRA through peft (None: full fine-tuning)")
    trainable_layers: int | None = Field(None, ge=1, description="train only the top N decoder layers, the "
                                         "final norm and (train_head) the output head; the layers below stay "
                                         "frozen (None: every weight learns)")
    train_head: bool = Field(True, description="with trainable_layers: the output head learns too (tied to the "
                             "input embeddings in SmolLM2 and small Qwen3: then backward still runs through the "
                             "frozen layers, without their weight gradients); false: backward stops at the "
                             "lowest trained layer")
    deepspeed: IOPath[str | None] = Field(None, description="DeepSpeed JSON for torchrun/deepspeed launches "
                                  "(with accelerate launch, name it in the accelerate config instead)")
    # checkpoints and logging
    logging_steps: int = Field(1, ge=1, description="log every N steps")
    save_steps: int | None = Field(None, ge=1, description="checkpoint every N steps; None = at the end only")
    save_total_limit: int | None = Field(2, description="checkpoints kept")
    save_checkpoints: bool = Field(True, description="False: no checkpoints (no resume), only the final model")
    resume_from_checkpoint: NoEffectPath[bool | str] = Field(False, description="true: resume from the last "
                                                             "checkpoint-* in output_dir (no-op if none); or a "
                                                             "checkpoint folder")
    overwrite: bool = Field(False, description="replace a finished model in output_dir (else: refused)")
    dataloader_num_workers: int = Field(0, description="data loader worker processes")
    report_to: list[str] = Field(default_factory=list, description="transformers loggers (tensorboard, wandb...)")
    # white-box
    kd: KDSettings | None = Field(None, description="white-box KD (None: SFT)")
    # preflight
    preflight_samples: int = Field(3, ge=1, description="samples --preflight renders")

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
    def _one_way_to_tune(self) -> "TrainConfig":
        if self.lora is not None and self.trainable_layers is not None:
            raise ValueError("trainable_layers and lora are two ways to train part of the model: choose one")
        return self

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

    def inputs(self) -> list[StageFile]:
        out = files(self, "data") + files(self, "student", "kd.teacher", kind="model") + files(self, "deepspeed")
        if self.chat_template and looks_like_file(self.chat_template):  # else the template's text
            out += files(self, "chat_template")
        if self.kd is not None and self.kd.mode == "stored":
            out += files(self, "kd.teacher_logprobs", kind="folder")
        return out

    def outputs(self) -> list[StageFile]:
        out = files(self, "output_dir", kind="folder")
        if self.kd is not None and self.kd.mode != "stored":  # precomputed by this run
            out += files(self, "kd.teacher_logprobs", kind="folder")
        return out
