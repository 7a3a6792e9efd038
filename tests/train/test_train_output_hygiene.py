"""A real train run (tiny Qwen3 fixture, one step, activation checkpointing on) raises no
deprecation warning from our own calls, writes every output file with the umask's mode
(model.safetensors was 0600), and reports its steps as progress lines when not on a terminal."""

from __future__ import annotations

import os
import warnings

import pytest

from thoughtdistill.train import TrainConfig, run_train

from .conftest import multi_chain_records, write_jsonl


@pytest.mark.slow
def test_train_no_deprecations_umask_modes_and_progress(tmp_path, data_dir, tiny_qwen3_path, capfd, monkeypatch):
    monkeypatch.setenv("THOUGHTDISTILL_PROGRESS", "lines")
    monkeypatch.setenv("THOUGHTDISTILL_PROGRESS_INTERVAL", "0.2")
    data = write_jsonl(tmp_path / "d.jsonl", multi_chain_records(data_dir, max_chars=600, per_question=1)[:4])
    cfg = TrainConfig(data=str(data), student="tiny-qwen3", output_dir=str(tmp_path / "run"), max_length=256,
                      overlength="truncate_thought", per_device_batch_size=2, learning_rate=1e-3, max_steps=1,
                      gradient_checkpointing=True)
    old = os.umask(0o022)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = run_train(cfg)
    finally:
        os.umask(old)
    deprecations = [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught
                    if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning))]
    assert deprecations == []
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in result.model_dir.iterdir() if p.is_file()}
    assert modes["model.safetensors"] == "0o644" and set(modes.values()) == {"0o644"}, modes
    err = capfd.readouterr().err
    assert "[train] 0/1 step (0%)" in err and "[train] 1/1 step (100%)" in err, err[-2000:]
