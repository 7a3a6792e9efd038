"""Requests and results of the engine, and the content hash that keys the cache."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from .config import EndpointConfig

SAMPLING_FIELDS = ("temperature", "top_p", "max_tokens", "seed", "n")


@dataclass
class ChatRequest:
    """One chat completion to make.

    ``key`` is the caller's stable id (e.g. ``f"{record_id}/{teacher}/{sample}"``): the journal
    uses it to send each request once across crashes and reruns. Sampling fields left ``None``
    fall back to the endpoint's defaults. ``endpoint`` picks the endpoint by name when the
    engine runs several. ``meta`` is copied into the journal and the result (caller's data).
    """

    key: str
    messages: list[dict[str, Any]]
    endpoint: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    n: int | None = None
    extra_body: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None


@dataclass
class Choice:
    content: str | None
    reasoning_content: str | None = None
    finish_reason: str | None = None


@dataclass
class ChatResult:
    """The outcome of one request: a response, or a permanent failure with ``error`` set."""

    key: str
    endpoint: str
    content: str | None = None
    reasoning_content: str | None = None
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    latency_s: float = 0.0
    error: str | None = None
    attempts: int = 0
    cached: bool = False  # answered from the response cache (no request sent)
    resumed: bool = False  # read back from the journal of an earlier run
    teacher: str | None = None
    model: str | None = None
    request_hash: str | None = None
    choices: list[Choice] = field(default_factory=list)  # all choices (n > 1); [0] mirrors the fields above
    meta: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        # Shallow on purpose: dataclasses.asdict deep-copies every nested value, a visible share
        # of the client's CPU per request on the hot path (journal append); orjson serialises the
        # nested Choice dataclasses itself.
        data = {name: getattr(self, name) for name in _JOURNAL_FIELDS}
        data["choices"] = [asdict(c) for c in self.choices] if len(self.choices) > 1 else None
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any], *, resumed: bool = False) -> "ChatResult":
        data = dict(data)
        choices = [Choice(**c) for c in data.pop("choices", None) or []]
        known = {k: v for k, v in data.items() if k in _RESULT_FIELDS}
        result = cls(**known, resumed=resumed)
        result.choices = choices or [Choice(result.content, result.reasoning_content, result.finish_reason)]
        return result


_RESULT_FIELDS = set(ChatResult.__dataclass_fields__) - {"choices", "resumed"}
_JOURNAL_FIELDS = tuple(f for f in ChatResult.__dataclass_fields__ if f != "resumed")


def effective_sampling(endpoint: EndpointConfig, request: ChatRequest) -> dict[str, Any]:
    """The sampling fields sent: request overrides on endpoint defaults (None: not sent)."""
    out: dict[str, Any] = {}
    for name in SAMPLING_FIELDS:
        value = getattr(request, name)
        if value is None:
            value = getattr(endpoint, name, None)
        if value is not None and not (name == "n" and value == 1):
            out[name] = value
    extra = dict(endpoint.extra_body)
    extra.update(request.extra_body or {})
    out.update(extra)
    return out


def request_hash(endpoint: EndpointConfig, request: ChatRequest) -> str:
    """Content hash of (model name, messages, sampling): never the key, base_url or endpoint
    name, so the same question to the same model on any server is one cache entry."""
    payload = {"model": endpoint.model, "messages": request.messages,
               "sampling": effective_sampling(endpoint, request)}
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def request_body(endpoint: EndpointConfig, request: ChatRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"model": endpoint.model, "messages": request.messages}
    body.update(effective_sampling(endpoint, request))
    if endpoint.stream:
        body["stream"] = True
        body.setdefault("stream_options", {"include_usage": True})
    return body
