"""A stage re-run because its config or inputs changed replaces what it made before."""

from __future__ import annotations

import json

import yaml

from thoughtdistill.pipeline import run_pipeline
from thoughtdistill.pipeline.katan import LOCAL_KEY


def _recipe(tmp_path, base_url: str, tokens: int):
    recipe = {"name": "eval-rerun", "stages": [{"name": "eval", "uses": "evaluate", "config": {
        "model": "echo-teacher", "backend": "openai", "base_url": base_url, "api_key_env": "KATAN_KEY",
        "benchmark": "math500", "limit": 2, "enable_thinking": False,
        "sampling": {"temperature": 0, "max_new_tokens": tokens}, "label": "echo", "out_dir": "${stage_dir}"}}]}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_evaluate_stage_rerun_with_new_settings_replaces_its_generations(echo_server, tmp_path, monkeypatch):
    # A real llm-katan echo server answers; the second run changes the token budget, which the
    # earlier generations were made with (resuming them would mix two settings: refused).
    monkeypatch.setenv("KATAN_KEY", LOCAL_KEY)
    run = tmp_path / "run"
    first = run_pipeline(_recipe(tmp_path, echo_server.base_url, 16), run, log=lambda m: None)
    assert [s.status for s in first.stages] == ["ran"]
    second = run_pipeline(_recipe(tmp_path, echo_server.base_url, 24), run, log=lambda m: None)
    assert [s.status for s in second.stages] == ["ran"]
    meta = json.loads(next((run / "eval").glob("*.infer.jsonl.meta.json")).read_text())
    assert json.dumps(meta).count('"max_new_tokens": 24') >= 1 and '"max_new_tokens": 16' not in json.dumps(meta)
