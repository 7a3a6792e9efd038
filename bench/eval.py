"""Tokens/s of batched vs one-at-a-time generation with the SmolLM2 fixture (transformers
backend, CPU), in the same run. Target: batched >= 5x. With --vllm on a GPU machine, also
the vLLM backend's throughput on the same prompts.

    python bench/eval.py [--prompts 32] [--batch-size 32] [--max-new-tokens 128]
                         [--single-prompts 8] [--threads N] [--vllm MODEL]
"""

from __future__ import annotations

import sys

# bench/ holds select.py, which would shadow the standard library's `select` for a script run
# from this folder: take the script's folder off the import path before anything else.
if sys.path and sys.path[0] and sys.path[0].rstrip("/").endswith("bench"):
    sys.path.pop(0)

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--single-prompts", type=int, default=None,
                    help="run the one-at-a-time arm on only the first N prompts (its tokens/s is a rate; "
                         "saves time on a slow machine). Default: all prompts")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--vllm", default=None, help="model folder for the vLLM backend (GPU)")
    args = ap.parse_args()

    from thoughtdistill.evaluate.backends import Sampling, TransformersBackend
    from thoughtdistill.evaluate.benchmarks import build_messages, get_benchmark, load_items
    from thoughtdistill.models import ensure_model

    spec = get_benchmark("gsm8k")
    prompts = [build_messages(spec, i) for i in load_items(spec, limit=args.prompts)]
    # Sampling (Qwen3 non-thinking defaults) and a fixed seed: both arms do the same kind of work;
    # tokens/s counts the tokens each arm actually produced.
    sampling = Sampling(max_new_tokens=args.max_new_tokens).resolved(False)
    model = ensure_model("smollm2")
    results = {}
    arms = (("one-at-a-time", 1, prompts[:args.single_prompts or len(prompts)]),
            (f"batched (batch {args.batch_size})", args.batch_size, prompts))
    for label, bs, arm_prompts in arms:
        backend = TransformersBackend(model, enable_thinking=False, batch_size=bs, num_threads=args.threads)
        backend.generate(prompts[:1], Sampling(max_new_tokens=4), seed=0)  # warm-up
        start = time.perf_counter()
        outs = backend.generate(arm_prompts, sampling, seed=0)
        secs = time.perf_counter() - start
        tokens = sum(o[0].completion_tokens for o in outs)
        results[label] = (tokens, secs)
        print(f"{label:24s} {len(arm_prompts):3d} prompts {tokens:6d} tokens in {secs:7.2f} s = {tokens / secs:8.1f} tokens/s "
              f"(threads {backend.describe()['threads']})")
        backend.close()
    (t1, s1), (tb, sb) = results.values()
    print(f"ratio batched / one-at-a-time: {(tb / sb) / (t1 / s1):.2f}x (target >= 5x)")
    if args.vllm:
        from thoughtdistill.evaluate.backends import VLLMBackend

        backend = VLLMBackend(args.vllm, enable_thinking=False)
        start = time.perf_counter()
        outs = backend.generate(prompts, sampling, seed=0)
        secs = time.perf_counter() - start
        tokens = sum(o[0].completion_tokens for o in outs)
        print(f"{'vllm':24s} {tokens:6d} tokens in {secs:7.2f} s = {tokens / secs:8.1f} tokens/s")


if __name__ == "__main__":
    main()
