"""OpenAI-compatible async engine shared by generate, judge, evaluate and the pipeline.

Public surface::

    from thoughtdistill.api import (EndpointConfig, ChatRequest, ChatResult, request_hash,
                                    run_requests, run_requests_sync, check_endpoints, probe_n)

    ep = EndpointConfig(name="r1", base_url="https://api.deepseek.com/v1", model="deepseek-reasoner",
                        api_key_env="DEEPSEEK_API_KEY", concurrency=32, rpm=600, max_tokens=16384)
    reqs = [ChatRequest(key=f"{rec.id}/r1/0", messages=[{"role": "user", "content": rec.question}])
            for rec in records]
    results = run_requests_sync(ep, reqs, journal_path="run/journal.jsonl",
                                cache_dir=default_cache_dir())      # in the order of reqs
    # or, inside asyncio:  async for res in run_requests(ep, reqs, journal_path=...): ...

- ``EndpointConfig`` (a StageConfig, unknown fields are errors): name, base_url, model,
  teacher (label, default name), api_key_env (None: local server, a dummy bearer is sent),
  headers, concurrency, rpm, tpm, max_retries, backoff_base_s/backoff_max_s, timeout_s,
  stream, supports_n ("auto"|true|false), default sampling (temperature, top_p, max_tokens,
  seed, extra_body), price_per_1m_prompt/completion, weight, quota.
- ``ChatRequest``: key (your stable id; never hashed), messages, endpoint (name, when
  several), sampling overrides (temperature, top_p, max_tokens, seed, n, extra_body), meta.
- ``ChatResult``: key, endpoint, teacher, model, content, reasoning_content, finish_reason,
  usage, latency_s, error (None on success), attempts, cached, resumed, request_hash,
  choices (all n choices), meta. ``.ok`` is ``error is None``.
- ``request_hash(endpoint, request)``: sha256 of (model name, messages, effective sampling);
  independent of base_url, endpoint name and key. Identical requests share a cache entry, so
  vary ``seed`` for independent samples.
- ``run_requests(endpoints, requests, *, journal_path, cache_dir=None, progress=True,
  retry_failed=False, total=None, yield_resumed=True)``: async iterator of results in
  completion order. Every result, failures included, is appended to the journal before it
  is yielded; keys already in the journal are not sent again. Retries 429/5xx/timeouts/
  connection errors with exponential backoff + jitter, honouring Retry-After; other 4xx
  fail at once. ``run_requests_sync`` returns a list in request order (``in_order=False``:
  in completion order, the requests streamed rather than listed first).
- ``check_endpoints(endpoints)`` (async): GET /models on each, one clear ConfigError when
  unreachable / key refused / model not served. ``probe_n(endpoint)`` (async): whether the
  server honours ``n``. ``run_sync(coro)`` runs a coroutine on a fresh (uv)loop.
- ``Journal`` and ``ResponseCache`` (store.py) for stages that read results back;
  ``default_cache_dir()`` = $THOUGHTDISTILL_CACHE/responses (or ~/.cache/thoughtdistill).

The key is read from the environment when a client is made and lives only in the HTTP
header: it never enters the journal, cache, logs or error messages (errors are redacted).
"""

from .client import CallFailure, EndpointClient, Stats, estimate_tokens, parse_retry_after
from .config import NO_KEY_BEARER, EndpointConfig
from .engine import Engine, check_endpoints, probe_n, run_requests, run_requests_sync, run_sync
from .store import Journal, ResponseCache, default_cache_dir
from .types import ChatRequest, ChatResult, Choice, effective_sampling, request_body, request_hash

__all__ = [
    "CallFailure", "ChatRequest", "ChatResult", "Choice", "EndpointClient", "EndpointConfig",
    "Engine", "Journal", "NO_KEY_BEARER", "ResponseCache", "Stats", "check_endpoints",
    "default_cache_dir", "effective_sampling", "estimate_tokens", "parse_retry_after", "probe_n",
    "request_body", "request_hash", "run_requests", "run_requests_sync", "run_sync",
]
