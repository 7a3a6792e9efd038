"""`eval`/`infer -m` take the fixture names `train` takes; `--dry-run` checks without loading."""

from __future__ import annotations

import subprocess
import sys

from thoughtdistill.evaluate.dryrun import dry_run_plan
from thoughtdistill.evaluate.infer import InferConfig, resolve_model


def test_fixture_names_resolve_like_train(smollm2_path, tiny_qwen3_path, tmp_path):
    assert resolve_model("smollm2") == str(smollm2_path)
    assert resolve_model("fixture:tiny-qwen3") == str(tiny_qwen3_path)
    assert resolve_model("smollm2", backend="openai") == "smollm2"  # a served model's name
    (tmp_path / "smollm2").mkdir()
    assert resolve_model(str(tmp_path / "smollm2")) == str(tmp_path / "smollm2")  # a real folder wins


def test_dry_run_plans_without_loading(smollm2_path, tmp_path):
    cfg = InferConfig(model="smollm2", benchmark="gsm8k", limit=3, n=2, output=str(tmp_path / "o.jsonl"))
    plan = dry_run_plan(cfg)
    assert "the smollm2 fixture" in plan and "6 samples (3 gsm8k items x 2)" in plan
    hub = dry_run_plan(cfg.model_copy(update={"model": "Qwen/Qwen3-8B"}))
    assert "not a local folder" in hub
    proc = subprocess.run([sys.executable, "-m", "thoughtdistill", "eval", "-m", "Qwen/Qwen3-8B", "--backend",
                           "openai", "--base-url", "http://127.0.0.1:9/v1", "-b", "aime24", "-o",
                           str(tmp_path / "eval"), "--dry-run"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "not contacted" in proc.stdout, proc.stderr
    assert not (tmp_path / "eval").exists()
