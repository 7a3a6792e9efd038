"""The ThoughtY recipe with an on-policy phase validates fully with --dry-run (no GPU, no server)."""

from __future__ import annotations

from typer.testing import CliRunner

from thoughtdistill.cli import app
from thoughtdistill.pipeline import load_recipe, run_pipeline
from thoughtdistill.pipeline.cli import RECIPES_DIR
from thoughtdistill.pipeline.runner import Runner, launch_command

RECIPE = RECIPES_DIR / "thoughty-onpolicy-4b.yaml"


def test_onpolicy_recipe_dry_run(tmp_path, monkeypatch):
    for var in ("DEEPSEEK_API_KEY", "QWQ_API_KEY", "R1_API_KEY", "ONPOLICY_TEACHER_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    res = run_pipeline(RECIPE, tmp_path / "run", dry_run=True, log=lambda m: None)
    assert {s.status for s in res.stages} == {"would-run"}
    assert any("ONPOLICY_TEACHER_API_KEY" in w for w in res.warnings)

    recipe = load_recipe(RECIPE)
    names = [s.name for s in recipe.stages]
    assert names.index("train") < names.index("onpolicy") < names.index("eval_aime24")
    runner = Runner(recipe, tmp_path / "run")
    sft, _, _ = runner.resolve(recipe.stage("train"), live=False)
    onp, _, _ = runner.resolve(recipe.stage("onpolicy"), live=False)
    assert sft.kd is None and (sft.learning_rate, sft.epochs) == (5e-5, 3)
    assert onp.student == str(tmp_path / "run" / "train" / "student" / "model")
    assert onp.data == sft.data
    kd = onp.kd
    assert (kd.mode, kd.loss, kd.top_k, kd.on_policy.sft_mix) == ("on_policy", "reverse_kl", 20, 0.0)
    assert kd.on_policy.teacher_endpoint.model == "Qwen/Qwen3-32B"
    assert kd.on_policy.sampling.max_new_tokens + 1024 == onp.max_length  # room for 1024-token prompts
    cmd = launch_command(runner, recipe.stage("onpolicy"), tmp_path / "t.yaml")
    assert cmd[:2] == ["accelerate", "launch"] and cmd[cmd.index("--num_processes") + 1] == "8"
    evals, _, _ = runner.resolve(recipe.stage("eval_aime24"), live=False)
    assert evals.model == str(tmp_path / "run" / "onpolicy" / "student" / "model")


def test_onpolicy_recipe_cli_dry_run(tmp_path):
    result = CliRunner().invoke(app, ["run", str(RECIPE), "--dry-run", "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "onpolicy" in result.output
