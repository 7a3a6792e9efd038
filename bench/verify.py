"""Bench: math-verify records/s serial vs the process pool (all MATH-500 reference
solutions), and judge requests/s against llm-katan echo (200 ms latency, 32 concurrent).

    python bench/verify.py [--processes 2] [--judge-requests 400]
"""

from __future__ import annotations

import os
import sys

# bench/select.py (another bench) would shadow the stdlib 'select' module that subprocess needs
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
sys.path.append(__file__.rsplit("/bench/", 1)[0] + "/tests")  # shared_data: the test data folder

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path

from shared_data import shared_file


def bench_math(processes: int) -> dict:
    from thoughtdistill.verify.math import verify_math_many

    rows = [json.loads(line) for line in open(shared_file("math500.jsonl"), encoding="utf-8")]
    pairs = [(r["solution"], r["answer"]) for r in rows]
    # Untimed warm-up: the first calls compile math-verify's regexes and import sympy parts,
    # which the forked pool inherits. The pool runs first: forked after the serial arm, its
    # workers would inherit sympy's cache of every expression already parsed (3x "speed-up").
    verify_math_many(pairs[:20], processes=1)
    t = time.perf_counter()
    pooled = verify_math_many(pairs, processes=processes)
    tp = time.perf_counter() - t
    t = time.perf_counter()
    serial = verify_math_many(pairs, processes=1)
    ts = time.perf_counter() - t
    assert [r.verdict for r in serial] == [r.verdict for r in pooled]
    return {"records": len(pairs), "correct": sum(r.verdict is True for r in serial),
            "serial_rps": len(pairs) / ts, "pool_rps": len(pairs) / tp, "processes": processes,
            "speedup": ts / tp, "serial_s": ts, "pool_s": tp}


def bench_judge(n_requests: int) -> dict:
    from thoughtdistill.api import EndpointConfig
    from thoughtdistill.judge import JudgeConfig, run_judge
    from thoughtdistill.pipeline.katan import katan

    tmp = Path(tempfile.mkdtemp(prefix="bench-judge-"))
    rows = [json.loads(line) for line in open(shared_file("math500.jsonl"), encoding="utf-8")]
    n_chains = n_requests // 2  # RV + CD per chain
    src = tmp / "in.jsonl"
    with open(src, "w", encoding="utf-8") as fh:
        for r in rows[:n_chains]:
            fh.write(json.dumps({"id": r["id"], "question": r["problem"], "reasoning": [
                {"full_response": r["solution"] + " <score>4</score>"}]}) + "\n")
    with katan(workdir=tmp / "k", latency_ms=200, max_concurrent=32) as srv:
        judge = EndpointConfig(name="echo", base_url=srv.base_url, model=srv.model, concurrency=32)
        cfg = JudgeConfig(input=src, output=tmp / "out.jsonl", judges=[judge], cache=False, progress=False,
                          metrics=["Reasoning_Verbosity", "Cognitive_Difficulty"], rule_verify=False)
        t = time.perf_counter()
        res = run_judge(cfg)
        dt = time.perf_counter() - t
    assert res.unparsable == 0 and res.sent == 2 * n_chains
    ideal = 32 / 0.2
    return {"requests": res.sent, "seconds": dt, "rps": res.sent / dt, "ideal_rps": ideal,
            "ratio_vs_ideal": res.sent / dt / ideal}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--judge-requests", type=int, default=400)
    args = ap.parse_args()
    print(f"load average: {os.getloadavg()}, cores: {os.cpu_count()}")
    m = bench_math(args.processes)
    print(f"math-verify on {m['records']} MATH-500 solutions ({m['correct']} correct): "
          f"serial {m['serial_rps']:.0f} rec/s ({m['serial_s']:.2f}s), pool x{m['processes']} "
          f"{m['pool_rps']:.0f} rec/s ({m['pool_s']:.2f}s): {m['speedup']:.2f}x vs serial")
    j = bench_judge(args.judge_requests)
    print(f"judge: {j['requests']} requests in {j['seconds']:.2f}s = {j['rps']:.1f} req/s "
          f"(ideal 32/0.2s = {j['ideal_rps']:.0f} req/s: {j['ratio_vs_ideal']:.2f}x of ideal)")


if __name__ == "__main__":
    main()
