"""The fixture models: built from installed packages only, loadable with transformers."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_smollm2_loads_and_generates(smollm2_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_path)
    model = AutoModelForCausalLM.from_pretrained(smollm2_path)
    assert getattr(model.config, "quantization_config", None) is None
    assert 100e6 < sum(p.numel() for p in model.parameters()) < 200e6
    ids = tok.apply_chat_template([{"role": "user", "content": "What is 2+2?"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    text = tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert text.strip()


def test_tiny_qwen3_template_and_enable_thinking(tiny_qwen3_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_qwen3_path)
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen3_path)
    assert model.config.model_type == "qwen3"
    assert sum(p.numel() for p in model.parameters()) < 10e6
    msgs = [{"role": "user", "content": "hi"}]
    on = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    off = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    assert on.endswith("<|im_start|>assistant\n")
    assert off.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    chat = msgs + [{"role": "assistant", "content": "<think>\nhmm\n</think>\n\nhello"}]
    rendered = tok.apply_chat_template(chat, tokenize=False)
    assert "<think>\nhmm\n</think>\n\nhello<|im_end|>" in rendered
    masked = tok.apply_chat_template(chat, tokenize=True, return_assistant_tokens_mask=True, return_dict=True)
    assert 0 < sum(masked["assistant_masks"]) < len(masked["input_ids"])
    assert len(tok.encode("<think>", add_special_tokens=False)) == 1
    with torch.no_grad():
        out = model.generate(**tok(on, return_tensors="pt"), max_new_tokens=4, do_sample=False)
    assert out.shape[1] > 0


def test_ensure_model_is_cached(tiny_qwen3_path):
    import time

    from thoughtdistill.models import ensure_model

    start = time.time()
    assert ensure_model("tiny-qwen3") == tiny_qwen3_path
    assert time.time() - start < 0.5


def test_ensure_model_builds_both_from_scratch(tmp_path):
    """A fresh cache: both fixtures are built from the installed GGUF, no hub (~20 s)."""
    from transformers import AutoConfig, AutoTokenizer

    from thoughtdistill.models import ensure_model

    tiny = ensure_model("tiny-qwen3", root=tmp_path)  # builds smollm2 first, then tiny-qwen3
    smol = tmp_path / "models" / "smollm2"
    assert (smol / "config.json").exists() and (tiny / "config.json").exists()
    assert AutoConfig.from_pretrained(smol).model_type == "llama"
    assert AutoConfig.from_pretrained(tiny).model_type == "qwen3"
    assert AutoTokenizer.from_pretrained(tiny).chat_template
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["smollm2", "tiny-qwen3"]  # no temp dirs
