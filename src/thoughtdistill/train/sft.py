"""The SFT trainer: TRL's, with the model's own loss where TRL's fused LM head costs more than it
saves."""

from __future__ import annotations

from typing import Any


def fused_head(setting: bool | str) -> bool:
    """``fused_lm_head: auto`` means on a GPU (memory is what it saves), off on CPU (time is what it costs)."""
    if setting == "auto":
        import torch

        return torch.cuda.is_available()
    return bool(setting)


def sft_trainer_class(fused_lm_head: bool) -> Any:
    from trl import SFTTrainer

    if fused_lm_head:
        return SFTTrainer
    from transformers import Trainer

    class PlainLossSFTTrainer(SFTTrainer):
        """TRL's SFTTrainer scoring with the model's own cross-entropy: the [tokens x vocab] logits
        are held in memory and computed once. TRL 1.16 always scores through its chunked LM head,
        whose backward recomputes the logits (there is no switch for it): on 2 CPU cores, SmolLM2
        with 8 x 256 tokens, a step took 28.8 s against 22.4 s (bench/RESULTS.md `## train`).
        TRL's entropy, token-accuracy and token-count log entries come from the compute_loss this
        replaces and are not logged."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs["use_cache"] = False  # as TRL does: with a cache object, padding-free masking is skipped
            return Trainer.compute_loss(self, model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

    return PlainLossSFTTrainer
