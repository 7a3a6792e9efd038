"""A small real OpenAI-compatible server that scores token sequences the way vLLM does:
``POST /v1/completions`` with ``prompt`` as token ids and ``prompt_logprobs: k`` answers, per
position, the model's top-k plus the token actually there (its own rank), position 0 ``None``,
``-inf`` as ``-9999.0`` — the layout of vLLM's ``CompletionResponseChoice.prompt_logprobs``
(vllm/entrypoints/openai/completion/protocol.py, ``Logprob`` in vllm/logprobs.py).
llm-katan has no such endpoint; vLLM needs a GPU here. Run as its own process; the client
talks to it over TCP exactly as to vLLM. The log-probs are the real model's (transformers).

Request headers (an endpoint's ``headers``) make it misbehave the ways a wrong teacher server
does, so one server process serves every test: ``x-no-logprobs: 1`` (answers completions
without prompt_logprobs, like servers that ignore the field), ``x-decode-tokenizer: DIR``
(decodes tokens with another tokenizer: a teacher whose tokenizer differs), ``x-echo-auth: 1``
(HTTP 400 whose message repeats the Authorization header), ``x-fail-first: N`` (HTTP 503 for
the first N completions of that ``x-test`` key). ``/stats`` counts per ``x-test`` key.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
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


def build_app(model_dir: str, served_name: str):
    from collections import defaultdict

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tokenizers = {"": AutoTokenizer.from_pretrained(model_dir)}
    stats: dict = defaultdict(lambda: {"completions": 0, "tokens": 0, "503": 0})

    def decoder(folder: str):
        if folder not in tokenizers:
            tokenizers[folder] = AutoTokenizer.from_pretrained(folder)
        return lambda tid: tokenizers[folder].decode([tid])

    async def models(request: Request):
        return JSONResponse({"object": "list", "data": [{"id": served_name, "object": "model"}]})

    async def get_stats(request: Request):
        return JSONResponse(stats[request.query_params.get("test", "")])

    async def completions(request: Request):
        h = request.headers
        counts = stats[h.get("x-test", "")]
        if h.get("x-echo-auth"):
            return JSONResponse({"error": {"message": f"bad request from {h.get('authorization', '')}"}},
                                status_code=400)
        if counts["503"] < int(h.get("x-fail-first", 0)):
            counts["503"] += 1
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)
        body = await request.json()
        ids = body["prompt"]
        counts["completions"] += 1
        counts["tokens"] += len(ids)
        k = body.get("prompt_logprobs")
        choice = {"index": 0, "text": " the", "logprobs": None, "finish_reason": "length", "stop_reason": None,
                  "prompt_token_ids": None}
        if k is not None and not h.get("x-no-logprobs"):
            choice["prompt_logprobs"] = score(model, ids, int(k), decoder(h.get("x-decode-tokenizer", "")))
        return JSONResponse({"id": f"cmpl-{counts['completions']}", "object": "text_completion", "model": served_name,
                             "choices": [choice],
                             "usage": {"prompt_tokens": len(ids), "completion_tokens": 1, "total_tokens": len(ids) + 1}})

    return Starlette(routes=[Route("/v1/models", models), Route("/v1/completions", completions, methods=["POST"]),
                             Route("/stats", get_stats)])


class ScoringServer:
    def __init__(self, proc: subprocess.Popen, port: int, served_name: str):
        self.proc, self.port, self.model = proc, port, served_name
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def stats(self, test: str = "") -> dict:
        return httpx.get(f"http://127.0.0.1:{self.port}/stats", params={"test": test}).json()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_scoring_server(model_dir: str, served_name: str = "teacher") -> ScoringServer:
    from local_http import launch  # tests/ is on sys.path under pytest (not in the server process)

    proc, port = launch(HERE, ["--model", str(model_dir), "--served-name", served_name], 180, "scoring server")
    return ScoringServer(proc, port, served_name)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--served-name", default="teacher")
    a = ap.parse_args()
    import torch
    import uvicorn

    torch.set_num_threads(1)
    uvicorn.run(build_app(a.model, a.served_name),
                host="127.0.0.1", port=a.port, log_level="warning")
