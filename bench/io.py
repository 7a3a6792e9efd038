"""Streaming I/O at scale: write + read N chains (default 2 million) as JSONL and Parquet.

Synthetic records are built from the real traces in ../shared/data/r1_traces.jsonl: each
chain takes a window of a real thought (varied start and length) and a real solution, ids and
question texts vary per record, and judge levels / correctness are drawn at random, so the
records look like what a judge stage writes. Reports records/s, chains/s, MB/s and peak RSS
(must stay < 1 GB: the readers and writers stream), and the ratio against the baseline:
the same rows written and read with stdlib ``json`` line by line, no validation.

    python bench/io.py                    # 2,000,000 chains (takes minutes)
    python bench/io.py --chains 100000    # quick run
"""

from __future__ import annotations

import sys
from pathlib import Path

# Running ``python bench/io.py`` puts bench/ first on sys.path, where sibling scripts named
# like stdlib modules (select.py, io.py…) would shadow them: drop it, add src/ instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.append(__file__.rsplit("/bench/", 1)[0] + "/tests")  # shared_data: the test data folder
sys.path.insert(0, str(_HERE.parent / "src"))

import argparse
import json
import os
import random
import resource
import shutil
import tempfile
import time

from thoughtdistill.io import ParquetWriter, read_records, write_records  # noqa: E402
from thoughtdistill.records import Record  # noqa: E402
from shared_data import shared_file  # noqa: E402

RSS_LIMIT_MB = 1024


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def synthetic_rows(n_chains: int, per_record: int, seed: int = 0):
    traces = [json.loads(line) for line in shared_file("r1_traces.jsonl").read_text().splitlines()]
    rng = random.Random(seed)
    n_records = (n_chains + per_record - 1) // per_record
    made = 0
    for i in range(n_records):
        base = traces[i % len(traces)]
        reasoning = []
        for k in range(min(per_record, n_chains - made)):
            t = traces[rng.randrange(len(traces))]
            thought = t["message_thinking"]
            start = rng.randrange(max(1, len(thought) - 400))
            length = rng.randrange(300, 1500)
            reasoning.append({
                "teacher": t["teacher"],
                "thought": f"[{i}.{k}] " + thought[start:start + length],
                "solution": t["message_content"][-rng.randrange(100, 400):],
                "finish_reason": "stop",
                "truncated": False,
                "usage": {"prompt_tokens": rng.randrange(50, 300), "completion_tokens": rng.randrange(300, 4000)},
                "Cognitive_Difficulty": {"judge": "QwQ-32B", "level": rng.randrange(10)},
                "Reasoning_Verbosity": {"judge": "QwQ-32B", "level": rng.randrange(10)},
                "correctness": {"verdict": rng.random() < 0.8, "by": "math-verify"},
            })
        made += len(reasoning)
        yield {"id": f"syn-{i}", "question": f"(variant {i}) " + base["problem"], "answer": base["gtruth_answer"],
               "domain": "math", "source": "bench/io synthetic", "reasoning": reasoning}


def timed(label: str, fn, n_records: int, n_chains: int, path: Path | None = None) -> dict:
    start = time.perf_counter()
    fn()
    secs = time.perf_counter() - start
    size = (path.stat().st_size if path.is_file() else 0) if path else 0
    row = {"step": label, "seconds": round(secs, 1), "records_per_s": round(n_records / secs),
           "chains_per_s": round(n_chains / secs), "file_mb": round(size / 1e6),
           "mb_per_s": round(size / 1e6 / secs, 1) if size else None, "peak_rss_mb": round(peak_rss_mb())}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chains", type=int, default=2_000_000, help="number of chains (default 2,000,000)")
    ap.add_argument("--per-record", type=int, default=4, help="chains per question (default 4)")
    ap.add_argument("--dir", default=None, help="work folder (default: a temp dir, removed after)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the stdlib-json baseline")
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="td-bench-io-"))
    work.mkdir(parents=True, exist_ok=True)
    n_chains = args.chains
    n_records = (n_chains + args.per_record - 1) // args.per_record
    print(f"# {n_chains:,} chains in {n_records:,} records; {os.cpu_count()} cores; "
          f"load avg {os.getloadavg()[0]:.1f}; work dir {work}", flush=True)
    results = []
    try:
        jsonl, parquet = work / "chains.jsonl", work / "chains.parquet"
        records = lambda: (Record.model_validate(r) for r in synthetic_rows(n_chains, args.per_record))  # noqa: E731

        def write_jsonl():
            assert write_records(jsonl, records()) == n_records

        def read_jsonl():
            assert sum(len(r.reasoning) for r in read_records(jsonl)) == n_chains

        def write_parquet():
            with ParquetWriter(parquet, rows_per_group=1024) as w:
                assert w.write_all(records()) == n_records

        def read_parquet():
            assert sum(len(r.reasoning) for r in read_records(parquet)) == n_chains

        results.append(timed("jsonl write (validate + dump)", write_jsonl, n_records, n_chains, jsonl))
        results.append(timed("jsonl read (parse + validate)", read_jsonl, n_records, n_chains, jsonl))
        results.append(timed("parquet write", write_parquet, n_records, n_chains, parquet))
        results.append(timed("parquet read", read_parquet, n_records, n_chains, parquet))
        if not args.no_baseline:
            base = work / "baseline.jsonl"

            def base_write():
                with open(base, "w", encoding="utf-8") as fh:
                    for row in synthetic_rows(n_chains, args.per_record):
                        fh.write(json.dumps(row, ensure_ascii=False) + "\n")

            def base_read():
                with open(base, encoding="utf-8") as fh:
                    assert sum(len(json.loads(line)["reasoning"]) for line in fh) == n_chains

            results.append(timed("baseline stdlib json write (no validation)", base_write, n_records, n_chains, base))
            results.append(timed("baseline stdlib json read (no validation)", base_read, n_records, n_chains, base))
            by = {r["step"].split(" (")[0]: r for r in results}
            for ours in ("jsonl write", "jsonl read", "parquet write", "parquet read"):
                kind = ours.split()[-1]
                ratio = by[ours]["records_per_s"] / by[f"baseline stdlib json {kind}"]["records_per_s"]
                print(f"# {ours}: {ratio:.2f}x the records/s of the stdlib-json baseline", flush=True)
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    peak = peak_rss_mb()
    print(f"# peak RSS {peak:.0f} MB (limit {RSS_LIMIT_MB} MB): {'OK' if peak < RSS_LIMIT_MB else 'OVER'}")
    if peak >= RSS_LIMIT_MB:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
