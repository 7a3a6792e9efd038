"""End to end with the SmolLM2 fixture on a slice of GSM8K and MATH-500: once through the
transformers backend, once through a real local OpenAI-compatible server (llm-katan,
transformers backend) via thoughtdistill.api; the same scorer, complete result files."""

from __future__ import annotations

import json

import pytest

from thoughtdistill.evaluate import EvalConfig, compare_runs, run_eval
from thoughtdistill.evaluate.backends import Sampling
from thoughtdistill.pipeline.katan import LOCAL_KEY

pytestmark = pytest.mark.slow
BENCHES = ("gsm8k", "math500")


def _check_run(path, backend, n_items=4):
    run = json.loads(path.read_text())
    assert run["schema"] == "thoughtdistill.eval/1" and run["backend"]["backend"] == backend
    assert run["metrics"]["n_problems"] == n_items and run["metrics"]["n_samples"] == n_items
    assert run["metrics"]["mean_completion_tokens"] > 0
    assert run["scoring"]["scorer"] == "math"
    samples = [json.loads(line) for line in open(run["files"]["samples"])]
    assert len(samples) == n_items and all(s["text"] and not s["error"] for s in samples)
    assert all(s["scored_by"] in ("math-verify", "no-answer") for s in samples)
    return run


@pytest.mark.parametrize("bench", BENCHES)
def test_smollm2_transformers_backend(smollm2_path, tmp_path, bench):
    res = run_eval(EvalConfig(model=str(smollm2_path), benchmark=bench, limit=4, batch_size=4,
                              enable_thinking=False, sampling=Sampling(temperature=0, max_new_tokens=48),
                              out_dir=str(tmp_path), label="smollm2-hf"))
    run = _check_run(res.run_json, "transformers")
    assert run["sampling"]["temperature"] == 0


def test_smollm2_openai_server_same_scorer(smollm2_server, smollm2_path, tmp_path, monkeypatch):
    monkeypatch.setenv("KATAN_KEY", LOCAL_KEY)
    runs = []
    for bench in BENCHES:
        res = run_eval(EvalConfig(model=smollm2_server.model, backend="openai", base_url=smollm2_server.base_url,
                                  api_key_env="KATAN_KEY", benchmark=bench, limit=4, enable_thinking=False,
                                  concurrency=2, tokenizer=str(smollm2_path),
                                  sampling=Sampling(temperature=0, max_new_tokens=48),
                                  out_dir=str(tmp_path), label="smollm2-api"))
        run = _check_run(res.run_json, "openai")
        assert run["metrics"]["token_count_method"] == "tokenizer"
        runs.append(res.run_json)
    md = compare_runs(runs)
    assert "smollm2-api (no-think)" in md and "gsm8k" in md and "math500" in md
