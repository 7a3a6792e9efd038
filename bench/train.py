"""Training throughput: padded batches vs padding-free vs BFD packing, same model, same data.

The chains are real (multi_chain.jsonl's 800 CoT answers + r1_traces' 10 long traces),
rendered with the thinking template exactly as ``thoughtdistill train`` renders them, cut to
--max-length with the truncate_thought policy. Each mode runs in its own process (so peak
memory is per mode) on the same batches: forward + backward + optimizer step with the TRL
collators thoughtdistill uses. tokens/s counts real (non-padding) tokens.

    python bench/train.py                      # tiny-qwen3 on CPU
    python bench/train.py --model smollm2 --batches 6
    python bench/train.py --append             # also append to bench/RESULTS.md
    python bench/train.py --on-policy --batch-size 4 --batches 4   # on-policy step split (CPU)
    python bench/train.py --model smollm2 --max-length 256 --batches 4 --modes padded+fused,padded
        # a mode ending in +fused scores through TRL's chunked LM head (SFTTrainer's own loss;
        # thoughtdistill's fused_lm_head: true) instead of the model's cross-entropy
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
    from thoughtdistill.train.render import PromptTooLong, conversations, resolve_template, tokenize_conversation

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
    for conv in pool * 2:
        if len(out) == n:
            break
        try:
            ex = tokenize_conversation(tokenizer, template, conv, max_length, "truncate_thought")
        except PromptTooLong:  # a short max_length: questions longer than it are left out
            continue
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
    layout, fused = args.mode.removesuffix("+fused"), args.mode.endswith("+fused")
    if fused:
        from trl.trainer.utils import add_fused_lm_head

        add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))  # as SFTTrainer does
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    if layout == "packing":
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
                                                  padding_free=layout == "padding_free")
    real = processed = 0
    elapsed = 0.0
    for i, batch in enumerate(batches):
        inputs = {k: v.to(device) for k, v in collate(batch).items()
                  if k in ("input_ids", "labels", "attention_mask", "position_ids")}
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = model(**inputs, use_cache=False, **({"fused_lm_head": True} if fused else {})).loss
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


def on_policy_row(args) -> None:
    """tokens/s of on-policy steps (``kd.mode: on_policy``, in-process SmolLM2 teacher, student =
    SmolLM2 cut to 2 layers, as in tests/train/test_onpolicy_learning.py) and the split of a
    step: student generation, teacher scoring, update (forward + backward). Step 1 is warm-up."""
    import tempfile

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from shared_data import shared_data_dir
    from thoughtdistill.models import ensure_model
    from thoughtdistill.train import KDSettings, TrainConfig, run_train
    from thoughtdistill.train.onpolicy_config import OnPolicySettings

    torch.set_num_threads(args.threads)
    teacher = ensure_model("smollm2")
    work = Path(tempfile.mkdtemp(prefix="td_bench_onpolicy_"))
    model = AutoModelForCausalLM.from_pretrained(teacher)
    model.model.layers = model.model.layers[:2]
    model.config.num_hidden_layers = 2
    model.save_pretrained(work / "student")
    AutoTokenizer.from_pretrained(teacher).save_pretrained(work / "student")
    rows = []
    for line in (shared_data_dir() / "multi_chain.jsonl").read_text().splitlines():
        row = json.loads(line)
        if len(row["question"]) < 120:
            ch = row["chains"][0]
            rows.append({"id": row["id"], "question": row["question"], "reasoning": [{
                "thought": ch["response"], "solution": f"The final answer is $\\boxed{{{ch['pred']}}}$."}]})
    (work / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[: args.batch_size * args.batches]))
    result = run_train(TrainConfig(
        data=str(work / "data.jsonl"), student=str(work / "student"), output_dir=str(work / "run"),
        max_length=args.new_tokens + 96, overlength="truncate_thought", max_steps=args.batches,
        per_device_batch_size=args.batch_size, gradient_accumulation_steps=1, learning_rate=5e-4,
        warmup_ratio=0.0, save_checkpoints=False,
        kd=KDSettings(mode="on_policy", teacher=str(teacher), top_k=20, loss="reverse_kl",
                      on_policy=OnPolicySettings(sampling={"max_new_tokens": args.new_tokens}))))
    steps = json.loads(result.log_path.read_text())[1:]
    split = {key: sum(s[key] for s in steps) for key in ("generate_s", "teacher_s", "update_s")}
    total = sum(split.values())
    tokens = sum(s["generated_tokens"] for s in steps)
    load = os.getloadavg()
    info = (f"student SmolLM2 cut to 2 layers, teacher SmolLM2-135M in process, {args.batch_size} prompts a step, "
            f"up to {args.new_tokens} new tokens (mean {tokens / (len(steps) * args.batch_size):.0f}), "
            f"{len(steps)} timed steps after 1 warm-up, threads {args.threads}, load average "
            f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} (1/5/15 min) on {os.cpu_count()} cores")
    table = "\n".join([
        "| on-policy step | generated tokens/s | student generation | teacher scoring | update |",
        "|---|---|---|---|---|",
        f"| cpu | {tokens / total:.1f} | {split['generate_s'] / total:.0%} ({split['generate_s'] / len(steps):.1f} s) | "
        f"{split['teacher_s'] / total:.0%} ({split['teacher_s'] / len(steps):.1f} s) | "
        f"{split['update_s'] / total:.0%} ({split['update_s'] / len(steps):.1f} s) |"])
    print(info)
    print(table)
    if args.append:
        cmd = "python bench/train.py " + " ".join(a for a in sys.argv[1:] if a != "--append")
        with open(ROOT / "bench" / "RESULTS.md", "a") as fh:
            fh.write(f"\n## train on-policy (bench)\n\n`{cmd.strip()}`  \n{info}.\n\n{table}\n")


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
    ap.add_argument("--on-policy", action="store_true", help="on-policy KD step split instead (see on_policy_row)")
    ap.add_argument("--new-tokens", type=int, default=32, help="--on-policy: tokens sampled per prompt")
    args = ap.parse_args()
    if args.on_policy:
        return on_policy_row(args)
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
    lines = [f"| mode | tokens/s | vs {base['mode']} | padding overhead | peak MiB | device |",
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
