"""Training throughput: padded batches vs padding-free vs BFD packing, same model, same data.

The chains are real (multi_chain.jsonl's 800 CoT answers + r1_traces' 10 long traces),
rendered with the thinking template exactly as ``thoughtdistill train`` renders them, cut to
--max-length with the truncate_thought policy. Each mode runs in its own process (so peak
memory is per mode) on the same batches: forward + backward + optimizer step with the TRL
collators thoughtdistill uses. tokens/s counts real (non-padding) tokens.

    python bench/train.py                      # tiny-qwen3 on CPU
    python bench/train.py --model smollm2 --batches 6
    python bench/train.py --append             # also append to bench/RESULTS.md
"""

from __future__ import annotations

import sys

# bench/ holds select.py, io.py...: keep them from shadowing the standard library modules
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))] \
    if (os := __import__("os")) else sys.path
sys.path.append(__file__.rsplit("/bench/", 1)[0] + "/tests")  # shared_data: the test data folder

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("THOUGHTDISTILL_CACHE", str(ROOT / ".cache" / "thoughtdistill"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def real_examples(tokenizer, max_length: int, n: int, seed: int = 0):
    """``n`` chains drawn at random from the real pool, rendered and tokenised."""
    from thoughtdistill.records import Record
    from shared_data import shared_data_dir
    from thoughtdistill.train.render import conversations, resolve_template, tokenize_conversation

    data = shared_data_dir()
    records = []
    for line in (data / "multi_chain.jsonl").read_text().splitlines():
        row = json.loads(line)
        records.append(Record.model_validate({
            "id": row["id"], "question": row["question"],
            "reasoning": [{"thought": c["response"], "solution": f"The final answer is $\\boxed{{{c['pred']}}}$."}
                          for c in row["chains"]]}))
    for line in (data / "r1_traces.jsonl").read_text().splitlines():
        row = json.loads(line)
        records.append(Record.model_validate({
            "id": row["id"], "question": row["problem"],
            "reasoning": [{"thought": row["message_thinking"], "solution": row["message_content"]}]}))
    template = resolve_template(tokenizer).template
    pool = list(conversations(iter(records)))
    random.Random(seed).shuffle(pool)
    out = []
    for conv in (pool * (n // len(pool) + 1))[:n]:
        ex = tokenize_conversation(tokenizer, template, conv, max_length, "truncate_thought")
        if ex is not None:
            out.append({"input_ids": ex.input_ids, "labels": ex.labels})
    return out


def worker(args) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from thoughtdistill.models import ensure_model

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    path = ensure_model(args.model)
    tok = AutoTokenizer.from_pretrained(path)
    need = args.batch_size * (args.batches + 1)
    examples = real_examples(tok, args.max_length, need)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation=args.attn).to(device)
    model.config.use_cache = False
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    if args.mode == "packing":
        from datasets import Dataset
        from trl.data_utils import pack_dataset

        # same examples, packed best-fit-decreasing into rows of max_length * batch_size / 2 tokens
        ds = pack_dataset(Dataset.from_list(examples), args.max_length, "bfd")
        rows = list(ds)
        per = max(1, round(len(rows) / (args.batches + 1)))
        batches = [rows[i:i + per] for i in range(0, len(rows), per)]
        collate = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id, padding_free=True)
    else:
        batches = [examples[i:i + args.batch_size] for i in range(0, need, args.batch_size)]
        collate = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id,
                                                  padding_free=args.mode == "padding_free")
    real = processed = 0
    elapsed = 0.0
    for i, batch in enumerate(batches):
        inputs = {k: v.to(device) for k, v in collate(batch).items()
                  if k in ("input_ids", "labels", "attention_mask", "position_ids")}
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = model(**inputs, use_cache=False).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if i > 0:  # first batch is warm-up
            elapsed += time.perf_counter() - t0
            real += sum(len(e["input_ids"]) for e in batch)
            processed += inputs["input_ids"].numel()
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    lengths = [len(e["input_ids"]) for e in examples]
    return {"mode": args.mode, "device": device, "real_tokens": real, "processed_tokens": processed,
            "seconds": elapsed, "tokens_per_s": real / elapsed, "peak_mib": peak,
            "mean_len": sum(lengths) / len(lengths), "max_len": max(lengths), "n": len(lengths)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny-qwen3")
    ap.add_argument("--max-length", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--attn", default="sdpa")
    ap.add_argument("--modes", default="padded,padding_free,packing")
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--append", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args()
    if args.mode:
        print("RESULT " + json.dumps(worker(args)))
        return
    results = []
    for mode in args.modes.split(","):
        cmd = [sys.executable, __file__, "--mode", mode] + [
            a for a in sys.argv[1:] if a not in ("--append",)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"{mode} failed:\n{proc.stderr[-3000:]}")
        results.append(json.loads(line[7:]))
    base = results[0]
    load = os.getloadavg()[0]
    lines = [f"| mode | tokens/s | vs padded | padding overhead | peak MiB | device |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['mode']} | {r['tokens_per_s']:.0f} | {r['tokens_per_s'] / base['tokens_per_s']:.2f}x | "
                     f"{r['processed_tokens'] / r['real_tokens']:.2f}x tokens | {r['peak_mib']:.0f} | {r['device']} |")
    info = (f"model {args.model}, max_length {args.max_length}, batch {args.batch_size}, {args.batches} timed "
            f"batches after 1 warm-up, {base['n']} real chains (mean {base['mean_len']:.0f} tokens, max "
            f"{base['max_len']}), threads {args.threads}, load average {load:.1f}")
    table = "\n".join(lines)
    print(info)
    print(table)
    if args.append:
        cmd = "python bench/train.py " + " ".join(a for a in sys.argv[1:] if a != "--append")
        with open(ROOT / "bench" / "RESULTS.md", "a") as fh:
            fh.write(f"\n## train\n\n`{cmd.strip()}`  \n{info}.\n\n{table}\n")


if __name__ == "__main__":
    main()
