"""A served teacher's log-probabilities of given token sequences (vLLM ``prompt_logprobs``).

On-policy distillation needs the teacher's next-token distribution at every token the
student generated. vLLM answers this on ``POST /v1/completions`` when the prompt is the
whole token sequence (a list of ids, so the server does not re-tokenise) and
``prompt_logprobs: k`` is set. Response layout (vLLM ``CompletionResponseChoice``)::

    choices[0].prompt_logprobs = [
        None,                                            # position 0 has no context
        {"1234": {"logprob": -0.1, "rank": 1, "decoded_token": "x"}, ...},   # scores sequence[1]
        ...                                              # one dict per position
    ]

Each dict holds the teacher's top-k (ranks 1..k) plus the token actually at that position
when it is outside the top-k (then with its own rank), in no particular order; ``-inf`` is
sent as ``-9999.0``. Requests go through :class:`EndpointClient`'s limits, retries and key
redaction; only the path and the parsing differ from chat completions.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import orjson

from ..errors import ThoughtDistillError
from .client import POOL_SIZE, CallFailure, EndpointClient
from .config import EndpointConfig


NOT_SERVED_HINT = (" (on-policy KD needs POST /v1/completions with prompt_logprobs, as vLLM serves it; "
                   "llm-katan and most hosted APIs do not)")


class TeacherScoringError(ThoughtDistillError):
    """The teacher server's answer cannot be used as per-token log-probabilities."""


class PromptLogprobsClient(EndpointClient):
    """An :class:`EndpointClient` that posts to ``completions`` and returns the raw choices."""

    async def _call(self, body: dict[str, Any], slot: int = 0):
        http = self._pools[(slot // POOL_SIZE) % len(self._pools)]
        data = await self._post_json(http, "completions", orjson.dumps(body))
        if not isinstance(data, dict) or not data.get("choices"):
            raise CallFailure("response has no choices", retryable=True, status=200)
        return data["choices"], data.get("usage")


@dataclass
class SequenceScores:
    """Teacher top-k at the positions ``start..len(sequence)-1`` (row i scores sequence[start+i])."""

    ids: np.ndarray  # int64 [n, k]
    logprobs: np.ndarray  # float32 [n, k]
    decoded: list[str | None]  # the server's text of each scored token (for the tokenizer check)


def scoring_body(endpoint: EndpointConfig, sequence: Sequence[int], k: int) -> dict[str, Any]:
    # max_tokens=1: vLLM must generate something; that one token is ignored.
    body: dict[str, Any] = {"model": endpoint.model, "prompt": list(map(int, sequence)), "max_tokens": 1,
                            "temperature": 1.0, "prompt_logprobs": k}
    body.update(endpoint.extra_body)
    return body


def _finite(value: Any) -> float:
    value = float(value)
    return -9999.0 if math.isnan(value) or value == -math.inf else value


def parse_prompt_logprobs(choice: dict[str, Any], sequence: Sequence[int], start: int, k: int,
                          where: str = "teacher server") -> SequenceScores:
    """Rows of the teacher's top-k for positions ``start`` onwards of ``sequence``."""
    rows = choice.get("prompt_logprobs") if isinstance(choice, dict) else None
    if not rows:
        raise TeacherScoringError(
            f"{where} returned no prompt_logprobs: on-policy KD needs a server that scores a given token "
            "sequence (vLLM: POST /v1/completions with prompt_logprobs); llm-katan and most hosted APIs do not")
    if len(rows) != len(sequence):
        raise TeacherScoringError(f"{where} returned log-probs for {len(rows)} positions of a {len(sequence)}-token "
                                  "sequence: it did not score the token ids as sent")
    ids = np.zeros((len(sequence) - start, k), dtype=np.int64)
    lps = np.zeros((len(sequence) - start, k), dtype=np.float32)
    decoded: list[str | None] = []
    for row, pos in enumerate(range(start, len(sequence))):
        entry = rows[pos]
        if not isinstance(entry, dict) or str(sequence[pos]) not in entry:
            raise TeacherScoringError(f"{where}: position {pos} has no log-prob for the token there "
                                      f"(id {sequence[pos]}): it scored other tokens than the ones sent")
        ranked = sorted(entry.items(), key=lambda item: item[1].get("rank") or math.inf)[:k]
        if len(ranked) < k:
            raise TeacherScoringError(f"{where}: {len(ranked)} candidates at position {pos}, top-{k} asked (vLLM "
                                      "caps them with --max-logprobs; raise it or lower kd.top_k)")
        ids[row] = [int(tid) for tid, _ in ranked]
        lps[row] = [_finite(item["logprob"]) for _, item in ranked]
        decoded.append(entry[str(sequence[pos])].get("decoded_token"))
    return SequenceScores(ids, lps, decoded)


async def score_sequences_async(endpoint: EndpointConfig, sequences: Sequence[Sequence[int]],
                                starts: Sequence[int], k: int) -> list[SequenceScores]:
    """Score every sequence (one request each, ``endpoint.concurrency`` at a time); the first
    request that fails for good raises :class:`TeacherScoringError` with a redacted message."""
    client = PromptLogprobsClient(endpoint.model_copy(update={"stream": False}))
    gate = asyncio.Semaphore(endpoint.concurrency)
    where = f"teacher server '{endpoint.name}' ({endpoint.base_url}, model {endpoint.model})"

    async def one(i: int) -> SequenceScores:
        async with gate:
            body = scoring_body(endpoint, sequences[i], k)
            sent = await client.send(body, len(sequences[i]) + 1, slot=i)
        if sent.error is not None:
            hint = NOT_SERVED_HINT if sent.error.startswith(("HTTP 404", "HTTP 405")) else ""
            raise TeacherScoringError(f"{where}: {sent.error}{hint}")
        return parse_prompt_logprobs(sent.choices[0], sequences[i], starts[i], k, where)

    try:
        return list(await asyncio.gather(*(one(i) for i in range(len(sequences)))))
    finally:
        await client.aclose()


def score_sequences(endpoint: EndpointConfig, sequences: Sequence[Sequence[int]], starts: Sequence[int],
                    k: int) -> list[SequenceScores]:
    """Blocking :func:`score_sequences_async` (a fresh event loop per call)."""
    from .engine import run_sync

    return run_sync(score_sequences_async(endpoint, sequences, starts, k))
