"""One endpoint's HTTP side: the async client, limits, retries with backoff, parsing.

httpx directly rather than the ``openai`` SDK: the SDK adds per-request overhead, hides
``Retry-After`` behind its own retry loop and drops unknown fields such as
``reasoning_content`` from typed objects.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from ..errors import ConfigError
from .config import NO_KEY_BEARER, EndpointConfig
from .limits import TokenBucket
from .types import Choice

POOL_SIZE = 1  # connections per httpx pool
# pacing='auto' spaces request starts by this share of (mean latency / concurrency)
AUTO_PACING_SHARE = 0.5
PACING_MIN_WAIT_S = 0.0005  # shorter waits are not worth a timer
LATENCY_EWMA_WEIGHT = 0.1
RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}


@dataclass(frozen=True)
class SendResult:
    """What :meth:`EndpointClient.send` returns: the reply (``choices``, ``usage``) or, after
    the last attempt, ``error``; with the latency of the last attempt and the attempts made."""

    choices: list[Choice] | None
    usage: dict[str, int] | None
    latency_s: float
    attempts: int
    error: str | None = None


class CallFailure(Exception):
    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.message, self.retryable, self.status, self.retry_after = message, retryable, status, retry_after


@dataclass
class Stats:
    sent: int = 0  # HTTP attempts
    ok: int = 0
    failed: int = 0
    cached: int = 0
    resumed: int = 0
    changed: int = 0  # journaled with other settings, sent again
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """Rough prompt size (4 characters a token) for TPM budgeting and dry runs."""
    chars = sum(len(m.get("content") or "") if isinstance(m.get("content"), str) else 200 for m in messages)
    return chars // 4 + 4 * len(messages)


class EndpointClient:
    def __init__(self, endpoint: EndpointConfig, stats: Stats | None = None):
        self.ep = endpoint
        self._key = endpoint.api_key()
        self.stats = stats or Stats()
        headers = {"Authorization": f"Bearer {self._key}", "Content-Type": "application/json",
                   **endpoint.headers}
        # One small pool per POOL_SIZE workers: httpcore scans every connection of a pool on
        # each request, so one pool of 32 connections costs several times the CPU of 8 of 4.
        import ssl
        ssl_ctx = httpx.create_ssl_context() if endpoint.base_url.startswith("https") else ssl.create_default_context()
        pools = max(1, -(-endpoint.concurrency // POOL_SIZE))
        self._pools = [httpx.AsyncClient(
            base_url=endpoint.base_url + "/", headers=headers, verify=ssl_ctx,
            timeout=httpx.Timeout(endpoint.timeout_s, connect=endpoint.connect_timeout_s, pool=None),
            limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE),
        ) for _ in range(pools)]
        self.http = self._pools[0]
        self.rpm = TokenBucket(endpoint.rpm) if endpoint.rpm else None
        self.tpm = TokenBucket(endpoint.tpm, capacity=endpoint.tpm / 6) if endpoint.tpm else None
        self._paused_until = 0.0
        self._next_start = 0.0
        self._latency_ewma: float | None = None

    def redact(self, text: str) -> str:
        if self._key and self._key != NO_KEY_BEARER and len(self._key) >= 4:
            text = text.replace(self._key, "***")
        return text

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()

    # -- one attempt -------------------------------------------------------------------------
    async def _call(self, body: dict[str, Any], slot: int = 0) -> tuple[list[Choice], dict[str, int] | None]:
        http = self._pools[(slot // POOL_SIZE) % len(self._pools)]
        payload = orjson.dumps(body)
        if body.get("stream"):
            async with http.stream("POST", "chat/completions", content=payload) as resp:
                if resp.status_code != 200:
                    await resp.aread()
                    raise self._status_failure(resp)
                return await self._read_stream(resp)
        return self._parse_full(await self._post_json(http, "chat/completions", payload))

    async def _post_json(self, http: httpx.AsyncClient, route: str, payload: bytes) -> Any:
        """POST ``payload`` to ``route``; the decoded JSON body, or a CallFailure."""
        resp = await http.post(route, content=payload)
        if resp.status_code != 200:
            raise self._status_failure(resp)
        try:
            return orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            raise CallFailure("response is not JSON", retryable=True, status=200) from None

    def _status_failure(self, resp: httpx.Response) -> CallFailure:
        text = resp.text[:500]
        try:
            err = orjson.loads(resp.content)
            if isinstance(err, dict):
                inner = err.get("error", err)
                text = inner.get("message", text) if isinstance(inner, dict) else str(inner)
        except orjson.JSONDecodeError:
            pass
        status = resp.status_code
        return CallFailure(self.redact(f"HTTP {status}: {str(text)[:300]}"),
                           retryable=status in RETRYABLE_STATUS or status >= 500, status=status,
                           retry_after=parse_retry_after(resp.headers.get("retry-after")))

    @staticmethod
    def _parse_full(data: Any) -> tuple[list[Choice], dict[str, int] | None]:
        if not isinstance(data, dict) or not data.get("choices"):
            message = data.get("error") if isinstance(data, dict) else None
            raise CallFailure(f"response has no choices{f': {message}' if message else ''}",
                              retryable=True, status=200)
        choices = []
        for c in sorted(data["choices"], key=lambda c: c.get("index", 0)):
            msg = c.get("message") or {}
            choices.append(Choice(msg.get("content"), msg.get("reasoning_content") or msg.get("reasoning"),
                                  c.get("finish_reason")))
        return choices, data.get("usage")

    @staticmethod
    async def _read_stream(resp: httpx.Response) -> tuple[list[Choice], dict[str, int] | None]:
        content: dict[int, list[str]] = {}
        reasoning: dict[int, list[str]] = {}
        finish: dict[int, str | None] = {}
        usage = None
        done = False
        async for line in resp.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                break
            try:
                chunk = orjson.loads(data)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(chunk, dict):
                continue
            if chunk.get("error"):
                raise CallFailure(f"stream error: {str(chunk['error'])[:300]}", retryable=True, status=200)
            if chunk.get("usage"):
                usage = chunk["usage"]
            for c in chunk.get("choices") or []:  # empty deltas and empty choice lists are fine
                idx = c.get("index", 0)
                content.setdefault(idx, [])
                delta = c.get("delta") or {}
                if delta.get("content"):
                    content[idx].append(delta["content"])
                rc = delta.get("reasoning_content") or delta.get("reasoning")
                if rc:
                    reasoning.setdefault(idx, []).append(rc)
                if c.get("finish_reason"):
                    finish[idx] = c["finish_reason"]
        if not content or (not done and not finish):
            raise CallFailure("stream ended before the response was complete", retryable=True, status=200)
        choices = [Choice("".join(content[i]), "".join(reasoning[i]) if i in reasoning else None, finish.get(i))
                   for i in sorted(content)]
        return choices, usage

    # -- with limits and retries -------------------------------------------------------------
    def pacing_gap(self) -> float:
        if self.ep.pacing != "auto":
            return float(self.ep.pacing)
        if self._latency_ewma is None:
            return 0.0
        return AUTO_PACING_SHARE * self._latency_ewma / self.ep.concurrency

    async def _pace(self) -> None:
        """Space request starts at least ``pacing_gap()`` apart.

        Requests that start together finish together (equal latencies), and the server and
        this client then handle each burst one response after another: the bursts persist
        (like buses bunching) and every request waits for its burst. Spacing the starts
        dissolves them. Reservation-based, like a token bucket of size one; no library paces
        asyncio calls this way, so it is written here.
        """
        gap = self.pacing_gap()
        if gap <= 0:
            return
        now = time.monotonic()
        start = max(now, self._next_start)
        self._next_start = start + gap
        if start - now >= PACING_MIN_WAIT_S:
            await asyncio.sleep(start - now)

    def _observe_latency(self, seconds: float) -> None:
        ewma = self._latency_ewma
        self._latency_ewma = seconds if ewma is None else ewma + LATENCY_EWMA_WEIGHT * (seconds - ewma)

    def _backoff(self, attempt: int) -> float:
        cap = min(self.ep.backoff_max_s, self.ep.backoff_base_s * 2 ** (attempt - 1))
        return cap * random.uniform(0.5, 1.0)

    async def send(self, body: dict[str, Any], est_tokens: int, slot: int = 0) -> SendResult:
        """One request with retries and backoff: a :class:`SendResult`.

        ``slot``: the calling worker's number (picks its connection pool)."""
        attempts = 0
        while True:
            attempts += 1
            pause = self._paused_until - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            if self.rpm:
                await self.rpm.acquire(1)
            if self.tpm:
                await self.tpm.acquire(est_tokens)
            await self._pace()
            self.stats.sent += 1
            start = time.perf_counter()
            try:
                if body.get("stream"):  # httpx times each read; a stream also needs a total deadline
                    choices, usage = await asyncio.wait_for(self._call(body, slot), self.ep.timeout_s)
                else:
                    choices, usage = await self._call(body, slot)
                if self.tpm and usage:
                    self.tpm.adjust(est_tokens - int(usage.get("total_tokens") or est_tokens))
                latency = time.perf_counter() - start
                self._observe_latency(latency)
                return SendResult(choices, usage, latency, attempts)
            except CallFailure as exc:
                failure = exc
            except (asyncio.TimeoutError, httpx.TimeoutException):
                failure = CallFailure(f"timed out after {self.ep.timeout_s:g}s", retryable=True)
            except httpx.TransportError as exc:
                failure = CallFailure(self.redact(f"connection error: {type(exc).__name__}: {exc}"[:300]),
                                      retryable=True)
            if not failure.retryable or attempts > self.ep.max_retries:
                if failure.retryable:
                    failure.message += f" (gave up after {attempts} attempts)"
                return SendResult(None, None, time.perf_counter() - start, attempts, failure.message)
            delay = self._backoff(attempts)
            if failure.retry_after is not None:
                delay = max(delay, failure.retry_after)
            if failure.status == 429:  # the whole endpoint backs off, not just this request
                self._paused_until = max(self._paused_until, time.monotonic() + delay)
            self.stats.retries += 1
            await asyncio.sleep(delay)


async def check_endpoint_async(endpoint: EndpointConfig, timeout: float = 10.0) -> list[str]:
    """GET /models: reachable, key accepted, model served. Returns the served model ids."""
    key = endpoint.api_key()
    where = f"endpoint '{endpoint.name}' ({endpoint.base_url})"
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            resp = await http.get(endpoint.base_url + "/models",
                                  headers={"Authorization": f"Bearer {key}", **endpoint.headers})
    except httpx.HTTPError as exc:
        raise ConfigError(f"{where} is unreachable: {type(exc).__name__}") from None
    if resp.status_code in (401, 403):
        hint = f" (check {endpoint.api_key_env})" if endpoint.api_key_env else " (set api_key_env)"
        raise ConfigError(f"{where} refused the key: HTTP {resp.status_code}{hint}")
    if resp.status_code == 404:
        return []  # some servers have no /models; reachable is enough
    if resp.status_code != 200:
        raise ConfigError(f"{where} answered GET /models with HTTP {resp.status_code}")
    try:
        ids = [m.get("id") for m in orjson.loads(resp.content).get("data", []) if isinstance(m, dict)]
    except (orjson.JSONDecodeError, AttributeError):
        return []
    if ids and endpoint.model not in ids:
        shown = ", ".join(map(str, ids[:10]))
        raise ConfigError(f"{where} does not serve model '{endpoint.model}' (it serves: {shown})")
    return ids
