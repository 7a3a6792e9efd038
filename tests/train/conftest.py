"""Real chains from ../shared/data turned into canonical records for the training tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")


def r1_records(data_dir: Path) -> list[dict]:
    """The 10 real long traces (DeepSeek-R1 / Qwen3-30B): thought and answer kept apart."""
    out = []
    for line in (data_dir / "r1_traces.jsonl").read_text().splitlines():
        row = json.loads(line)
        out.append({
            "id": row["id"], "question": row["problem"], "answer": row["gtruth_answer"],
            "source": row["source"],
            "reasoning": [{"teacher": row["teacher"], "thought": row["message_thinking"],
                           "solution": row["message_content"], "finish_reason": "stop"}],
        })
    return out


def multi_chain_records(data_dir: Path, max_chars: int | None = None, per_question: int = 8) -> list[dict]:
    """100 MATH questions x 8 real CoT answers; each chain wrapped as thought + boxed answer."""
    out = []
    for line in (data_dir / "multi_chain.jsonl").read_text().splitlines():
        row = json.loads(line)
        chains = []
        for ch in row["chains"]:
            text = ch["response"].strip()
            if max_chars is not None and len(text) > max_chars:
                continue
            chains.append({"teacher": "qwen2.5-math", "thought": text,
                           "solution": f"The final answer is $\\boxed{{{ch['pred']}}}$.",
                           "correctness": {"verdict": bool(ch["correct"]), "by": "dataset"},
                           "finish_reason": "stop"})
            if len(chains) >= per_question:
                break
        if chains:
            out.append({"id": row["id"], "question": row["question"], "answer": row["answer"],
                        "source": row["source"], "reasoning": chains})
    return out


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def r1_file(tmp_path, data_dir) -> Path:
    return write_jsonl(tmp_path / "r1.jsonl", r1_records(data_dir))


@pytest.fixture
def short_file(tmp_path, data_dir) -> Path:
    """6 short real MATH chains (one per question): a few tiny-qwen3 steps."""
    rows = multi_chain_records(data_dir, max_chars=700, per_question=1)[:6]
    return write_jsonl(tmp_path / "short.jsonl", rows)


def tiny_config(data, out, **kw):
    """A tiny-qwen3 training config on ``data``: batch 2, lr 1e-3, one epoch; ``kw`` overrides."""
    from thoughtdistill.train import TrainConfig

    base = dict(data=str(data), student="tiny-qwen3", output_dir=str(out), max_length=256,
                overlength="truncate_thought", per_device_batch_size=2, gradient_accumulation_steps=1,
                learning_rate=1e-3, epochs=1)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(autouse=True)
def _two_threads():
    import torch

    torch.set_num_threads(2)
