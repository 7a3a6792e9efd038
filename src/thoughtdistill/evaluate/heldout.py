"""Held-out teacher-chain NLL: how well a model predicts chains it was never trained on.

The chains of a canonical JSONL file are rendered exactly as ``thoughtdistill train`` renders
them (:mod:`thoughtdistill.train.render`: the training template policy, the assistant turn
``<think>\\n…\\n</think>\\n\\n`` + answer + end-of-turn token supervised, an over-long thought cut
at its end), and the mean negative log-likelihood per supervised token is reported. Before and
after training on the same file, the difference is what the student learnt of the teacher's
chains (format and style), measurable long before it solves anything.

Works for any causal LM folder with a chat template the training policy accepts (its own with
``{% generation %}`` markers, a ChatML/Qwen-style one, or ``chat_template`` given).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError


@dataclass
class HeldoutNLL:
    per_token: float  # mean NLL (nats) per supervised token
    tokens: int  # supervised tokens scored
    chains: int  # chains scored
    dropped: int  # chains skipped (no thought, truncated by the teacher, error, too long)
    file: str
    sha256: str
    max_length: int
    template_sha256: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def template_for(tokenizer: Any, chat_template: str | None) -> str:
    """The template ``train`` would use for this tokenizer (``chat_template``: a file or the
    text; ``None`` or ``'train'``: the training policy on the model's own template)."""
    from ..train.render import resolve_template

    given = None if chat_template in (None, "train") else chat_template
    return resolve_template(tokenizer, given).template


def heldout_nll(model: str, chains_file: str | Path, *, max_length: int = 2048, chat_template: str | None = None,
                device: str | None = None, dtype: str = "auto", num_threads: int | None = None,
                limit: int | None = None) -> HeldoutNLL:
    """Mean NLL per supervised token of ``chains_file``'s chains under ``model`` (a local folder)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..io import iter_records
    from ..train.render import ChainCounts, PromptTooLong, conversations, tokenize_conversation
    from ..cpu import idle_cores

    path = Path(chains_file)
    if not path.exists():
        raise ConfigError(f"heldout_chains: {path}: file not found")
    folder = Path(model)
    if not (folder / "config.json").exists():
        raise ConfigError(f"heldout_chains needs the model's weights: {model} is not a local model folder")
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    template = template_for(tokenizer, chat_template)
    counts = ChainCounts()
    examples, dropped = [], 0
    for conv in conversations(iter_records(path), require_thought=True, counts=counts):
        if limit is not None and len(examples) >= limit:
            break
        try:
            ex = tokenize_conversation(tokenizer, template, conv, max_length, "truncate_thought")
        except PromptTooLong:
            ex = None
        if ex is None:
            dropped += 1
        else:
            examples.append(ex)
    dropped += counts.skipped_error + counts.skipped_truncated_teacher + counts.skipped_no_thought
    if not examples:
        raise ConfigError(f"heldout_chains: {path}: no chain with a thought fits max_length={max_length} "
                          f"({counts.chains_seen} chains read)")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        torch.set_num_threads(num_threads or idle_cores())
    torch_dtype = (torch.bfloat16 if device != "cpu" else torch.float32) if dtype == "auto" else getattr(torch, dtype)
    lm = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch_dtype).to(device).eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for ex in examples:
            ids = torch.tensor([ex.input_ids], device=device)
            labels = torch.tensor(ex.labels[1:], device=device)
            logits = lm(input_ids=ids, use_cache=False).logits[0, :-1].float()
            keep = labels != -100
            logp = torch.log_softmax(logits[keep], dim=-1)
            total += float(-logp.gather(1, labels[keep].unsqueeze(1)).sum())
            count += int(keep.sum())
    del lm
    per_token = total / count if count else math.nan
    return HeldoutNLL(per_token, count, len(examples), dropped, str(path), file_sha256(path), max_length,
                      hashlib.sha256(template.encode()).hexdigest())
