"""Progress on long steps: a live bar on a terminal, periodic done/total/rate/ETA lines when
output goes to a file (the helper, and a real pipeline run with its output redirected)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from thoughtdistill.progress import Progress, choose_mode

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"\[(?P<desc>[^\]]+)\] (?P<done>[\d.,]+)/(?P<total>[\d.,]+) (?P<unit>\w+) \(\d+%\) · "
                  r"(?P<rate>[^·]+) · elapsed [^·]+ · ETA ")


def test_lines_mode_writes_periodic_lines_with_rate_and_eta():
    buf = io.StringIO()
    with Progress(20, "work", "item", stream=buf, interval=0.05) as bar:
        for _ in range(20):
            time.sleep(0.02)
            bar.update()
    lines = buf.getvalue().splitlines()
    periodic = [m for line in lines if (m := LINE.match(line))]
    assert len(periodic) >= 3, lines
    assert all(m["total"] == "20" and m["unit"] == "item" and "item/s" in m["rate"] for m in periodic)
    assert re.match(r"\[work\] 20/20 item \(100%\) · .* · done in ", lines[-1]), lines[-1]


def test_ticker_reports_during_a_single_long_step_and_off_means_silent():
    buf = io.StringIO()
    with Progress(2, "batch", "sample", stream=buf, interval=0.05):
        time.sleep(0.3)  # no update at all: the ticker still writes lines
    assert sum("[batch] 0/2 sample" in line for line in buf.getvalue().splitlines()) >= 3
    quiet = io.StringIO()
    with Progress(5, "off", stream=quiet, enabled=False) as bar:
        bar.update(5)
    assert quiet.getvalue() == ""
    short = io.StringIO()
    with Progress(5, "short", stream=short, interval=10) as bar:
        bar.update(5)
    assert short.getvalue() == ""  # shorter than one interval: nothing in the log
    assert choose_mode(True, io.StringIO()) in ("lines", "bar")  # env may force a mode


def _recipe(tmp_path: Path) -> Path:
    recipe = {
        "name": "progress",
        "servers": {"teacher": {"model": "echo-teacher", "backend": "echo", "latency_ms": 150,
                                "max_concurrent": 2}},
        "stages": [
            {"name": "prepare", "config": {
                "sources": [{"path": str(ROOT / "configs/recipes/quickstart-data/multi_chain.jsonl"),
                             "format": "multi_chain", "limit": 6, "max_chains": 0}],
                "output": "${stage_dir}/questions.jsonl"}},
            {"name": "generate", "config": {
                "input": "${stages.prepare.dir}/questions.jsonl", "output": "${stage_dir}/chains.jsonl",
                "n": 2, "cache": False,
                "teachers": [{"name": "echo", "base_url": "${servers.teacher.base_url}",
                              "model": "${servers.teacher.model}",
                              "api_key_env": "${servers.teacher.api_key_env}", "concurrency": 1,
                              "max_tokens": 16}]}},
            {"name": "verify", "config": {"input": "${stages.generate.dir}/chains.jsonl",
                                          "output": "${stage_dir}/verified.jsonl", "processes": 1}},
        ],
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.mark.slow
def test_pipeline_run_redirected_to_a_file_shows_periodic_progress(tmp_path):
    recipe = _recipe(tmp_path)
    log = tmp_path / "run.log"
    env = dict(os.environ, THOUGHTDISTILL_PROGRESS_INTERVAL="0.3")
    env.pop("THOUGHTDISTILL_PROGRESS", None)
    with log.open("w") as fh:  # not a terminal: the periodic-line mode
        proc = subprocess.run([sys.executable, "-m", "thoughtdistill", "run", str(recipe),
                               "--run-dir", str(tmp_path / "run")],
                              stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=tmp_path, timeout=300)
    text = log.read_text()
    assert proc.returncode == 0, text[-3000:]
    gen = [m for line in text.splitlines() if (m := LINE.match(line)) and m["desc"] == "generate"]
    # 12 requests at ~150 ms each, one at a time: ~2 s, a line every 0.3 s
    assert len(gen) >= 3, text[-3000:]
    assert {m["total"] for m in gen} == {"12"} and all("req/s" in m["rate"] for m in gen)
    assert re.search(r"\[generate\] 12/12 req \(100%\) .* done in ", text), text[-3000:]


def test_verify_reports_per_chain_when_not_on_a_terminal(tmp_path, capfd, monkeypatch):
    from thoughtdistill.io.convert import convert_file
    from thoughtdistill.verify.stage import VerifyConfig, run_verify

    monkeypatch.setenv("THOUGHTDISTILL_PROGRESS", "lines")
    monkeypatch.setenv("THOUGHTDISTILL_PROGRESS_INTERVAL", "0.000001")
    chains = tmp_path / "chains.jsonl"
    convert_file(ROOT / "configs/recipes/quickstart-data/multi_chain.jsonl", chains, src_format="multi_chain")
    run_verify(VerifyConfig(input=chains, output=tmp_path / "verified.jsonl", processes=1, limit=2))
    err = capfd.readouterr().err
    total = re.search(r"\[verify\] \d+/(\d+) chain", err)
    assert total, err[-2000:]
    assert re.search(rf"\[verify\] {total[1]}/{total[1]} chain \(100%\) .* done in ", err), err[-2000:]
