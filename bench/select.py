"""Benchmark ``thoughtdistill select`` against the EasyDistill mixer's in-memory approach.

Synthetic OmniThought-shaped input: N chains over ~N/3 questions (1-5 chains each), chain
lengths (thought and answer separately) drawn from the real traces in
../shared/data/r1_traces.jsonl and cut out of their text, random RV/CD, 10% incorrect, 2%
truncated, ~1% exact and ~1% near-duplicate questions.

Each measurement runs in a fresh child process that reports its own wall time and peak RSS
(ru_maxrss). The baseline -- parse every row into a list, group chains by CD bin, sort by RV
distance, write (``cot_mix_by_rv_cd``'s approach, reimplemented in a few lines, with orjson) --
runs on an input it can hold (``--baseline-chains``); student-fit and rv-cd-mix (full hygiene:
exact + MinHash near-dup + decontamination against ../shared/data + quality filters) run on
that same input and on the large one.

    python bench/select.py                       # 2M chains (~10 GB) + 500K-chain baseline
    python bench/select.py --chains 200000 --baseline-chains 100000   # quick
"""

from __future__ import annotations

import os.path
import sys

# This file is named select.py: drop its folder from the path so ``import select`` (stdlib,
# needed by subprocess) is not this script.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.append(__file__.rsplit("/bench/", 1)[0] + "/tests")  # shared_data: the test data folder

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import orjson  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

TEACHERS = ["deepseek-r1", "QwQ-32B", "deepseek-r1-0528"]
WORDS = ("integer prime triangle circle polynomial sequence probability matrix function derivative "
         "integral graph vertex edge remainder digit fraction ratio angle radius perimeter area volume "
         "coefficient root equation inequality maximum minimum sum product divisor multiple").split()


def generate(path: Path, n_chains: int, seed: int = 0) -> dict:
    from shared_data import shared_file

    traces = [orjson.loads(x) for x in shared_file("r1_traces.jsonl").read_bytes().splitlines() if x.strip()]
    t_lens = np.array([len(t["message_thinking"]) for t in traces])
    a_lens = np.array([len(t["message_content"]) for t in traces])
    think = "\n\n".join(t["message_thinking"] for t in traces)
    think = think + think
    answer = "\n\n".join(t["message_content"] for t in traces)
    answer = answer + answer
    rng = np.random.default_rng(seed)
    written = chains = q = 0
    with open(path, "wb", buffering=1 << 22) as fh:
        while chains < n_chains:
            k = int(min(rng.integers(1, 6), n_chains - chains))
            r = rng.random()
            words = [WORDS[i] for i in rng.integers(0, len(WORDS), 18)]
            nums = rng.integers(2, 10_000, 4)
            question = (f"Problem {q}: let n = {nums[0]} and m = {nums[1]}. Consider the " + " ".join(words)
                        + f". Find the {words[0]} when the {words[1]} equals {nums[2]} modulo {nums[3]}.")
            if r < 0.01 and q > 0:  # exact duplicate of the previous question (case/space changed)
                question = prev.upper() + "  "
            elif r < 0.02 and q > 0:  # near duplicate: one number changed
                question = prev.replace(f"modulo", "mod", 1)
            prev = question
            rs = []
            for _ in range(k):
                j = rng.integers(0, len(traces), 2)
                lt, la = int(t_lens[j[0]]), int(a_lens[j[1]])
                o1, o2 = int(rng.integers(0, len(think) // 2)), int(rng.integers(0, len(answer) // 2))
                trunc = rng.random() < 0.02
                text = ("<think>\n" + think[o1:o1 + lt]) if trunc else (
                    "<think>\n" + think[o1:o1 + lt] + "\n</think>\n\n" + answer[o2:o2 + la] + " \\boxed{7}")
                rs.append({"teacher": TEACHERS[int(rng.integers(0, 3))], "full_response": text,
                           "finish_reason": "length" if trunc else "stop",
                           "usage": {"completion_tokens": len(text) // 4},
                           "Cognitive_Difficulty": {"judge": "QwQ-32B", "level": int(rng.integers(1, 10))},
                           "Reasoning_Verbosity": {"judge": "QwQ-32B", "level": int(rng.integers(1, 10))},
                           "correctness": {"verdict": bool(rng.random() >= 0.10), "by": "synthetic"}})
            line = orjson.dumps({"id": f"q{q}", "question": question, "domain": "math", "reasoning": rs}) + b"\n"
            fh.write(line)
            written += len(line)
            chains += k
            q += 1
    return {"chains": chains, "questions": q, "bytes": written}


# --- children ------------------------------------------------------------------------------


def baseline(inp: Path, out: Path, edges=(0.0, 3.0, 6.0, 10.0), samples_per_bin=None) -> tuple[int, int]:
    """EasyDistill cot_mix_by_rv_cd's approach: everything in a list, group, sort, write."""
    import bisect

    with open(inp, "rb") as fh:
        rows = [orjson.loads(line) for line in fh]
    bins: dict[int, list] = {}
    n_in = 0
    for r in rows:
        for c in r["reasoning"]:
            n_in += 1
            cd = c["Cognitive_Difficulty"]["level"]
            if not (edges[0] <= cd <= edges[-1]) or not c["correctness"]["verdict"]:
                continue
            bins.setdefault(bisect.bisect_right(edges, cd) - 1, []).append((r, c))
    n_out = 0
    with open(out, "wb") as fh:
        for b in sorted(bins):
            target = 2.0 + b * 8.0 / (len(edges) - 2)
            cands = sorted(bins[b], key=lambda rc: abs(rc[1]["Reasoning_Verbosity"]["level"] - target))
            for r, c in cands[:samples_per_bin]:
                fh.write(orjson.dumps({**r, "reasoning": [c], "cd_bin": b, "rv_target": target}) + b"\n")
                n_out += 1
    return n_in, n_out


def child(args) -> None:
    t0 = time.perf_counter()
    if args.child == "baseline":
        n_in, n_out = baseline(Path(args.input), Path(args.output))
        extra = {}
    else:
        from thoughtdistill.select import SelectConfig, run_select

        cfg = SelectConfig(input=[args.input], output=args.output, strategy=args.child, seed=0,
                           student_fit={"student_size": "8B"})
        res = run_select(cfg)
        n_in, n_out = res.chains_in, res.chains_out
        extra = {"timing_s": res.report["timing_s"],
                 "steps": {s["step"]: s["chains"] for s in res.report["steps"]}}
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"what": args.child, "chains_in": n_in, "chains_out": n_out, "wall_s": round(wall, 2),
                      "rows_per_s": round(n_in / wall), "peak_rss_mb": round(rss), **extra}))


def measure(what: str, inp: Path, work: Path) -> dict:
    out = work / f"out-{what}.jsonl"
    p = subprocess.run([sys.executable, __file__, "--child", what, "--input", str(inp), "--output", str(out)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{what} failed:\n{p.stderr[-3000:]}")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    from thoughtdistill.select import figures_dir

    shutil.rmtree(figures_dir(out), ignore_errors=True)
    out.unlink(missing_ok=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", type=int, default=2_000_000)
    ap.add_argument("--baseline-chains", type=int, default=500_000)
    ap.add_argument("--workdir", default=None, help="where temp files go (default: a temp folder, removed)")
    ap.add_argument("--child", default=None)
    ap.add_argument("--input")
    ap.add_argument("--output")
    args = ap.parse_args()
    if args.child:
        return child(args)
    work = Path(tempfile.mkdtemp(prefix="select-bench-", dir=args.workdir))
    try:
        load = os.getloadavg()
        print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
              f"load {load[0]:.1f}/{load[1]:.1f}")
        small, big = work / "small.jsonl", work / "big.jsonl"
        t = time.perf_counter()
        gs = generate(small, args.baseline_chains, seed=1)
        print(f"# generated small: {gs} in {time.perf_counter() - t:.0f}s")
        results = []
        for what in ("baseline", "student-fit", "rv-cd-mix"):
            r = measure(what, small, work)
            r["input_gb"] = round(gs["bytes"] / 1e9, 2)
            results.append(r)
            print(json.dumps(r), flush=True)
        small.unlink()
        if args.chains > args.baseline_chains:
            t = time.perf_counter()
            gb = generate(big, args.chains, seed=2)
            print(f"# generated big: {gb} in {time.perf_counter() - t:.0f}s")
            for what in ("student-fit", "rv-cd-mix"):
                r = measure(what, big, work)
                r["input_gb"] = round(gb["bytes"] / 1e9, 2)
                results.append(r)
                print(json.dumps(r), flush=True)
        base = results[0]
        print("\n| run | input | chains in | wall s | chains/s | peak RSS MB | chains/s vs baseline |")
        print("|---|---|---|---|---|---|---|")
        for r in results:
            ratio = r["rows_per_s"] / base["rows_per_s"]
            print(f"| {r['what']} | {r['input_gb']} GB | {r['chains_in']} | {r['wall_s']} | {r['rows_per_s']} | "
                  f"{r['peak_rss_mb']} | {ratio:.2f}x |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
