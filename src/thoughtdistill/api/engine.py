"""The engine: many requests to one or more endpoints, each sent once, durably."""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence, TypeVar

from ..errors import ConfigError, ThoughtDistillError
from .client import EndpointClient, Stats, check_endpoint_async, estimate_tokens
from .config import EndpointConfig
from .store import Journal, ResponseCache
from .types import ChatRequest, ChatResult, Choice, request_body, request_hash

log = logging.getLogger(__name__)
T = TypeVar("T")
_DONE = object()


def run_sync(coro: Awaitable[T]) -> T:
    """Run a coroutine to completion on a fresh event loop (uvloop when installed)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise ThoughtDistillError("called from inside a running event loop: use the async API")
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)  # type: ignore[arg-type]
    return uvloop.run(coro)  # type: ignore[no-any-return]


class _Progress:
    """The engine's view of :class:`thoughtdistill.progress.Progress`: a bar on a terminal,
    periodic lines otherwise, with token rate, retries and failures."""

    def __init__(self, enabled: bool, total: int | None, stats: Stats, desc: str):
        from ..progress import Progress

        self.stats, self._last = stats, 0.0
        self._t0 = time.monotonic()
        self.bar = Progress(total, desc, "req", enabled=enabled)

    def update(self) -> None:
        self.bar.update(1)
        now = time.monotonic()
        if now - self._last >= 0.5:
            self._last = now
            s = self.stats
            tok = (s.prompt_tokens + s.completion_tokens) / max(1e-9, now - self._t0)
            self.bar.set_postfix(f"tok/s={tok:,.0f} retries={s.retries} failed={s.failed} "
                                 f"cached={s.cached} resumed={s.resumed}")

    def close(self) -> None:
        self.bar.close()


class Engine:
    """Holds the journal, cache and per-endpoint clients of one run (see :func:`run_requests`)."""

    def __init__(self, endpoints: EndpointConfig | Sequence[EndpointConfig], *,
                 journal_path: str | Path, cache_dir: str | Path | None = None,
                 retry_failed: bool = False, fsync_every: int = 0):
        eps = [endpoints] if isinstance(endpoints, EndpointConfig) else list(endpoints)
        if not eps:
            raise ConfigError("no endpoints given")
        names = [e.name for e in eps]
        if len(set(names)) != len(names):
            raise ConfigError(f"endpoint names must be unique: {names}")
        self.endpoints = {e.name: e for e in eps}
        self.stats = Stats()
        self.retry_failed = retry_failed
        for ep in eps:
            ep.api_key()  # a missing key env var fails here, before anything is sent
        self.journal = Journal(journal_path, fsync_every=fsync_every)
        self.cache = ResponseCache(cache_dir) if cache_dir else None
        self._inflight: dict[str, asyncio.Future] = {}

    def close(self) -> None:
        self.journal.close()

    def _note_changed(self, key: str) -> None:
        if not self.stats.changed:
            log.warning("%s: request '%s' (and maybe more) was journaled with other settings (prompt, "
                        "sampling or model); such requests are sent again with the current ones",
                        self.journal.path, key)
        self.stats.changed += 1

    def _endpoint_of(self, request: ChatRequest) -> EndpointConfig:
        if request.endpoint is None:
            if len(self.endpoints) == 1:
                return next(iter(self.endpoints.values()))
            raise ConfigError(f"request '{request.key}' names no endpoint and several are configured")
        try:
            return self.endpoints[request.endpoint]
        except KeyError:
            raise ConfigError(f"request '{request.key}' names unknown endpoint '{request.endpoint}'") from None

    async def _process(self, client: EndpointClient, req: ChatRequest, slot: int = 0) -> ChatResult:
        ep = client.ep
        digest = request_hash(ep, req)
        result = ChatResult(key=req.key, endpoint=ep.name, teacher=ep.label, model=ep.model,
                            request_hash=digest, meta=req.meta)
        payload = self.cache.get(digest) if self.cache else None
        if payload is None and digest in self._inflight:  # same request already on the wire
            payload = await asyncio.shield(self._inflight[digest])
        if payload is not None:
            result.cached = True
            self.stats.cached += 1
            return _fill(result, payload)
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._inflight[digest] = fut
        try:
            body = request_body(ep, req)
            est = estimate_tokens(req.messages) + (body.get("max_tokens") or 1024) * (body.get("n") or 1)
            sent = await client.send(body, est, slot)
            result.latency_s, result.attempts = round(sent.latency_s, 4), sent.attempts
            if sent.error is not None:
                result.error = sent.error
                fut.set_result(None)
                return result
            payload = {"choices": [c.__dict__ for c in sent.choices or []], "usage": sent.usage,
                       "model": ep.model}
            if self.cache:
                self.cache.put(digest, payload)
            fut.set_result(payload)
            return _fill(result, payload)
        finally:
            if not fut.done():
                fut.set_result(None)
            self._inflight.pop(digest, None)

    async def run(self, requests: Iterable[ChatRequest] | AsyncIterable[ChatRequest], *,
                  progress: bool = True, total: int | None = None, yield_resumed: bool = True,
                  desc: str = "requests") -> AsyncIterator[ChatResult]:
        if total is None and hasattr(requests, "__len__"):
            total = len(requests)  # type: ignore[arg-type]
        out: asyncio.Queue = asyncio.Queue(maxsize=4096)
        clients = {name: EndpointClient(ep, self.stats) for name, ep in self.endpoints.items()}
        queues = {name: asyncio.Queue(maxsize=ep.concurrency * 4) for name, ep in self.endpoints.items()}
        bar = _Progress(progress, total, self.stats, desc)
        produce = functools.partial(self._produce, requests, queues, out, bar, yield_resumed)
        task = asyncio.create_task(self._supervise(produce, clients, queues, out))
        try:
            while True:
                item = await out.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                bar.update()
                yield item
        finally:
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            for client in clients.values():
                await client.aclose()
            bar.close()

    async def _produce(self, requests: Iterable[ChatRequest] | AsyncIterable[ChatRequest],
                       queues: dict[str, asyncio.Queue], out: asyncio.Queue, bar: _Progress,
                       yield_resumed: bool) -> None:
        """Each request to its endpoint's queue, or, when the journal has it, its stored result
        to ``out`` (or only a tick of the bar)."""
        seen: set[str] = set()
        async for req in _aiter(requests):
            if req.key in seen:
                raise ConfigError(f"duplicate request key '{req.key}'")
            seen.add(req.key)
            ep = self._endpoint_of(req)
            if req.key in self.journal and self.journal.sent_differently(req.key, request_hash(ep, req)):
                self._note_changed(req.key)  # sent again: a resume must not mix settings
            elif self.journal.done(req.key, retry_failed=self.retry_failed):
                self.stats.resumed += 1
                if yield_resumed:
                    await out.put(self.journal.get(req.key))
                else:
                    bar.update()
                continue
            await queues[ep.name].put(req)

    async def _work(self, client: EndpointClient, queue: asyncio.Queue, out: asyncio.Queue, slot: int) -> None:
        """One worker of an endpoint: send its queue's requests until _DONE, journal each result."""
        while True:
            req = await queue.get()
            if req is _DONE:
                return
            try:
                result = await self._process(client, req, slot)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not lose the request: record it
                log.exception("internal error on request %s", req.key)
                result = ChatResult(key=req.key, endpoint=client.ep.name, teacher=client.ep.label,
                                    model=client.ep.model, meta=req.meta,
                                    error=client.redact(f"internal error: {type(exc).__name__}: {exc}"))
            self._count(result)
            self.journal.append(result)  # durable before it is reported
            await out.put(result)

    def _count(self, result: ChatResult) -> None:
        if result.error is None:
            self.stats.ok += 1
            if result.usage:
                self.stats.prompt_tokens += int(result.usage.get("prompt_tokens") or 0)
                self.stats.completion_tokens += int(result.usage.get("completion_tokens") or 0)
        else:
            self.stats.failed += 1

    async def _supervise(self, produce: Callable[[], Awaitable[None]], clients: dict[str, EndpointClient],
                         queues: dict[str, asyncio.Queue], out: asyncio.Queue) -> None:
        """Run the producer and every endpoint's workers; then _DONE, or the error, to ``out``."""
        workers = [asyncio.create_task(self._work(clients[name], queues[name], out, slot))
                   for name, ep in self.endpoints.items() for slot in range(ep.concurrency)]
        try:
            await produce()
            for name, ep in self.endpoints.items():
                for _ in range(ep.concurrency):
                    await queues[name].put(_DONE)
            await asyncio.gather(*workers)
            await out.put(_DONE)
        except BaseException as exc:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            if not isinstance(exc, asyncio.CancelledError):
                await out.put(exc)
            raise


async def _aiter(requests: Iterable[T] | AsyncIterable[T]) -> AsyncIterator[T]:
    if hasattr(requests, "__aiter__"):
        async for r in requests:  # type: ignore[union-attr]
            yield r
    else:
        for r in requests:  # type: ignore[union-attr]
            yield r


def _fill(result: ChatResult, payload: dict[str, Any]) -> ChatResult:
    result.choices = [Choice(**c) for c in payload.get("choices") or []]
    first = result.choices[0]
    result.content, result.reasoning_content, result.finish_reason = (
        first.content, first.reasoning_content, first.finish_reason)
    result.usage = payload.get("usage")
    return result


async def run_requests(endpoints: EndpointConfig | Sequence[EndpointConfig],
                       requests: Iterable[ChatRequest] | AsyncIterable[ChatRequest], *,
                       journal_path: str | Path, cache_dir: str | Path | None = None,
                       progress: bool = True, retry_failed: bool = False, total: int | None = None,
                       yield_resumed: bool = True, fsync_every: int = 0,
                       desc: str = "requests") -> AsyncIterator[ChatResult]:
    """Send ``requests`` and yield one :class:`ChatResult` per request, in completion order.

    Every result (success or permanent failure) is appended to the journal at
    ``journal_path`` before it is yielded; a request whose key is already in the journal is
    not sent again (its stored result is yielded with ``resumed=True``, unless
    ``yield_resumed=False``; failed ones are re-sent when ``retry_failed``). With
    ``cache_dir`` an identical request (same :func:`request_hash`) is answered from the cache.
    """
    engine = Engine(endpoints, journal_path=journal_path, cache_dir=cache_dir,
                    retry_failed=retry_failed, fsync_every=fsync_every)
    try:
        async for result in engine.run(requests, progress=progress, total=total,
                                       yield_resumed=yield_resumed, desc=desc):
            yield result
    finally:
        engine.close()


def run_requests_sync(endpoints: EndpointConfig | Sequence[EndpointConfig],
                      requests: Iterable[ChatRequest], *, in_order: bool = True,
                      **kwargs: Any) -> list[ChatResult]:
    """Blocking :func:`run_requests`: all results, in the order of ``requests``.

    ``in_order=False``: in completion order, and ``requests`` is streamed (never held as a
    list), for callers with many large prompts that look results up by key."""
    if in_order:
        requests = list(requests)

    async def collect() -> list[ChatResult]:
        return [r async for r in run_requests(endpoints, requests, **kwargs)]

    results = run_sync(collect())
    if not in_order:
        return results
    by_key = {r.key: r for r in results}
    return [by_key[r.key] for r in requests]


async def check_endpoints(endpoints: Sequence[EndpointConfig]) -> None:
    """Fail with one clear ConfigError if any endpoint is unreachable, refuses its key or
    does not serve its model (GET /models), before a request is spent."""
    await asyncio.gather(*(check_endpoint_async(ep) for ep in endpoints))


async def probe_n(endpoint: EndpointConfig) -> bool:
    """Does the server honour ``n``? One tiny request (n=2, max_tokens=1)."""
    client = EndpointClient(endpoint.model_copy(update={"stream": False, "max_retries": 2}))
    try:
        body = {"model": endpoint.model, "messages": [{"role": "user", "content": "Say 1."}],
                "n": 2, "max_tokens": 1, **endpoint.extra_body}
        sent = await client.send(body, 16)
        return sent.error is None and len(sent.choices or []) >= 2
    finally:
        await client.aclose()
