"""Freeze tuning (`trainable_layers`): which weights learn, where backward stops, and a real
training step on the tiny Qwen3 fixture (2 layers, tied embeddings) that leaves the frozen
weights bit-for-bit as they were."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from thoughtdistill.errors import ConfigError
from thoughtdistill.train import LoraSettings, TrainConfig, run_train
from thoughtdistill.train.freeze import freeze_lower_layers

from .conftest import tiny_config


def _model(path):
    return AutoModelForCausalLM.from_pretrained(path)


def _trained(model) -> set[str]:
    return {name for name, p in model.named_parameters() if p.requires_grad}


def _first_block_output_needs_grad(model) -> bool:
    seen = {}

    def hook(module, args, output):
        seen["grad"] = (output[0] if isinstance(output, tuple) else output).requires_grad

    handle = model.model.layers[0].register_forward_hook(hook)
    model(input_ids=torch.tensor([[5, 6, 7]]))
    handle.remove()
    return seen["grad"]


def test_top_layer_and_norm_only(tiny_qwen3_path):
    model = _model(tiny_qwen3_path)
    trainable, total = freeze_lower_layers(model, 1, train_head=False)
    names = _trained(model)
    assert names and all(n.startswith("model.layers.1.") or n == "model.norm.weight" for n in names)
    assert "model.norm.weight" in names and not any(n.startswith("model.layers.0.") for n in names)
    assert trainable == sum(p.numel() for n, p in model.named_parameters() if n in names) < total
    # nothing below the trained block needs a gradient: backward stops there
    assert not _first_block_output_needs_grad(model)


def test_head_trains_with_tied_embeddings(tiny_qwen3_path):
    model = _model(tiny_qwen3_path)
    freeze_lower_layers(model, 1)  # train_head defaults to True
    assert model.get_output_embeddings().weight.requires_grad
    assert model.get_input_embeddings().weight is model.get_output_embeddings().weight  # tied
    assert not any(n.startswith("model.layers.0.") for n in _trained(model))
    # the tied embedding learns, so backward runs through the frozen block (no weight gradients there)
    assert _first_block_output_needs_grad(model)


def test_more_layers_than_the_model_has(tiny_qwen3_path):
    with pytest.raises(ConfigError, match="trainable_layers: 3 asked, the model has 2 decoder layers"):
        freeze_lower_layers(_model(tiny_qwen3_path), 3)


def test_not_with_lora(tmp_path):
    with pytest.raises(ValidationError, match="trainable_layers and lora"):
        TrainConfig(data=str(tmp_path / "d.jsonl"), student="tiny-qwen3", output_dir=str(tmp_path / "o"),
                    trainable_layers=1, lora=LoraSettings())


@pytest.mark.slow
def test_training_leaves_frozen_weights_unchanged(tiny_qwen3_path, tmp_path, short_file):
    before = load_file(str(tiny_qwen3_path / "model.safetensors"))
    result = run_train(tiny_config(short_file, tmp_path / "run", learning_rate=1e-2, max_steps=2,
                                   trainable_layers=1, train_head=False, save_checkpoints=False, num_threads=1))
    after = load_file(str(result.model_dir / "model.safetensors"))
    frozen = [n for n in before if not n.startswith(("model.layers.1.", "model.norm."))]
    assert frozen and all(torch.equal(before[n], after[n]) for n in frozen)
    assert not torch.equal(before["model.layers.1.mlp.up_proj.weight"], after["model.layers.1.mlp.up_proj.weight"])
    total = sum(t.numel() for n, t in before.items() if n != "lm_head.weight")
    assert 0 < result.trainable_params < total
    assert '"trainable_layers": 1' in (result.model_dir / "README.md").read_text()
