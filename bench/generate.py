"""Throughput of teacher generation against llm-katan echo (200 ms latency, 32 concurrent).

Same run, same server: (a) one request at a time (the older EasyDistill design),
(b) 32 threads making blocking openai-SDK calls (the newer EasyDistill design, max_workers=32),
(c) thoughtdistill.api with its journal and (cold) cache on, default settings (pacing 'auto'),
and, to show what the pacing adds, (c0) the same with pacing off.
Ceiling: 32 / 0.2 s = 160 req/s.

    python bench/generate.py [--requests 640] [--serial 25] [--no-record]
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds scripts named like stdlib modules (select.py): keep it off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import datetime
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from openai import OpenAI

from thoughtdistill.api import ChatRequest, EndpointConfig, run_requests_sync
from thoughtdistill.pipeline.katan import LOCAL_KEY, katan

LATENCY_MS, CONCURRENCY = 200, 32
CEILING = CONCURRENCY / (LATENCY_MS / 1000)
RESULTS = Path(__file__).with_name("RESULTS.md")


def messages(i: int) -> list[dict]:
    return [{"role": "user", "content": f"Question {i}: what is {i} squared?"}]


def serial(base_url: str, model: str, count: int) -> float:
    client = OpenAI(base_url=base_url, api_key=LOCAL_KEY, max_retries=0)
    start = time.perf_counter()
    for i in range(count):
        client.chat.completions.create(model=model, messages=messages(i))
    return count / (time.perf_counter() - start)


def threads(base_url: str, model: str, count: int) -> float:
    client = OpenAI(base_url=base_url, api_key=LOCAL_KEY, max_retries=0)
    client.chat.completions.create(model=model, messages=messages(-1))  # warm the pool
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        list(pool.map(lambda i: client.chat.completions.create(model=model, messages=messages(i)), range(count)))
    return count / (time.perf_counter() - start)


def engine(base_url: str, model: str, count: int, work: Path, **endpoint: object) -> float:
    ep = EndpointConfig(name="echo", base_url=base_url, model=model, concurrency=CONCURRENCY, **endpoint)
    reqs = [ChatRequest(key=f"q{i}/echo/0", messages=messages(i)) for i in range(count)]
    start = time.perf_counter()
    results = run_requests_sync(ep, reqs, journal_path=work / "journal.jsonl", cache_dir=work / "cache",
                                progress=False)
    rate = count / (time.perf_counter() - start)
    assert all(r.ok and not r.cached for r in results), "cache must be cold and every request must succeed"
    assert (work / "journal.jsonl").read_bytes().count(b"\n") == count
    return rate


def record(text: str) -> None:
    body = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if "\n## generate\n" not in body:
        body = body.rstrip("\n") + "\n\n## generate\n"
    head, _, rest = body.partition("\n## generate\n")
    nxt = rest.find("\n## ")
    section, tail = (rest, "") if nxt < 0 else (rest[:nxt], rest[nxt:])
    RESULTS.write_text(head + "\n## generate\n" + section.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n" + tail)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=640)
    ap.add_argument("--serial", type=int, default=25, help="requests for the one-at-a-time loop")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    load_before = os.getloadavg()
    with katan(latency_ms=LATENCY_MS, max_concurrent=CONCURRENCY) as server, \
            tempfile.TemporaryDirectory() as tmp:
        a = serial(server.base_url, server.model, args.serial)
        b = threads(server.base_url, server.model, args.requests)
        c0 = engine(server.base_url, server.model, args.requests, Path(tmp) / "c0", pacing=0)
        c = engine(server.base_url, server.model, args.requests, Path(tmp) / "c")
    load_after = os.getloadavg()
    lines = [
        f"(a) one-at-a-time loop      {a:7.1f} req/s  ({a / b:.2f}x of b, {a / CEILING:.2f} of ceiling)",
        f"(b) 32 threads, blocking    {b:7.1f} req/s  (1.00x of b, {b / CEILING:.2f} of ceiling)",
        f"(c0) thoughtdistill, pacing off {c0:7.1f} req/s  ({c0 / b:.2f}x of b, {c0 / CEILING:.2f} of ceiling)",
        f"(c) thoughtdistill journal+cache {c:7.1f} req/s  ({c / b:.2f}x of b, {c / CEILING:.2f} of ceiling)",
    ]
    print("\n".join(lines))
    load = f"load avg 1-min {load_before[0]:.2f} before, {load_after[0]:.2f} after; {os.cpu_count()} cores"
    print(load)
    if not args.no_record:
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        record(f"`python bench/generate.py --requests {args.requests} --serial {args.serial}` — {stamp}, "
               f"llm-katan echo, {LATENCY_MS} ms latency, --max-concurrent {CONCURRENCY} (ceiling {CEILING:.0f} req/s); "
               f"{load} (machine shared with other builders)\n\n```\n" + "\n".join(lines) + "\n```")


if __name__ == "__main__":
    sys.exit(main())
