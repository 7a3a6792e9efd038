"""The quick start recipe end to end, scaled down with --set (3 questions, few tokens, 2
training steps) so it fits the test budget: real llm-katan teacher and judge servers on the
SmolLM2 fixture, math-verify, judge, student-fit, training, evaluation before/after, report
checked in headless Chromium; then the same command again skips everything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from thoughtdistill.report import SECTIONS
from thoughtdistill.report.browser import chromium_path, load_in_chromium

SMALL = {"questions": 3, "recorded_chains": 1, "chains": 1, "teacher_tokens": 32,
         "heldout": "1200:1202", "eval_tokens": 32, "train_steps": 2}


def _cmd(run: Path) -> list[str]:
    sets = [x for k, v in SMALL.items() for x in ("--set", f"{k}={v}")]
    return [sys.executable, "-m", "thoughtdistill", "run", "--run-dir", str(run), *sets]


@pytest.mark.slow
def test_quickstart_small(tmp_path, smollm2_path):
    run = tmp_path / "qs"
    proc = subprocess.run(_cmd(run), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert f"report: {run / 'report' / 'report.html'}" in proc.stdout
    report = json.loads((run / "report" / "report.json").read_text())
    funnel = report["funnel"]
    assert funnel["questions"] == 3 and funnel["chains"] == 6  # 1 recorded + 1 live each
    assert funnel["verified"] is not None and funnel["selected"] is not None
    assert sum(map(sum, report["heatmaps"]["all annotated chains"])) >= 1
    assert len(report["training"]["loss"]) == 2
    assert [r["label"] for r in report["evaluation"]] == ["student-before", "student-after"]
    assert all(r["n_problems"] == 2 for r in report["evaluation"])
    assert (run / "train" / "student" / "trainer_log.json").exists()
    # Servers were stopped at the end.
    left = subprocess.run(["pgrep", "-f", f"stats-file {run}/servers"], capture_output=True, text=True)
    assert left.stdout.strip() == ""
    if chromium_path() is not None:
        check = load_in_chromium(run / "report" / "report.html")
        assert check.console == [] and 'data-figures="ok"' in check.dom
        assert all(f'id="{s}"' in check.dom for s in SECTIONS)
    # Same command again: every stage skipped, no server started.
    again = subprocess.run(_cmd(run), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "starting local server" not in again.stderr
    assert again.stdout.count(" skipped") == 9, again.stdout
