"""Freeze tuning: only the top decoder layers learn.

Neither transformers nor TRL has this switch (peft adapts, it does not freeze a prefix of the
network), so it is a few lines here. A frozen layer skips its weight gradients (a third of its
cost in a step); with the embeddings frozen as well, no tensor below the lowest trained layer
needs a gradient and autograd stops there.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError


def decoder_layers(model: Any) -> Any:
    """The decoder blocks of a causal LM (``model.model.layers`` for Llama, Qwen3, SmolLM2...)."""
    layers = getattr(model.get_decoder(), "layers", None)
    if layers is None:
        raise ConfigError(f"trainable_layers: {type(model).__name__} has no decoder `layers` list to freeze")
    return layers


def freeze_lower_layers(model: Any, trainable_layers: int, *, train_head: bool = True,
                        gradient_checkpointing: bool = False) -> tuple[int, int]:
    """Train only the top ``trainable_layers`` blocks, the final norm and (``train_head``) the
    output head, which tied models share with the input embeddings; returns (trainable, total)
    parameter counts."""
    layers = decoder_layers(model)
    if trainable_layers > len(layers):
        raise ConfigError(f"trainable_layers: {trainable_layers} asked, the model has {len(layers)} decoder layers")
    model.requires_grad_(False)
    for layer in layers[len(layers) - trainable_layers:]:
        layer.requires_grad_(True)
    norm = getattr(model.get_decoder(), "norm", None)
    if norm is not None:
        norm.requires_grad_(True)
    if train_head:
        model.get_output_embeddings().requires_grad_(True)
    if gradient_checkpointing:
        # re-entrant checkpointing drops the gradients of a block whose input needs none
        model.enable_input_require_grads()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())
