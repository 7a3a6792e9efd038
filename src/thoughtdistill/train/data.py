"""Canonical records -> a tokenised, memory-mapped training set (Arrow), with counts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import ConfigError
from ..io import is_hub_ref, read_records
from .config import TrainConfig
from .render import (
    ChainCounts,
    PromptTooLong,
    TemplateChoice,
    conversations,
    tokenize_conversation,
)

SCHEMA = pa.schema(
    [
        ("sample_id", pa.string()),
        ("input_ids", pa.list_(pa.int32())),
        ("labels", pa.list_(pa.int32())),
    ]
)


@dataclass
class DataStats:
    chains: ChainCounts = field(default_factory=ChainCounts)
    examples: int = 0
    dropped_overlength: int = 0
    truncated_thought: int = 0
    tokens: int = 0
    supervised_tokens: int = 0
    lengths: list[int] = field(default_factory=list)  # full rendered length before any cut
    max_length: int = 0

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("lengths")
        return out


def iter_conversations(config: TrainConfig, counts: ChainCounts):
    def records():
        for path in config.data:
            if not is_hub_ref(path) and not Path(path).exists():
                raise ConfigError(f"{path}: data file not found")
            yield from read_records(path)  # any format convert reads (detected), or an hf: reference

    return conversations(
        records(),
        chains=config.chains,
        max_chains_per_question=config.max_chains_per_question,
        require_thought=config.require_thought,
        system_prompt=config.system_prompt,
        counts=counts,
    )


def build_dataset(config: TrainConfig, tokenizer, template: TemplateChoice, out_path: Path) -> DataStats:
    """Tokenise every selected chain into ``out_path`` (Arrow stream); raise before training
    when nothing is left or a prompt cannot fit."""
    stats = DataStats(max_length=config.max_length)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    batch: list[dict[str, Any]] = []
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, SCHEMA) as writer:
        def flush():
            if batch:
                writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=SCHEMA))
                batch.clear()

        for conv in iter_conversations(config, stats.chains):
            if config.limit is not None and stats.examples >= config.limit:
                break
            try:
                ex = tokenize_conversation(
                    tokenizer, template.template, conv, config.max_length, config.overlength
                )
            except PromptTooLong as exc:
                raise ConfigError(str(exc)) from None
            if ex is None:
                stats.dropped_overlength += 1
                stats.lengths.append(config.max_length + 1)  # "over max_length" bin
                continue
            stats.lengths.append(ex.original_len)
            stats.truncated_thought += int(ex.truncated_thought)
            stats.examples += 1
            stats.tokens += len(ex.input_ids)
            stats.supervised_tokens += ex.supervised
            batch.append({"sample_id": ex.sample_id, "input_ids": ex.input_ids, "labels": ex.labels})
            if len(batch) >= 256:
                flush()
        flush()
    tmp.replace(out_path)
    if stats.examples == 0:
        c = stats.chains
        raise ConfigError(
            f"no training examples left: {c.records} records, {c.chains_seen} chains, "
            f"{stats.dropped_overlength} dropped as longer than max_length={config.max_length} "
            f"(overlength={config.overlength!r}), {c.skipped_no_thought} without thought, "
            f"{c.skipped_truncated_teacher} truncated by the teacher, {c.skipped_error} errors, "
            f"{c.skipped_not_correct} not correct"
        )
    return stats


def load_dataset_file(path: Path):
    from datasets import Dataset

    return Dataset.from_file(str(path))
