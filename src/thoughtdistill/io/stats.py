"""Summary figures of a record file: counts, chains per question, RV/CD histograms,
token-length percentiles, truncation and correctness counts. One streaming pass; memory
holds one length per chain (4 bytes each), not the records."""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from ..records import LEVEL_MAX, LEVEL_MIN, Chain, Record
from ..thoughts import thought_unclosed

PERCENTILES = (10, 25, 50, 75, 90, 99)


def whitespace_tokens(text: str) -> int:
    return len(text.split())


def tokenizer_counter(name_or_path: str) -> Callable[[str], int]:
    """Token counts from a Hugging Face tokenizer (a local folder; no hub download)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(name_or_path)
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])


def is_truncated(chain: Chain) -> bool:
    """Marked truncated, stopped for length, or (not marked either way) a ``full_response``
    whose thought never closes: chains that were never split count too."""
    if chain.truncated is not None:
        return chain.truncated or chain.finish_reason == "length"
    return chain.finish_reason == "length" or thought_unclosed(chain.full_response)


@dataclass
class FileStats:
    records: int = 0
    chains: int = 0
    questions_without_chains: int = 0
    chains_per_question: dict[int, int] = field(default_factory=dict)
    teachers: dict[str, int] = field(default_factory=dict)
    domains: dict[str, int] = field(default_factory=dict)
    cognitive_difficulty: dict[str, int] = field(default_factory=dict)  # level (or "none") -> chains
    reasoning_verbosity: dict[str, int] = field(default_factory=dict)
    truncated: int = 0
    finish_reasons: dict[str, int] = field(default_factory=dict)
    correctness: dict[str, int] = field(default_factory=dict)  # correct / wrong / undecided / unjudged
    token_counter: str = "whitespace"
    thought_tokens: dict[str, float] = field(default_factory=dict)  # p10… max, mean
    solution_tokens: dict[str, float] = field(default_factory=dict)
    chain_tokens: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _levels(counter: Counter) -> dict[str, int]:
    out = {str(level): counter.get(level, 0) for level in range(LEVEL_MIN, LEVEL_MAX + 1)}
    out["none"] = counter.get(None, 0)
    return out


def _percentiles(values: array) -> dict[str, float]:
    if not len(values):
        return {}
    arr = np.frombuffer(values, dtype=np.int32) if values.typecode == "i" else np.asarray(values)
    out = {f"p{p}": float(np.percentile(arr, p)) for p in PERCENTILES}
    out["max"] = float(arr.max())
    out["mean"] = round(float(arr.mean()), 1)
    return out


def compute_stats(
    records: Iterable[Record], count_tokens: Callable[[str], int] | None = None, counter_name: str = "whitespace"
) -> FileStats:
    count = count_tokens or whitespace_tokens
    stats = FileStats(token_counter=counter_name)
    per_q: Counter = Counter()
    teachers: Counter = Counter()
    domains: Counter = Counter()
    cd: Counter = Counter()
    rv: Counter = Counter()
    finish: Counter = Counter()
    correct: Counter = Counter()
    thought_len, solution_len, chain_len = array("i"), array("i"), array("i")
    for record in records:
        stats.records += 1
        n = len(record.reasoning)
        per_q[n] += 1
        domains[record.domain or "none"] += 1
        stats.chains += n
        for chain in record.reasoning:
            teachers[chain.teacher or "unknown"] += 1
            cd[chain.Cognitive_Difficulty.level if chain.Cognitive_Difficulty else None] += 1
            rv[chain.Reasoning_Verbosity.level if chain.Reasoning_Verbosity else None] += 1
            finish[chain.finish_reason or "unknown"] += 1
            if is_truncated(chain):
                stats.truncated += 1
            if chain.correctness is None:
                correct["unjudged"] += 1
            else:
                verdict = chain.correctness.verdict
                correct["undecided" if verdict is None else "correct" if verdict else "wrong"] += 1
            if chain.thought is not None:
                thought_len.append(count(chain.thought))
            if chain.solution is not None:
                solution_len.append(count(chain.solution))
            chain_len.append(count(chain.text))
    stats.questions_without_chains = per_q.get(0, 0)
    stats.chains_per_question = dict(sorted(per_q.items()))
    stats.teachers = dict(teachers.most_common())
    stats.domains = dict(domains.most_common())
    stats.cognitive_difficulty = _levels(cd)
    stats.reasoning_verbosity = _levels(rv)
    stats.finish_reasons = dict(finish.most_common())
    stats.correctness = {k: correct.get(k, 0) for k in ("correct", "wrong", "undecided", "unjudged")}
    stats.thought_tokens = _percentiles(thought_len)
    stats.solution_tokens = _percentiles(solution_len)
    stats.chain_tokens = _percentiles(chain_len)
    return stats
