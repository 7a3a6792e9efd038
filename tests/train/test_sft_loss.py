"""SFT's two ways of scoring: TRL's chunked LM head (`fused_lm_head: true`) and the model's own
cross-entropy (`false`, the CPU default). The same batches give the same loss, in every batching
mode, on the tiny Qwen3 fixture (2 layers, tied embeddings) with real MATH chains."""

from __future__ import annotations

import pytest
import torch

from thoughtdistill.train import TrainConfig, run_train
from thoughtdistill.train.sft import fused_head, sft_trainer_class

from .conftest import multi_chain_records, write_jsonl


def test_auto_means_fused_on_gpu_only():
    assert fused_head("auto") is torch.cuda.is_available()
    assert fused_head(True) is True and fused_head(False) is False
    from trl import SFTTrainer

    assert sft_trainer_class(True) is SFTTrainer
    assert issubclass(sft_trainer_class(False), SFTTrainer) and sft_trainer_class(False) is not SFTTrainer


@pytest.mark.slow
@pytest.mark.parametrize("batching", ["padded", "padding_free", "packing"])
def test_plain_loss_equals_trl_fused_head(batching, tmp_path, data_dir, tiny_qwen3_path):
    rows = multi_chain_records(data_dir, max_chars=700, per_question=1)[:4]
    data = write_jsonl(tmp_path / "short.jsonl", rows)

    def losses(fused: bool) -> list[float]:
        result = run_train(TrainConfig(
            data=str(data), student="tiny-qwen3", output_dir=str(tmp_path / f"{batching}-{fused}"),
            max_length=256, overlength="truncate_thought", per_device_batch_size=2,
            gradient_accumulation_steps=1, learning_rate=1e-3, max_steps=2, batching=batching,
            fused_lm_head=fused, save_checkpoints=False, num_threads=1, seed=0))
        return [result.first_loss, result.last_loss]

    fused, plain = losses(True), losses(False)
    # step 2's loss follows step 1's update: equal gradients too
    assert plain == pytest.approx(fused, rel=1e-4), (plain, fused)
