"""The shipped recipes validate fully here (--dry-run): every stage config by its own model,
files, env var names, launch settings; nothing runs and no GPU is needed."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from thoughtdistill.cli import app
from thoughtdistill.errors import ConfigError
from thoughtdistill.pipeline import load_recipe, run_pipeline
from thoughtdistill.pipeline.cli import RECIPES_DIR
from thoughtdistill.pipeline.runner import Runner, launch_command

THOUGHTY = {"thoughty-4b": ("Qwen/Qwen3-4B", 4, 1, 8), "thoughty-8b": ("Qwen/Qwen3-8B", 8, 1, 8),
            "thoughty-32b": ("Qwen/Qwen3-32B", 32, 4, 32)}


@pytest.mark.parametrize("name", sorted(THOUGHTY))
def test_thoughty_recipes_dry_run(name, tmp_path, monkeypatch):
    for var in ("DEEPSEEK_API_KEY", "QWQ_API_KEY", "R1_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    path = RECIPES_DIR / f"{name}.yaml"
    res = run_pipeline(path, tmp_path / "run", dry_run=True, log=lambda m: None)
    assert {s.status for s in res.stages} == {"would-run"}
    env_warnings = [w for w in res.warnings if "is not set" in w]
    assert sorted(w.split()[2] for w in env_warnings) == ["DEEPSEEK_API_KEY", "QWQ_API_KEY", "R1_API_KEY"]
    student_name = THOUGHTY[name][0]
    assert [w for w in res.warnings if w not in env_warnings] == [
        f"stage 'train': field 'student': {student_name} is not a local folder: it must be on the Hugging "
        "Face hub or in its cache"]
    recipe = load_recipe(path)
    runner = Runner(recipe, tmp_path / "run")
    student, size, machines, procs = THOUGHTY[name]
    train, _, _ = runner.resolve(recipe.stage("train"), live=False)
    assert (train.student, train.learning_rate, train.epochs, train.max_length) == (student, 5e-5, 3, 8192)
    assert (train.per_device_batch_size, train.gradient_accumulation_steps, train.weight_decay) == (1, 8, 0.05)
    select, _, _ = runner.resolve(recipe.stage("select"), live=False)
    assert select.strategy == "student-fit" and float(select.student_fit.student_size) == size
    generate, _, _ = runner.resolve(recipe.stage("generate"), live=False)
    assert [t.name for t in generate.teachers] == ["deepseek-r1-0528", "qwq-32b", "deepseek-r1"]
    cmd = launch_command(runner, recipe.stage("train"), tmp_path / "t.yaml")
    assert cmd[:2] == ["accelerate", "launch"] and "zero3" in cmd[3]
    assert cmd[cmd.index("--num_machines") + 1] == str(machines)
    assert cmd[cmd.index("--num_processes") + 1] == str(procs)


def test_quickstart_dry_run_cli(tmp_path):
    result = CliRunner().invoke(app, ["run", "--dry-run", "--run-dir", str(tmp_path / "qs")])
    assert result.exit_code == 0, result.output
    assert "recipe is valid" in result.output and "report" in result.output


def test_set_vars(tmp_path):
    path = RECIPES_DIR / "quickstart.yaml"
    res = run_pipeline(path, tmp_path / "r", dry_run=True, variables={"questions": 3}, log=lambda m: None)
    assert res.dry_run
    with pytest.raises(ConfigError, match="not a var"):
        run_pipeline(path, tmp_path / "r", dry_run=True, variables={"nope": 1}, log=lambda m: None)
