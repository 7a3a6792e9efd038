"""eval/infer through the openai backend when the endpoint or the generations fail: a bad
endpoint is one clear error before any request; failed generations are reported loudly and,
when all failed, end in an error after the files are written. Real llm-katan echo server."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from thoughtdistill.errors import ConfigError, ThoughtDistillError
from thoughtdistill.evaluate import EvalConfig, InferConfig, run_eval, run_infer
from thoughtdistill.evaluate.backends import OpenAIBackend, Sampling
from thoughtdistill.pipeline.katan import free_port


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "thoughtdistill", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def test_unreachable_endpoint_is_one_clear_error_before_any_request(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    p = _cli("eval", "-b", "math500", "-m", "echo-teacher", "--backend", "openai", "--base-url", url,
             "-o", tmp_path / "ev", "--limit", "2")
    assert p.returncode == 2 and p.stdout == "" and p.stderr.strip().count("\n") == 0, p.stderr
    assert p.stderr.startswith(f"error: endpoint 'echo-teacher' ({url}) is unreachable")
    assert not (tmp_path / "ev").exists()  # nothing generated, no run written


def test_unknown_model_is_refused_before_generating(echo_server, tmp_path):
    out = tmp_path / "gen.jsonl"
    cfg = InferConfig(model="no-such-model", backend="openai", base_url=echo_server.base_url,
                      benchmark="gsm8k", limit=1, output=str(out))
    with pytest.raises(ConfigError, match="does not serve model 'no-such-model'.*echo-teacher"):
        run_infer(cfg)
    assert not out.exists()
    res = run_infer(cfg.model_copy(update={"model": echo_server.model}))  # the check passes a good endpoint
    assert (res.generated, res.errors) == (1, 0)


def _failing_infer(tmp_path, base_url, name):
    """A real infer output whose requests fail: no retries, so each failure is final."""
    cfg = InferConfig(model="echo-teacher", backend="openai", base_url=base_url, benchmark="math500",
                      limit=2, sampling=Sampling(max_new_tokens=16), output=str(tmp_path / name))
    backend = OpenAIBackend(cfg.model, base_url=base_url, concurrency=1)
    backend.endpoint = backend.endpoint.model_copy(update={"max_retries": 0})
    return run_infer(cfg, backend=backend)


def test_all_generations_failed_writes_the_files_then_fails(tmp_path):
    res = _failing_infer(tmp_path, f"http://127.0.0.1:{free_port()}/v1", "dead.jsonl")
    assert res.errors == res.generated == 2 and "connection" in res.first_error
    with pytest.raises(ThoughtDistillError, match="all 2 generations failed.*connection"):
        run_eval(EvalConfig(from_infer=str(res.output), out_dir=str(tmp_path / "ev")))
    run = json.loads(next((tmp_path / "ev").glob("*.json")).read_text())
    assert run["metrics"]["error_rate"] == 1.0  # kept for inspection
    p = _cli("eval", "--from-infer", res.output, "-o", tmp_path / "ev2")
    assert p.returncode == 2 and "accuracy" not in p.stdout
    assert p.stderr.startswith("error: ") and "all 2 generations failed" in p.stderr
    assert list((tmp_path / "ev2").glob("*.json"))


def test_some_generations_failed_is_a_loud_warning(tmp_path):
    from thoughtdistill.pipeline.katan import katan

    with katan(workdir=tmp_path / "katan", timeout_after=1) as server:  # then 504 for every request
        res = _failing_infer(tmp_path, server.base_url, "half.jsonl")
    assert (res.generated, res.errors) == (2, 1)
    p = _cli("eval", "--from-infer", res.output, "-o", tmp_path / "ev")
    assert p.returncode == 0, p.stderr
    assert p.stderr.startswith("warning: 1 of 2 generations failed") and "504" in p.stderr
    assert "accuracy" in p.stdout

