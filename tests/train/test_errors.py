"""Bad input is refused with a clear error before any training starts."""

from __future__ import annotations

import shutil

import pytest

from thoughtdistill.errors import ConfigError
from thoughtdistill.train import KDSettings, TrainConfig, run_train


def test_empty_after_length_filter(r1_file, tmp_path, smollm2_path):
    cfg = TrainConfig(data=r1_file, student=str(smollm2_path), output_dir=str(tmp_path / "o"), max_length=300)
    with pytest.raises(ConfigError, match=r"no training examples left: .*10 dropped as longer than max_length=300"):
        run_train(cfg)


def test_max_length_smaller_than_prompt(r1_file, tmp_path, smollm2_path):
    cfg = TrainConfig(data=r1_file, student=str(smollm2_path), output_dir=str(tmp_path / "o"), max_length=40)
    with pytest.raises(ConfigError, match="the prompt alone is .* tokens, max_length is 40"):
        run_train(cfg)


def test_missing_template(r1_file, tmp_path, smollm2_path):
    student = tmp_path / "no-template"
    shutil.copytree(smollm2_path, student)
    for name in ("chat_template.jinja",):
        (student / name).unlink(missing_ok=True)
    import json

    tc = json.loads((student / "tokenizer_config.json").read_text())
    tc.pop("chat_template", None)
    (student / "tokenizer_config.json").write_text(json.dumps(tc))
    cfg = TrainConfig(data=r1_file, student=str(student), output_dir=str(tmp_path / "o"))
    with pytest.raises(ConfigError, match="no chat template"):
        run_train(cfg)


def test_white_box_tokenizer_mismatch(r1_file, tmp_path, smollm2_path, tiny_qwen3_path):
    # tiny-qwen3 = SmolLM2's tokenizer + <think>, </think>: close, but ids would not line up
    cfg = TrainConfig(data=r1_file, student=str(tiny_qwen3_path), output_dir=str(tmp_path / "o"),
                      kd=KDSettings(teacher=str(smollm2_path)))
    with pytest.raises(ConfigError, match=r"share a tokenizer: .*49154 tokens.*49152.*only in student: \['</think>', '<think>'\]"):
        run_train(cfg)


def test_missing_data_and_config_fields(tmp_path, smollm2_path):
    with pytest.raises(ConfigError, match="not found"):
        run_train(TrainConfig(data=str(tmp_path / "nope.jsonl"), student=str(smollm2_path), output_dir=str(tmp_path)))
    with pytest.raises(ValueError, match="needs kd.teacher"):
        TrainConfig(data="x", student="y", output_dir="z", kd={"mode": "precompute"})
    with pytest.raises(ValueError):
        TrainConfig(data="x", student="y", output_dir="z", learning_rte=1e-5)
