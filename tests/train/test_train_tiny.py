"""End-to-end mechanics on the tiny Qwen3 fixture: batching modes, LoRA, resume, KD, output
folder, CLI preflight, 2-process DDP (gloo). Learning is tested with SmolLM2 elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from thoughtdistill.models import QWEN3_THINKING_TEMPLATE
from thoughtdistill.train import KDSettings, LoraSettings, run_train

from .conftest import tiny_config as _cfg

ROOT = Path(__file__).resolve().parents[2]


def _loadable(model_dir: Path):
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    assert tok.chat_template == QWEN3_THINKING_TEMPLATE
    gen = json.loads((model_dir / "generation_config.json").read_text())
    assert tok.convert_tokens_to_ids("<|im_end|>") in (gen["eos_token_id"] if isinstance(gen["eos_token_id"], list)
                                                        else [gen["eos_token_id"]])
    return model, tok


@pytest.mark.slow
def test_padding_free_run_output_and_resume(short_file, tmp_path):
    out = tmp_path / "run"
    r = run_train(_cfg(short_file, out, max_steps=2, save_steps=2))
    assert r.steps == 2 and r.examples == 6 and r.template_source == "model"
    log = json.loads((out / "trainer_log.json").read_text())
    assert [e["step"] for e in log] == [1, 2] and all("loss" in e for e in log)
    _loadable(r.model_dir)
    card = (r.model_dir / "README.md").read_text()
    assert str(short_file) in card and '"learning_rate": 0.001' in card and "dropped" in card
    # resume from checkpoint-2 and go on to step 3
    r2 = run_train(_cfg(short_file, out, max_steps=3, save_steps=2, resume_from_checkpoint=True))
    assert r2.steps == 3
    log2 = json.loads((out / "trainer_log.json").read_text())
    assert [e["step"] for e in log2] == [1, 2, 3]


@pytest.mark.slow
def test_other_batching_modes(short_file, tmp_path):
    for batching in ("padded", "packing"):
        r = run_train(_cfg(short_file, tmp_path / batching, max_steps=1, batching=batching, num_threads=1))
        assert r.steps == 1 and r.first_loss > 0
        # the thread count it ran with is kept (a slow CPU run says why)
        assert r.torch_threads == 1
        assert json.loads((tmp_path / batching / "train_result.json").read_text())["torch_threads"] == 1
    _loadable(r.model_dir)


@pytest.mark.slow
def test_lora_merged_output(short_file, tmp_path):
    r = run_train(_cfg(short_file, tmp_path / "lora", max_steps=1, lora=LoraSettings(r=4, alpha=8)))
    assert (r.model_dir / "adapter" / "adapter_config.json").exists()
    model, _ = _loadable(r.model_dir)
    assert not any("lora" in n for n, _ in model.named_parameters())


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["precompute", "on_the_fly"])
def test_white_box_kd_runs(short_file, tmp_path, tiny_qwen3_path, mode):
    kd = KDSettings(teacher=str(tiny_qwen3_path), mode=mode, top_k=5, loss="jsd", alpha=0.5)
    r = run_train(_cfg(short_file, tmp_path / mode, max_steps=1, kd=kd))
    log = json.loads((tmp_path / mode / "trainer_log.json").read_text())
    assert r.steps == 1 and all("kd_loss" in e and "ce_loss" in e for e in log)
    if mode == "precompute":
        assert r.teacher_logprobs is not None and r.teacher_logprobs.parent == Path(str(short_file) + ".topk")
        assert (r.teacher_logprobs / "index.jsonl").read_text().count("\n") == r.examples
    _loadable(r.model_dir)


def _env():
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


@pytest.mark.slow
def test_ddp_two_processes_gloo(short_file, tmp_path):
    """The shipped multi-GPU accelerate config, run on a machine without GPU: accelerate starts
    2 processes through torchrun and run_train joins them over gloo (MULTI_CPU). (Not --cpu:
    with --cpu accelerate launch starts a single process.)"""
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(ROOT / "configs/accelerate/multi_gpu.yaml"), "--num_processes", "2", "--mixed_precision", "no",
           "-m", "thoughtdistill", "train", "--data", str(short_file), "--student", "tiny-qwen3",
           "-o", str(out), "--max-steps", "1", "--max-length", "256", "--overlength", "truncate_thought"]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "train_result.json").read_text())
    assert result["world_size"] == 2 and result["distributed_type"] == "MULTI_CPU"
    _loadable(out / "model")


@pytest.mark.slow
def test_deepspeed_zero2_cpu(short_file, tmp_path):
    pytest.importorskip("deepspeed", reason="deepspeed is not installed (pip install -e .[deepspeed])")
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(ROOT / "configs/accelerate/deepspeed_zero2.yaml"), "--num_processes", "2", "--mixed_precision", "no",
           "-m", "thoughtdistill", "train", "--data", str(short_file), "--student", "tiny-qwen3",
           "-o", str(out), "--max-steps", "1", "--max-length", "256", "--overlength", "truncate_thought"]
    env = _env()
    env["DS_ACCELERATOR"] = "cpu"
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    if proc.returncode != 0 and ("oneccl" in proc.stderr.lower() or "ccl" in proc.stderr.lower()):
        pytest.skip("DeepSpeed's CPU accelerator needs oneCCL (oneccl_bindings_for_pytorch), not installable here")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "train_result.json").read_text())
    assert result["world_size"] == 2 and result["distributed_type"] == "DEEPSPEED"
    _loadable(out / "model")
