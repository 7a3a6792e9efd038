"""Runner mechanics on real data with the built-in stages (no server, no model): skipping,
re-running on config or input change, --from/--until, dry-run validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from thoughtdistill.errors import ConfigError
from thoughtdistill.pipeline import load_recipe, run_pipeline

from shared_data import shared_data_dir

DATA = str(shared_data_dir())  # the project's test data (recipes users write name their own files)


def write_recipe(tmp_path: Path, limit: int = 5, fmt: str = "generation", extra: dict | None = None) -> Path:
    recipe = {
        "name": "mechanics",
        "stages": [
            {"name": "prepare", "config": {
                "sources": [{"path": f"{DATA}/multi_chain.jsonl", "limit": limit}],
                "output": "${stage_dir}/questions.jsonl"}},
            {"name": "export", "uses": "easydistill_export", "config": {
                "input": "${stages.prepare.dir}/questions.jsonl", "output": "${stage_dir}/out.json",
                "format": fmt}},
        ],
        **(extra or {}),
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def statuses(result) -> dict[str, str]:
    return {s.name: s.status for s in result.stages}


def test_run_skip_and_config_change(tmp_path, data_dir):
    recipe = write_recipe(tmp_path)
    run = tmp_path / "run"
    first = run_pipeline(recipe, run, log=lambda m: None)
    assert statuses(first) == {"prepare": "ran", "export": "ran"}
    out = json.loads((run / "export" / "out.json").read_text())
    assert len(out) == 5 * 8 and set(out[0]) == {"instruction", "output"}
    manifest = json.loads((run / "manifests" / "export.json").read_text())
    assert manifest["status"] == "done" and manifest["config_hash"]
    assert str(run / "prepare" / "questions.jsonl") in manifest["inputs"]
    assert (run / "recipe.resolved.json").exists() and (run / "run.json").exists()
    assert json.loads((run / "run.json").read_text())["state"] == "done"

    again = run_pipeline(recipe, run, log=lambda m: None)
    assert statuses(again) == {"prepare": "skipped", "export": "skipped"}

    # Only the export config changes: prepare stays skipped.
    write_recipe(tmp_path, fmt="eval")
    changed = run_pipeline(recipe, run, log=lambda m: None)
    assert statuses(changed) == {"prepare": "skipped", "export": "ran"}
    assert "reasoning_verbosity" in json.loads((run / "export" / "out.json").read_text())[0]

    # An upstream change that alters its output re-runs the downstream stage too.
    write_recipe(tmp_path, limit=3, fmt="eval")
    upstream = run_pipeline(recipe, run, log=lambda m: None)
    assert statuses(upstream) == {"prepare": "ran", "export": "ran"}
    assert len(json.loads((run / "export" / "out.json").read_text())) == 3 * 8


def test_modified_output_and_from_until(tmp_path, data_dir):
    recipe = write_recipe(tmp_path)
    run = tmp_path / "run"
    run_pipeline(recipe, run, log=lambda m: None)
    # Someone edits an output: the stage is redone.
    (run / "export" / "out.json").write_text("[]")
    assert statuses(run_pipeline(recipe, run, log=lambda m: None))["export"] == "ran"
    # --from forces that stage; --until stops early.
    res = run_pipeline(recipe, run, from_stage="export", log=lambda m: None)
    assert statuses(res) == {"prepare": "not-selected", "export": "ran"}
    res = run_pipeline(recipe, run, until="prepare", force=True, log=lambda m: None)
    assert statuses(res) == {"prepare": "ran", "export": "not-selected"}
    with pytest.raises(ConfigError, match="no such stage"):
        run_pipeline(recipe, run, from_stage="nope", log=lambda m: None)


def test_input_file_change_detected(tmp_path):
    src = tmp_path / "q.json"
    src.write_text(json.dumps([{"instruction": "What is 1+1?", "output": "2"}]))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"stages": [{"name": "prepare", "config": {
        "sources": [{"path": str(src)}], "output": "${stage_dir}/q.jsonl"}}]}))
    run = tmp_path / "run"
    assert statuses(run_pipeline(recipe, run, log=lambda m: None)) == {"prepare": "ran"}
    assert statuses(run_pipeline(recipe, run, log=lambda m: None)) == {"prepare": "skipped"}
    src.write_text(json.dumps([{"instruction": "What is 2+2?", "output": "4"}]))
    assert statuses(run_pipeline(recipe, run, log=lambda m: None)) == {"prepare": "ran"}


def test_dry_run_validates_everything(tmp_path, monkeypatch):
    recipe = write_recipe(tmp_path)
    res = run_pipeline(recipe, tmp_path / "run", dry_run=True, log=lambda m: None)
    assert res.dry_run and statuses(res) == {"prepare": "would-run", "export": "would-run"}
    assert not (tmp_path / "run").exists()  # nothing written

    def bad(stages):
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump({"stages": stages}))
        return path

    cases = [
        ([{"name": "prepare", "config": {"sources": [{"path": "/nope/q.jsonl"}], "output": "x.jsonl"}}],
         "file not found"),
        ([{"name": "prepare", "config": {"sources": [], "output": "x.jsonl"}}], "sources"),
        ([{"name": "prepare", "config": {"sources": [{"path": f"{DATA}/gsm8k_test.jsonl"}],
                                         "output": "x.jsonl", "bogus": 1}}], "bogus"),
        ([{"name": "x", "uses": "no-such-stage"}], "unknown stage kind"),
        ([{"name": "prepare", "config": {"sources": [{"path": "${nope.x}"}], "output": "x"}}], "placeholder"),
        ([{"name": "prepare", "config": {"sources": [{"path": "${data}/q.jsonl"}], "output": "x"}}],
         r"unknown placeholder \$\{data\} \(removed: give your data files' paths"),
    ]
    for stages, message in cases:
        with pytest.raises(ConfigError, match=message):
            run_pipeline(bad(stages), tmp_path / "run", dry_run=True, log=lambda m: None)
    with pytest.raises(ConfigError, match="twice"):
        load_recipe(bad([{"name": "a", "uses": "prepare"}, {"name": "a", "uses": "prepare"}]))


def test_env_var_names_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("TD_TEST_MISSING_KEY", raising=False)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"stages": [{"name": "generate", "config": {
        "input": f"{DATA}/gsm8k_test.jsonl", "output": "${stage_dir}/c.jsonl",
        "teachers": [{"name": "r1", "base_url": "https://api.example.invalid/v1", "model": "m",
                      "api_key_env": "TD_TEST_MISSING_KEY"}]}}]}))
    res = run_pipeline(recipe, tmp_path / "run", dry_run=True, log=lambda m: None)
    assert any("TD_TEST_MISSING_KEY" in w for w in res.warnings)
    # A real run refuses before anything is sent.
    with pytest.raises(ConfigError, match="TD_TEST_MISSING_KEY is not set"):
        run_pipeline(recipe, tmp_path / "run", log=lambda m: None)
    assert not (tmp_path / "run" / "generate" / "c.jsonl").exists()


def test_stage_with_failed_requests_runs_again(tmp_path):
    """A generate stage that gave up on some requests is not 'done': the next run re-sends them."""
    from thoughtdistill.pipeline.katan import katan

    recipe = {"name": "flaky", "stages": [
        {"name": "prepare", "config": {"sources": [{"path": f"{DATA}/gsm8k_test.jsonl", "limit": 24}],
                                        "output": "${stage_dir}/questions.jsonl"}},
        {"name": "generate", "config": {
            "input": "${stages.prepare.dir}/questions.jsonl", "output": "${stage_dir}/chains.jsonl",
            "cache": False, "progress": False, "teachers": [
                {"name": "t", "base_url": "${vars.teacher_url}", "model": "echo-teacher", "max_retries": 0}]}}]}
    path = tmp_path / "recipe.yaml"
    run = tmp_path / "run"
    with katan(workdir=tmp_path / "k", error_rate=0.5) as srv:
        recipe["vars"] = {"teacher_url": srv.base_url}
        path.write_text(yaml.safe_dump(recipe))
        first = run_pipeline(path, run, log=lambda m: None)
        failed = json.loads((run / "manifests" / "generate.json").read_text())["failed"]
        assert 0 < failed < 24  # 50% injected errors, no retries (all or none: p < 1e-7)
        assert any(f"{failed} request(s) failed for good" in w for w in first.warnings)
        again = run_pipeline(path, run, log=lambda m: None)
    outcome = next(s for s in again.stages if s.name == "generate")
    assert outcome.status == "ran" and outcome.reason == f"{failed} failed request(s) to send again"
    assert statuses(again)["prepare"] == "skipped"


def test_stage_config_errors_name_the_recipe_line_and_stage(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: bad\nstages:\n  - name: prepare\n    config:\n"
                      "      sources: [{path: x.jsonl}]\n      output: ${stage_dir}/q.jsonl\n      colour: red\n"
                      "  - name: ev\n    uses: evalute\n    config: {}\n")
    with pytest.raises(ConfigError) as info:
        run_pipeline(recipe, tmp_path / "run", dry_run=True, log=lambda m: None)
    text = str(info.value)
    assert "r.yaml:7: stage 'prepare' (prepare): field 'colour': Extra inputs" in text
    assert "stage 'ev': unknown stage kind 'evalute'" in text


def test_interrupted_train_stage_continues_from_its_checkpoints(tmp_path, data_dir):
    from thoughtdistill.pipeline.runner import Runner, _train_rerun

    recipe_path = tmp_path / "r.yaml"
    recipe_path.write_text(yaml.safe_dump({"name": "t", "stages": [{"name": "train", "config": {
        "data": [str(data_dir / "r1_traces.jsonl")], "student": "tiny-qwen3",
        "output_dir": "${stage_dir}/student", "max_steps": 2}}]}))
    runner = Runner(load_recipe(recipe_path), tmp_path / "run", log=lambda m: None)
    spec = runner.recipe.stage("train")
    config, _, _ = runner.resolve(spec, live=False)
    (tmp_path / "run" / "train").mkdir(parents=True)

    first = _train_rerun(runner, spec, config, config, "never completed")
    assert first.overwrite and first.resume_from_checkpoint is False  # nothing started before
    again = _train_rerun(runner, spec, config, config, "never completed")
    assert again.overwrite and again.resume_from_checkpoint is True  # same config, interrupted
    forced = _train_rerun(runner, spec, config, config, "forced")
    assert forced.resume_from_checkpoint is False
    changed = config.model_copy(update={"max_steps": 3})
    other = _train_rerun(runner, spec, changed, changed, "never completed")
    assert other.resume_from_checkpoint is False  # its checkpoints were made with another config
