"""Padding-free batches give the same logits and loss as padded ones (attention isolated by
position ids), with the attention implementations that run on CPU."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling


def _examples():
    g = torch.Generator().manual_seed(0)
    out = []
    for n in (7, 13, 4):
        ids = torch.randint(5, 1000, (n,), generator=g).tolist()
        labels = [-100] * 2 + ids[2:]
        out.append({"input_ids": ids, "labels": labels})
    return out


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_padding_free_matches_padded(attn, tiny_qwen3_path):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen3_path, attn_implementation=attn, dtype=torch.float32).eval()
    exs = _examples()
    padded = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=False)(exs)
    flat = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)(exs)
    assert "attention_mask" not in flat and flat["input_ids"].shape == (1, 24)
    assert flat["position_ids"][0].tolist() == list(range(7)) + list(range(13)) + list(range(4))
    with torch.no_grad():
        lp = model(input_ids=padded["input_ids"], attention_mask=padded["attention_mask"]).logits
        lf = model(input_ids=flat["input_ids"], position_ids=flat["position_ids"], use_cache=False).logits
        # with a KV cache object present, transformers skips packed-sequence detection: the trap
        # TRL avoids by passing use_cache=False in compute_loss (and thoughtdistill's KD trainer too)
        lc = model(input_ids=flat["input_ids"], position_ids=flat["position_ids"], use_cache=True).logits
        # each sequence alone, for reference
        alone = [model(input_ids=torch.tensor([e["input_ids"]])).logits[0] for e in exs]
    start = 0
    for i, e in enumerate(exs):
        n = len(e["input_ids"])
        torch.testing.assert_close(lf[0, start:start + n], alone[i], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(lp[i, :n], alone[i], atol=1e-4, rtol=1e-4)
        start += n
    assert not torch.allclose(lc[0, 7:20], alone[1], atol=1e-3)
    # and the same loss: no prediction crosses a sequence boundary
    with torch.no_grad():
        loss_p = model(**padded).loss
        loss_f = model(input_ids=flat["input_ids"], position_ids=flat["position_ids"], labels=flat["labels"],
                       use_cache=False).loss
    torch.testing.assert_close(loss_p, loss_f, atol=1e-5, rtol=1e-5)


def test_without_position_ids_sequences_would_leak(tiny_qwen3_path):
    """The check above is meaningful: concatenating without position ids mixes sequences."""
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen3_path, attn_implementation="sdpa").eval()
    exs = _examples()
    flat = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)(exs)
    with torch.no_grad():
        leaky = model(input_ids=flat["input_ids"], use_cache=False).logits[0, 7:20]
        alone = model(input_ids=torch.tensor([exs[1]["input_ids"]])).logits[0]
    assert not torch.allclose(leaky, alone, atol=1e-3)
