"""SFT's two ways of scoring: TRL's chunked LM head (`fused_lm_head: true`) and the model's own
cross-entropy (`false`, the CPU default). The same batches give the same loss, in every batching
mode, on the tiny Qwen3 fixture (2 layers, tied embeddings) with real MATH chains."""

from __future__ import annotations

import pytest
import torch

from thoughtdistill.train import run_train
from thoughtdistill.train.sft import fused_head, sft_trainer_class

from .conftest import tiny_config


def test_auto_means_fused_on_gpu_only():
    assert fused_head("auto") is torch.cuda.is_available()
    assert fused_head(True) is True and fused_head(False) is False
    from trl import SFTTrainer

    assert sft_trainer_class(True) is SFTTrainer
    assert issubclass(sft_trainer_class(False), SFTTrainer) and sft_trainer_class(False) is not SFTTrainer


@pytest.mark.slow
@pytest.mark.parametrize("batching", ["padded", "padding_free", "packing"])
def test_plain_loss_equals_trl_fused_head(batching, tmp_path, short_file, tiny_qwen3_path):
    def losses(fused: bool) -> list[float]:
        result = run_train(tiny_config(short_file, tmp_path / f"{batching}-{fused}", max_steps=2, batching=batching,
                                       fused_lm_head=fused, save_checkpoints=False, num_threads=1, seed=0))
        return [result.first_loss, result.last_loss]

    fused, plain = losses(True), losses(False)
    # step 2's loss follows step 1's update: equal gradients too
    assert plain == pytest.approx(fused, rel=1e-4), (plain, fused)
