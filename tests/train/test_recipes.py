"""Recipes and launch configs validate without a GPU; EasyDistill kd configs map onto TrainConfig."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from thoughtdistill.errors import ConfigError
from thoughtdistill.train import TrainConfig
from thoughtdistill.train.recipes import validate_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "configs" / "recipes").glob("train-*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipes_validate(path):
    recipe = validate_recipe(path)
    if "thoughty" in path.name:
        t = recipe.train
        assert (t.learning_rate, t.epochs, t.max_length, t.per_device_batch_size, t.gradient_accumulation_steps,
                t.weight_decay, t.warmup_ratio, t.lr_scheduler) == (5e-5, 3, 8192, 1, 8, 0.05, 0.1, "cosine")
        assert recipe.world_size == (32 if "32b" in path.name else 8)


def test_accelerate_and_deepspeed_configs_parse():
    accel = sorted((ROOT / "configs" / "accelerate").glob("*.yaml"))
    kinds = {yaml.safe_load(p.read_text())["distributed_type"] for p in accel}
    assert kinds == {"NO", "MULTI_GPU", "DEEPSPEED", "FSDP"}
    for p in (ROOT / "configs" / "deepspeed").glob("*.json"):
        assert json.loads(p.read_text())["zero_optimization"]["stage"] in (2, 3)
    fsdp = yaml.safe_load((ROOT / "configs/accelerate/fsdp2.yaml").read_text())
    assert fsdp["fsdp_config"]["fsdp_version"] == 2


def test_bad_recipe(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("launch: {num_machines: 2, num_processes: 3}\ntrain: {data: x, student: y, output_dir: z}\n")
    with pytest.raises(ConfigError, match="not a multiple"):
        validate_recipe(bad)
    bad.write_text("train: {data: x, student: y, output_dir: z, lerning_rate: 1}\n")
    with pytest.raises(ConfigError, match="lerning_rate"):
        validate_recipe(bad)


def test_cli_dry_run():
    proc = subprocess.run([sys.executable, "-m", "thoughtdistill", "train", "-c",
                           str(ROOT / "configs/recipes/train-thoughty-32b.yaml"), "--dry-run"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "1 x 8 x 32 = 256 sequences" in proc.stdout and "config ok" in proc.stdout


def test_dry_run_says_what_it_cannot_check_yet(tmp_path, data_dir, tiny_qwen3_path):
    from thoughtdistill.train.recipes import dry_run_notes

    def notes(data: str, student: str) -> list[str]:
        return dry_run_notes(TrainConfig(data=[data], student=student, output_dir=str(tmp_path / "o")))

    missing = notes(str(tmp_path / "nope.jsonl"), "Qwen/Qwen3-4B")
    assert any("nope.jsonl does not exist (yet)" in n for n in missing)
    assert any("Qwen/Qwen3-4B is not a local folder" in n for n in missing)
    (tmp_path / "empty_model").mkdir()
    assert any("has no config.json" in n for n in notes(str(data_dir / "r1_traces.jsonl"), str(tmp_path / "empty_model")))
    assert not any(n.startswith("warning") for n in notes(str(data_dir / "r1_traces.jsonl"), str(tiny_qwen3_path)))


@pytest.mark.parametrize("name", ["kd_black_box_local.json", "kd_white_box.json"])
def test_easydistill_kd_configs_map_to_train_config(name, data_dir, tmp_path):
    """EasyDistill kd_* training fields reach TrainConfig through the pipeline's job mapping."""
    from thoughtdistill.pipeline.easydistill import easydistill_recipe

    cfg = json.loads((data_dir.parent / "easydistill-configs" / name).read_text())
    path = tmp_path / name
    path.write_text(json.dumps(cfg))
    recipe, _warnings = easydistill_recipe(path, dry_run=True)
    train = next(s for s in recipe.stages if (s.uses or s.name) == "train").config
    tc = TrainConfig(**{**train, "data": "x.jsonl", "student": "s", "output_dir": "o"})
    assert tc.learning_rate == 2e-5 and tc.epochs == 3 and tc.gradient_accumulation_steps == 8
    if "white" in name:
        assert tc.kd.loss == "forward_kl" and tc.kd.alpha == 0.1 and tc.kd.top_k == 10 and tc.max_length == 512
    else:
        assert tc.kd is None



def test_finished_model_is_not_replaced_by_accident(tmp_path):
    from thoughtdistill.train.run import check_output_dir

    def cfg(**kw) -> TrainConfig:
        return TrainConfig(data=["d.jsonl"], student="tiny-qwen3", output_dir=str(tmp_path / "run"), **kw)

    check_output_dir(cfg())  # nothing there yet
    (tmp_path / "run" / "model").mkdir(parents=True)
    (tmp_path / "run" / "model" / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="holds a finished model; --resume .* --overwrite"):
        check_output_dir(cfg())
    (tmp_path / "run" / "checkpoint-5").mkdir()
    check_output_dir(cfg(resume_from_checkpoint=True))
    assert (tmp_path / "run" / "checkpoint-5").exists()  # kept for the resume
    check_output_dir(cfg(overwrite=True))
    assert not (tmp_path / "run" / "checkpoint-5").exists()  # the replaced run's steps go
    with pytest.raises(ConfigError, match="resume_from_checkpoint: .*checkpoint-999 not found"):
        check_output_dir(cfg(resume_from_checkpoint=str(tmp_path / "run" / "checkpoint-999")))


@pytest.mark.parametrize("name", ["quickstart", "thoughty-4b", "thoughty-8b", "thoughty-32b"])
def test_train_recipe_reads_what_its_pipeline_writes(name):
    """The tour's `thoughtdistill train -c configs/recipes/train-<name>.yaml` runs after
    `thoughtdistill run configs/recipes/<name>.yaml`: its data is that run's selection (resolved
    the way the pipeline resolves it), and its model does not land on the pipeline's student."""
    from thoughtdistill.pipeline.recipe import interpolate, load_recipe
    from thoughtdistill.pipeline.runner import _Context

    pipeline = load_recipe(ROOT / "configs" / "recipes" / f"{name}.yaml")
    run_dir = Path(pipeline.run_dir)

    def stage(stage_name: str) -> dict:
        ctx = _Context(pipeline, run_dir, None, live=False)
        ctx.stage_dir = run_dir / stage_name
        return interpolate(pipeline.stage(stage_name).config, ctx.lookup)

    train = validate_recipe(ROOT / "configs" / "recipes" / f"train-{name}.yaml").train
    assert train.data == [stage("select")["output"]]
    assert Path(train.output_dir) != Path(stage("train")["output_dir"])
