"""On-policy KD with a vLLM-served teacher, for a machine with a GPU and vLLM installed.

What the CPU tests cannot show: the served-teacher path against real vLLM. It
1. serves the teacher (default: the SmolLM2 fixture) with ``vllm serve``-equivalent
   ``python -m vllm.entrypoints.openai.api_server --max-logprobs 20``;
2. checks vLLM's ``prompt_logprobs`` against the same teacher run in process (top-k ids and
   log-probs at every position of real rendered prompts and chains);
3. runs ``--steps`` on-policy steps of a student sharing the tokenizer (SmolLM2 cut to 2
   layers) with that server as teacher, and prints the per-step split (student generation,
   teacher scoring, update) and tokens/s.

    python bench/gpu_onpolicy_check.py                     # ~3-5 min on one GPU, most of it vLLM start-up
    python bench/gpu_onpolicy_check.py --teacher /models/Qwen3-1.7B --student /models/Qwen3-0.6B

Exit code 0 = every check passed. With $OUT set, the results also go to $OUT/onpolicy_gpu.json.
"""

from __future__ import annotations

import os.path
import sys

# bench/ holds select.py, io.py...: keep them from shadowing the standard library modules
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_vllm(model: str, port: int, log: Path, dtype: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
           "--served-model-name", "teacher", "--port", str(port), "--max-logprobs", "20",
           "--max-model-len", "2048", "--gpu-memory-utilization", "0.35", "--dtype", dtype]
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 420) -> bool:
    """True once /v1/models answers; False if vLLM exited (e.g. a dtype it does not support)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(2)
    proc.kill()
    return False


def serve(model: str, work: Path) -> tuple[subprocess.Popen, int, str]:
    """vLLM in float32 (exact parity with the in-process teacher), else bfloat16."""
    for dtype in ("float32", "bfloat16"):
        port, log = free_port(), work / f"vllm-{dtype}.log"
        proc = start_vllm(model, port, log, dtype)
        if wait_ready(port, proc):
            return proc, port, dtype
        print(f"vLLM did not start with --dtype {dtype}:\n{log.read_text()[-1500:]}", flush=True)
    sys.exit("vLLM did not start (logs above)")


def records(n: int) -> list[dict]:
    """Canonical records from the packaged quickstart chains (thought + boxed answer)."""
    out = []
    for line in (ROOT / "configs/recipes/quickstart-data/multi_chain.jsonl").read_text().splitlines():
        row = json.loads(line)
        if len(row["question"]) > 300 or not row.get("chains"):
            continue
        ch = row["chains"][0]
        out.append({"id": row["id"], "question": row["question"],
                    "reasoning": [{"thought": ch["response"], "solution": f"The final answer is $\\boxed{{{ch['pred']}}}$.",
                                   "finish_reason": "stop"}]})
        if len(out) >= n:
            break
    return out


def truncated_student(teacher: str, out: Path) -> str:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(teacher)
    model.model.layers = model.model.layers[:2]
    model.config.num_hidden_layers = 2
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(teacher).save_pretrained(out)
    return str(out)


def parity(endpoint, teacher: str, data: Path, k: int) -> dict:
    """vLLM's prompt_logprobs vs the in-process teacher on rendered chains."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from thoughtdistill.api.scoring import score_sequences
    from thoughtdistill.train.render import conversations, resolve_template, tokenize_conversation
    from thoughtdistill.io import iter_records
    from thoughtdistill.train.teacher import teacher_topk

    tok = AutoTokenizer.from_pretrained(teacher)
    template = resolve_template(tok).template
    examples = [tokenize_conversation(tok, template, c, 512, "truncate_thought")
                for c in list(conversations(iter_records(str(data))))[:4]]
    examples = [e for e in examples if e is not None]
    model = AutoModelForCausalLM.from_pretrained(teacher, dtype=torch.float32).cuda().eval()
    served = score_sequences(endpoint, [e.input_ids for e in examples], [e.prompt_len for e in examples], k)
    top1_same, max_diff, positions = 0, 0.0, 0
    for ex, got in zip(examples, served):
        labels = torch.tensor([[-100] * ex.prompt_len + ex.input_ids[ex.prompt_len:]]).cuda()
        ids, lps = teacher_topk(model, torch.tensor([ex.input_ids]).cuda(), labels, k)
        top1_same += int((torch.from_numpy(got.ids[:, 0]).cuda() == ids[:, 0]).sum())
        max_diff = max(max_diff, float((torch.from_numpy(got.logprobs[:, 0]).cuda() - lps[:, 0]).abs().max()))
        positions += ids.shape[0]
    return {"positions": positions, "top1_agreement": top1_same / positions, "max_top1_logprob_diff": max_diff}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teacher", default=None, help="teacher HF folder (default: the SmolLM2 fixture)")
    ap.add_argument("--student", default=None, help="student HF folder (default: the teacher cut to 2 layers)")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--top-k", type=int, default=20)
    ap.add_argument("--work", default="/tmp/td_gpu_onpolicy")
    args = ap.parse_args()
    try:
        import vllm  # noqa: F401
    except ImportError:
        sys.exit("vLLM is not installed here (pip install 'thoughtdistill[vllm]'); this check needs it and a GPU")
    from thoughtdistill.api.config import EndpointConfig
    from thoughtdistill.models import ensure_model
    from thoughtdistill.train import KDSettings, TrainConfig, run_train
    from thoughtdistill.train.onpolicy_config import OnPolicySettings

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    teacher = args.teacher or str(ensure_model("smollm2"))
    student = args.student or truncated_student(teacher, work / "student")
    data = work / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records(args.batch * args.steps)))
    proc, port, dtype = serve(teacher, work)
    report: dict = {"teacher": teacher, "student": student, "vllm_dtype": dtype}
    try:
        endpoint = EndpointConfig(name="vllm-teacher", base_url=f"http://127.0.0.1:{port}/v1", model="teacher",
                                  concurrency=32, timeout_s=300)
        report["parity"] = parity(endpoint, teacher, data, args.top_k)
        print("parity", report["parity"], flush=True)
        started = time.time()
        result = run_train(TrainConfig(
            data=str(data), student=student, output_dir=str(work / "run"), overwrite=True, max_length=2048,
            overlength="truncate_thought", max_steps=args.steps, per_device_batch_size=args.batch,
            gradient_accumulation_steps=1, learning_rate=1e-5, warmup_ratio=0.0, save_checkpoints=False,
            kd=KDSettings(mode="on_policy", teacher=teacher, top_k=args.top_k, loss="reverse_kl",
                          on_policy=OnPolicySettings(teacher_endpoint=endpoint,
                                                     sampling={"max_new_tokens": args.new_tokens}))))
        steps = json.loads(result.log_path.read_text())
        tokens = sum(s["generated_tokens"] for s in steps[1:]) or steps[0]["generated_tokens"]
        timed = steps[1:] or steps
        seconds = {key: sum(s[key] for s in timed) for key in ("generate_s", "teacher_s", "update_s")}
        report.update(steps=steps, wall_s=time.time() - started, split_s=seconds,
                      tokens_per_s=tokens / sum(seconds.values()))
        print(json.dumps({k: report[k] for k in ("split_s", "tokens_per_s", "wall_s")}), flush=True)
        tolerance = 0.02 if dtype == "float32" else 0.25  # bf16 log-probs are coarse
        ok = (report["parity"]["top1_agreement"] > 0.95 and report["parity"]["max_top1_logprob_diff"] < tolerance
              and result.steps == args.steps and all(s["kd_loss"] > 0 for s in steps))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "onpolicy_gpu.json").write_text(json.dumps(report, indent=1, default=str))
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
