"""A small real OpenAI-compatible server that scores token sequences the way vLLM does:
``POST /v1/completions`` with ``prompt`` as token ids and ``prompt_logprobs: k`` answers, per
position, the model's top-k plus the token actually there (its own rank), position 0 ``None``,
``-inf`` as ``-9999.0`` — the layout of vLLM's ``CompletionResponseChoice.prompt_logprobs``
(vllm/entrypoints/openai/completion/protocol.py, ``Logprob`` in vllm/logprobs.py).
llm-katan has no such endpoint; vLLM needs a GPU here. Run as its own process; the client
talks to it over TCP exactly as to vLLM. The log-probs are the real model's (transformers).

Flags make it misbehave the ways a wrong teacher server does:
``--no-logprobs`` (answers completions without prompt_logprobs, like servers that ignore the
field), ``--decode-tokenizer DIR`` (decodes tokens with another tokenizer: a teacher whose
tokenizer differs), ``--echo-auth`` (HTTP 400 whose message repeats the Authorization header),
``--fail-first N`` (HTTP 503 for the first N completions, then normal answers).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve()


def score(model, ids: list[int], k: int, decode) -> list:
    import torch

    with torch.no_grad():
        logprobs = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
    rows: list = [None]
    for pos in range(1, len(ids)):
        lp = logprobs[pos - 1]
        top = torch.topk(lp, k)
        entry = {}
        for rank, (tid, value) in enumerate(zip(top.indices.tolist(), top.values.tolist()), start=1):
            entry[str(tid)] = {"logprob": max(value, -9999.0), "rank": rank, "decoded_token": decode(tid)}
        actual = ids[pos]
        if str(actual) not in entry:
            rank = int((lp > lp[actual]).sum()) + 1
            entry[str(actual)] = {"logprob": max(float(lp[actual]), -9999.0), "rank": rank,
                                  "decoded_token": decode(actual)}
        # vLLM's dict order is not the rank order: shuffle it deterministically
        rows.append(dict(sorted(entry.items(), key=lambda item: item[0])))
    return rows


def build_app(model_dir: str, served_name: str, no_logprobs: bool, decode_tokenizer: str | None, echo_auth: bool,
              fail_first: int = 0):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tok = AutoTokenizer.from_pretrained(decode_tokenizer or model_dir)
    stats = {"completions": 0, "tokens": 0, "503": 0}

    def decode(tid: int) -> str:
        return tok.decode([tid])

    async def models(request: Request):
        return JSONResponse({"object": "list", "data": [{"id": served_name, "object": "model"}]})

    async def get_stats(request: Request):
        return JSONResponse(stats)

    async def completions(request: Request):
        if echo_auth:
            auth = request.headers.get("authorization", "")
            return JSONResponse({"error": {"message": f"bad request from {auth}"}}, status_code=400)
        if stats["503"] < fail_first:
            stats["503"] += 1
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)
        body = await request.json()
        ids = body["prompt"]
        stats["completions"] += 1
        stats["tokens"] += len(ids)
        k = body.get("prompt_logprobs")
        choice = {"index": 0, "text": " the", "logprobs": None, "finish_reason": "length", "stop_reason": None,
                  "prompt_token_ids": None}
        if k is not None and not no_logprobs:
            choice["prompt_logprobs"] = score(model, ids, int(k), decode)
        return JSONResponse({"id": f"cmpl-{stats['completions']}", "object": "text_completion", "model": served_name,
                             "choices": [choice],
                             "usage": {"prompt_tokens": len(ids), "completion_tokens": 1, "total_tokens": len(ids) + 1}})

    return Starlette(routes=[Route("/v1/models", models), Route("/v1/completions", completions, methods=["POST"]),
                             Route("/stats", get_stats)])


class ScoringServer:
    def __init__(self, proc: subprocess.Popen, port: int, served_name: str):
        self.proc, self.port, self.model = proc, port, served_name
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def stats(self) -> dict:
        return httpx.get(f"http://127.0.0.1:{self.port}/stats").json()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_scoring_server(model_dir: str, served_name: str = "teacher", **flags) -> ScoringServer:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [sys.executable, str(HERE), "--port", str(port), "--model", str(model_dir), "--served-name", served_name]
    for name, value in flags.items():
        if value is True:
            args.append("--" + name.replace("_", "-"))
        elif value not in (None, False):
            args += ["--" + name.replace("_", "-"), str(value)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode()[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/stats", timeout=1).status_code == 200:
                return ScoringServer(proc, port, served_name)
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("scoring server did not start")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--served-name", default="teacher")
    ap.add_argument("--no-logprobs", action="store_true")
    ap.add_argument("--decode-tokenizer")
    ap.add_argument("--echo-auth", action="store_true")
    ap.add_argument("--fail-first", type=int, default=0)
    a = ap.parse_args()
    import torch
    import uvicorn

    torch.set_num_threads(1)
    uvicorn.run(build_app(a.model, a.served_name, a.no_logprobs, a.decode_tokenizer, a.echo_auth, a.fail_first),
                host="127.0.0.1", port=a.port, log_level="warning")
