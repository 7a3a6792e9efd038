"""EasyDistill 1.x configs (../shared/easydistill-configs, copied unchanged from EasyDistill)
run end to end: each job type's config is copied to a temp dir with only its paths, endpoint
and model folders pointed at local ones (real llm-katan servers, the fixture models, real
questions from ../shared/data) and with small token/step counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thoughtdistill.errors import ConfigError
from thoughtdistill.pipeline.easydistill import (JOB_TYPES, easydistill_recipe, redacted,
                                                 run_easydistill, unknown_fields)
from shared_data import shared_data_dir

CONFIGS = shared_data_dir().parent / "easydistill-configs"
SECRET = "sk-test-literal-key-must-not-leak"


def _questions(tmp: Path, n: int = 3, with_output: bool = False) -> Path:
    rows = [json.loads(x) for x in (shared_data_dir() / "gsm8k_test.jsonl").read_text().splitlines()[:n]]
    data = [{"instruction": r["question"], **({"output": r["answer"]} if with_output else {})} for r in rows]
    path = tmp / ("labeled.json" if with_output else "questions.json")
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2))
    return path


def _config(tmp: Path, name: str, **sections) -> Path:
    cfg = json.loads((CONFIGS / name).read_text())
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    path = tmp / name
    path.write_text(json.dumps(cfg))
    return path


def _no_secret(*folders: Path) -> None:
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                assert SECRET not in path.read_text(errors="ignore"), path


def _rows(path: Path) -> list[dict]:
    data = json.loads(path.read_text())
    assert isinstance(data, list)
    return data


def test_every_shipped_config_maps(tmp_path):
    """Each upstream config (as shipped) maps onto stages; dry-run needs no server."""
    seen = set()
    for path in sorted(CONFIGS.glob("*.json")):
        cfg = json.loads(path.read_text())
        if "job_type" not in cfg:
            continue
        seen.add(cfg["job_type"])
        recipe, warnings = easydistill_recipe(path, dry_run=True, backend="transformers")
        assert recipe.stages, path
        assert not any("unknown EasyDistill fields" in w for w in warnings), (path, warnings)
    assert seen >= {"cot_generation_api", "cot_generation_batch", "cot_eval_api", "cot_long2short_api",
                    "cot_long2short_batch", "cot_short2long_api", "cot_short2long_batch", "kd_black_box_api",
                    "kd_black_box_local", "kd_white_box", "kd_white_box_train_only_multi"}
    assert seen <= set(JOB_TYPES)


def test_bad_values_and_typos_name_the_file_and_field(tmp_path):
    path = _config(tmp_path, "cot_generation_api.json", inference={"max_new_tokens": "lots"})
    with pytest.raises(ConfigError, match=r"cot_generation_api.json: inference.max_new_tokens: expected an "
                                          r"integer, got 'lots'"):
        easydistill_recipe(path, dry_run=True)
    cfg = json.loads(path.read_text())
    cfg["inference"]["max_new_tokens"] = 128
    cfg["datset"] = cfg.pop("dataset")
    path.write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=r"cot_generation_api.json: .*dataset.input_path is required "
                                          r"\(unknown fields, a typo\?: datset\)"):
        easydistill_recipe(path, dry_run=True)


def test_unknown_fields_and_bad_job(tmp_path):
    path = _config(tmp_path, "cot_generation_api.json", inference={"frobnicate": 1}, dataset={"shard": 2})
    cfg = json.loads(path.read_text())
    cfg["extra_top"] = True
    path.write_text(json.dumps(cfg))
    _, warnings = easydistill_recipe(path, dry_run=True)
    msg = next(w for w in warnings if "unknown EasyDistill fields" in w)
    assert "inference.frobnicate" in msg and "dataset.shard" in msg and "extra_top" in msg
    cfg["job_type"] = "rl_grpo"
    path.write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="not supported"):
        easydistill_recipe(path, dry_run=True)
    assert redacted({"inference": {"api_key": SECRET}})["inference"]["api_key"] == "<redacted>"
    assert unknown_fields({"job_type": "x"}) == []


@pytest.fixture(scope="module")
def echo(tmp_path_factory):
    """One real llm-katan echo server shared by this module's API-job tests."""
    from thoughtdistill.pipeline.katan import katan

    with katan(workdir=tmp_path_factory.mktemp("echo")) as server:
        yield server


def test_cot_generation_api(tmp_path, echo):
    q = _questions(tmp_path)
    out = tmp_path / "answers.json"
    cfg = _config(tmp_path, "cot_generation_api.json",
                  dataset={"input_path": str(q), "output_path": str(out)},
                  inference={"base_url": echo.base_url, "api_key": SECRET, "max_new_tokens": 32})
    res = run_easydistill(cfg, tmp_path / "run", log=lambda m: None)
    rows = _rows(out)
    questions = _rows(q)
    assert [r["instruction"] for r in rows] == [x["instruction"] for x in questions]
    assert all(r["output"] for r in rows)
    assert "thoroughly exploring questions" in rows[0]["output"]  # the job's prompt was sent
    assert any("api_key" in w for w in res.warnings)
    _no_secret(tmp_path / "run")
    assert (tmp_path / "run" / "easydistill.config.json").exists()
    # Same command again: nothing re-done.
    again = run_easydistill(cfg, tmp_path / "run", log=lambda m: None)
    assert {s.status for s in again.stages} == {"skipped"}


def test_cot_eval_api(tmp_path, echo):
    q = _questions(tmp_path, with_output=True)
    out = tmp_path / "scored.json"
    cfg = _config(tmp_path, "cot_eval_api.json", dataset={"input_path": str(q), "output_path": str(out)},
                  inference={"base_url": echo.base_url, "api_key": "env:TD_TEST_EVAL_KEY", "max_new_tokens": 16})
    import os

    os.environ["TD_TEST_EVAL_KEY"] = "local"
    try:
        run_easydistill(cfg, tmp_path / "run", log=lambda m: None)
    finally:
        del os.environ["TD_TEST_EVAL_KEY"]
    rows = _rows(out)
    assert len(rows) == 3
    for row in rows:
        assert set(row) == {"instruction", "output", "reasoning_verbosity", "cognitive_difficulty",
                            "logical_correctness"}
        assert isinstance(row["reasoning_verbosity"], int) and isinstance(row["logical_correctness"], bool)


@pytest.mark.parametrize("job", ["cot_long2short_api", "cot_short2long_api"])
def test_cot_rewrite_api(tmp_path, echo, job):
    q = _questions(tmp_path, with_output=True)
    out = tmp_path / "rewritten.json"
    cfg = _config(tmp_path, f"{job}.json", dataset={"input_path": str(q), "output_path": str(out)},
                  inference={"base_url": echo.base_url, "api_key": SECRET, "max_new_tokens": 32})
    run_easydistill(cfg, tmp_path / "run", log=lambda m: None)
    rows = _rows(out)
    assert [r["instruction"] for r in rows] == [x["instruction"] for x in _rows(q)]
    word = "Simplify" if "long2short" in job else "Extend"
    # The echo shows the request: prompt + problem + the original chain, EasyDistill style.
    assert word in rows[0]["output"] and "Answer:" in rows[0]["output"]
    _no_secret(tmp_path / "run")


@pytest.mark.slow
@pytest.mark.parametrize("job", ["cot_generation_batch", "cot_long2short_batch", "cot_short2long_batch"])
def test_cot_batch_local_teacher(tmp_path, smollm2_path, job):
    q = _questions(tmp_path, n=2, with_output=job != "cot_generation_batch")
    out = tmp_path / "out.json"
    cfg = _config(tmp_path, f"{job}.json", dataset={"input_path": str(q), "output_path": str(out)},
                  models={"teacher": str(smollm2_path)}, inference={"max_new_tokens": 16})
    res = run_easydistill(cfg, tmp_path / "run", backend="transformers", log=lambda m: None)
    rows = _rows(out)
    assert len(rows) == 2 and all(isinstance(r["output"], str) and r["output"] for r in rows)
    assert any("dataset.template" in w for w in res.warnings) or job == "cot_generation_batch"
    assert (tmp_path / "run" / "servers" / "teacher" / "server.log").exists()


def _train_sections(tmp: Path, student: Path, **training) -> dict:
    return {"models": {"student": str(student)},
            "training": {"output_dir": str(tmp / "result"), "max_length": 256, "max_steps": 2,
                         "gradient_accumulation_steps": 1, "save_steps": None, **training}}


def _trained(tmp: Path) -> None:
    result = tmp / "result" / "model"  # thoughtdistill train: final model in output_dir/model
    assert (result / "config.json").exists(), sorted(p.name for p in result.glob("*")) if result.exists() else None
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(result)


@pytest.mark.slow
def test_kd_black_box_api(tmp_path, echo, tiny_qwen3_path):
    q = _questions(tmp_path, n=4)
    labeled = tmp_path / "labeled.json"
    sections = _train_sections(tmp_path, tiny_qwen3_path)
    cfg = _config(tmp_path, "kd_black_box_api.json",
                  dataset={"instruction_path": str(q), "labeled_path": str(labeled)},
                  inference={"base_url": echo.base_url, "api_key": SECRET, "max_new_tokens": 32}, **sections)
    run_easydistill(cfg, tmp_path / "run", log=lambda m: None)
    assert len(_rows(labeled)) == 4 and all(r["output"] for r in _rows(labeled))
    _trained(tmp_path)
    _no_secret(tmp_path / "run", tmp_path / "result")


@pytest.mark.slow
def test_kd_black_box_local(tmp_path, smollm2_path, tiny_qwen3_path):
    q = _questions(tmp_path, n=3)
    labeled = tmp_path / "labeled.json"
    cfg = _config(tmp_path, "kd_black_box_local.json",
                  dataset={"instruction_path": str(q), "labeled_path": str(labeled)},
                  inference={"max_new_tokens": 16}, **_train_sections(tmp_path, tiny_qwen3_path))
    cfg_data = json.loads(cfg.read_text())
    cfg_data["models"]["teacher"] = str(smollm2_path)
    cfg.write_text(json.dumps(cfg_data))
    run_easydistill(cfg, tmp_path / "run", backend="transformers", log=lambda m: None)
    assert len(_rows(labeled)) == 3
    _trained(tmp_path)


@pytest.mark.slow
def test_kd_black_box_train_only(tmp_path, tiny_qwen3_path):
    labeled = _questions(tmp_path, n=4, with_output=True)
    cfg = _config(tmp_path, "kd_black_box_local.json", dataset={"labeled_path": str(labeled)},
                  **_train_sections(tmp_path, tiny_qwen3_path))
    data = json.loads(cfg.read_text())
    data["job_type"] = "kd_black_box_train_only"
    cfg.write_text(json.dumps(data))
    res = run_easydistill(cfg, tmp_path / "run", log=lambda m: None)
    assert [s.name for s in res.stages] == ["prepare", "train", "report"]
    assert res.report is not None and res.report.exists()
    _trained(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("job", ["kd_white_box", "kd_white_box_train_only_multi"])
def test_kd_white_box(tmp_path, tiny_qwen3_path, job):
    q = _questions(tmp_path, n=3, with_output=job != "kd_white_box")
    teacher = str(tiny_qwen3_path) if job == "kd_white_box" else [str(tiny_qwen3_path), str(tiny_qwen3_path)]
    paths = ({"instruction_path": str(q), "labeled_path": str(tmp_path / "labeled.json")} if job == "kd_white_box"
             else {"instruction_path": str(q), "labeled_path": str(q), "logits_path": ["./a.jsonl", "./b.jsonl"]})
    cfg = _config(tmp_path, f"{job}.json", dataset=paths,
                  inference={"max_new_tokens": 16, "top_logits_num": 5},
                  distillation={"max_seq_length": 256}, **_train_sections(tmp_path, tiny_qwen3_path))
    data = json.loads(cfg.read_text())
    data["models"]["teacher"] = teacher
    cfg.write_text(json.dumps(data))
    res = run_easydistill(cfg, tmp_path / "run", backend="transformers", log=lambda m: None)
    manifest = json.loads((tmp_path / "run" / "manifests" / "train.json").read_text())
    assert manifest["config"]["kd"]["top_k"] == 5 and manifest["config"]["kd"]["loss"] == "forward_kl"
    if job != "kd_white_box":
        assert any("2 teachers" in w for w in res.warnings) and any("logits_path" in w for w in res.warnings)
    _trained(tmp_path)


def test_dry_run_checks_bare_file_names(tmp_path, monkeypatch):
    """kd_white_box.json names its data 'train.json' (no folder): a dry run must still see it is missing."""
    from thoughtdistill.pipeline.easydistill import run_easydistill

    path = _config(tmp_path, "kd_white_box.json")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"stage 'prepare': field 'path': train.json: file not found"):
        run_easydistill(path, tmp_path / "run", dry_run=True, log=lambda m: None)
