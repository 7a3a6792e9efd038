"""A small but real OpenAI-compatible HTTP server (starlette + uvicorn, run as its own
process) for what llm-katan cannot do: 429 bursts with Retry-After, ``reasoning_content``
(non-streamed and streamed, with empty deltas), server-side ``n``, ``finish_reason=length``,
and an error body that echoes the Authorization header (to prove the key is redacted).
Not a mock: the engine talks to it over TCP exactly as to vLLM.

Behaviour by the last user message:
- contains ``LEAK`` → HTTP 400 whose message repeats the Authorization header;
- contains ``LONG`` and ``max_tokens`` < 100 → cut: finish_reason ``length``, thought unclosed;
- otherwise: reasoning_content "thinking about <question>" and content "answer (seed=S)".
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import subprocess
import sys
from pathlib import Path

import httpx

HERE = Path(__file__).resolve()


def build_app(burst_every: int, burst_len: int, error_rate: float, honour_n: bool, latency: float,
              retry_after: str, tags: bool):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    counter = itertools.count()
    stats = {"chat": 0, "ok": 0, "429": 0, "5xx": 0}

    async def models(request: Request):
        if "authorization" not in request.headers:
            return JSONResponse({"error": {"message": "no key"}}, status_code=401)
        return JSONResponse({"object": "list", "data": [{"id": "stub-teacher", "object": "model"}]})

    async def get_stats(request: Request):
        return JSONResponse(stats)

    async def chat(request: Request):
        body = await request.json()
        stats["chat"] += 1
        c = next(counter)
        if burst_every and c % burst_every < burst_len:
            stats["429"] += 1
            return JSONResponse({"error": {"message": "rate limited"}}, status_code=429,
                                headers={"Retry-After": retry_after})
        if error_rate and random.random() < error_rate:
            stats["5xx"] += 1
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)
        if latency:
            await asyncio.sleep(latency)
        user = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
        if "LEAK" in user:
            auth = request.headers.get("authorization", "")
            return JSONResponse({"error": {"message": f"bad request from {auth}"}}, status_code=400)
        n = int(body.get("n") or 1) if honour_n else 1
        seed = body.get("seed")
        cut = "LONG" in user and (body.get("max_tokens") or 10**9) < 100
        choices = []
        for i in range(n):
            thought = f"thinking about {user[:40]} #{i}"
            answer = f"answer (seed={seed}, choice={i})"
            if tags:
                content = f"<think>\n{thought}" if cut else f"<think>\n{thought}\n</think>\n\n{answer}"
                choices.append((None, content, "length" if cut else "stop"))
            else:
                choices.append((thought, "" if cut else answer, "length" if cut else "stop"))
        usage = {"prompt_tokens": len(user) // 4, "completion_tokens": 7 * n, "total_tokens": len(user) // 4 + 7 * n}
        stats["ok"] += 1
        if body.get("stream"):
            async def events():
                yield "data: " + json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}) + "\n\n"
                yield "data: " + json.dumps({"choices": []}) + "\n\n"  # empty choice list
                for i, (rc, content, fin) in enumerate(choices):
                    yield "data: " + json.dumps({"choices": [{"index": i, "delta": {}}]}) + "\n\n"  # empty delta
                    if rc:
                        for part in (rc[: len(rc) // 2], rc[len(rc) // 2:]):
                            yield "data: " + json.dumps({"choices": [{"index": i, "delta": {"reasoning_content": part}}]}) + "\n\n"
                    yield "data: " + json.dumps({"choices": [{"index": i, "delta": {"content": content or None}}]}) + "\n\n"
                    yield "data: " + json.dumps({"choices": [{"index": i, "delta": {}, "finish_reason": fin}]}) + "\n\n"
                yield "data: " + json.dumps({"choices": [], "usage": usage}) + "\n\n"
                yield "data: [DONE]\n\n"
            return StreamingResponse(events(), media_type="text/event-stream")
        return JSONResponse({
            "id": f"stub-{c}", "object": "chat.completion", "model": body.get("model"),
            "choices": [{"index": i, "message": {"role": "assistant", "content": content,
                                                 **({"reasoning_content": rc} if rc else {})},
                         "finish_reason": fin} for i, (rc, content, fin) in enumerate(choices)],
            "usage": usage,
        })

    return Starlette(routes=[Route("/v1/models", models), Route("/v1/chat/completions", chat, methods=["POST"]),
                             Route("/stats", get_stats)])


class StubServer:
    def __init__(self, proc: subprocess.Popen, port: int):
        self.proc, self.port = proc, port
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self.model = "stub-teacher"

    def stats(self) -> dict:
        return httpx.get(f"http://127.0.0.1:{self.port}/stats").json()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_stub(**flags) -> StubServer:
    from local_http import launch  # tests/ is on sys.path under pytest (not in the server process)

    args = []
    for name, value in flags.items():
        if value is True:
            args.append("--" + name.replace("_", "-"))
        elif value not in (None, False):
            args += ["--" + name.replace("_", "-"), str(value)]
    return StubServer(*launch(HERE, args, 30, "stub teacher server"))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--burst-every", type=int, default=0, help="429 for the first burst-len of every N requests")
    ap.add_argument("--burst-len", type=int, default=0)
    ap.add_argument("--retry-after", default="0.2")
    ap.add_argument("--error-rate", type=float, default=0.0)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--honour-n", action="store_true")
    ap.add_argument("--tags", action="store_true", help="<think> tags in content instead of reasoning_content")
    a = ap.parse_args()
    import uvicorn

    uvicorn.run(build_app(a.burst_every, a.burst_len, a.error_rate, a.honour_n, a.latency, a.retry_after, a.tags),
                host="127.0.0.1", port=a.port, log_level="warning")
