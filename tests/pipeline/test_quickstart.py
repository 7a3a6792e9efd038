"""The quick start recipe end to end, exactly as the README's first command runs it: a real
llm-katan server on the SmolLM2 fixture as live teacher and judge, math-verify, judge, selection,
training on the recorded teacher chains, evaluation before/after (thinking on, the training
template, held-out teacher chains), the report checked in headless Chromium; then the same command
again skips everything.

The test checks what a user's first run shows:
the student learns the thinking format (format adherence up by at least 50 points) and the
teacher's chains (held-out NLL per token down by at least 15 %). Measured figures:
bench/RESULTS.md `## quickstart`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from thoughtdistill.report import SECTIONS
from thoughtdistill.report.browser import chromium_path, load_in_chromium

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "configs" / "recipes" / "quickstart-data"


def _cmd(run: Path) -> list[str]:
    return [sys.executable, "-m", "thoughtdistill", "run", "--run-dir", str(run)]


def _records(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def test_heldout_chains_are_never_trained_on():
    train, held = _records("thinking_chains.jsonl"), _records("heldout_chains.jsonl")
    assert not {r["question"] for r in train} & {r["question"] for r in held}
    assert not {r["id"] for r in train} & {r["id"] for r in held}
    assert len(held) == 18 and all(r["reasoning"][0]["thought"] and r["reasoning"][0]["solution"] for r in held)
    assert all("\\boxed" in c["solution"] for r in train[:84] for c in r["reasoning"])


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_quickstart_teaches_the_student(tmp_path, smollm2_path):
    run = tmp_path / "qs"
    proc = subprocess.run(_cmd(run), capture_output=True, text=True, timeout=1700)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert f"report: {run / 'report' / 'report.html'}" in proc.stdout
    report = json.loads((run / "report" / "report.json").read_text())
    funnel = report["funnel"]
    assert funnel["questions"] == 64 and funnel["chains"] == 64 + 2
    assert funnel["selected"] >= 56  # about one recorded chain per question survives the selection
    assert len(report["training"]["loss"]) >= 12
    assert [r["label"] for r in report["evaluation"]] == ["student-before", "student-after"]

    def metrics(stage: str, label: str) -> dict:
        return json.loads((run / stage / f"{label}__gsm8k__think.json").read_text())["metrics"]

    before, after = metrics("eval_before", "student-before"), metrics("eval_after", "student-after")
    (tmp_path / "before_after.json").write_text(json.dumps({"before": before, "after": after}, indent=1))
    summary = {k: (before[k], after[k]) for k in ("format_adherence", "truncation_rate", "accuracy")}
    summary["heldout_nll"] = (before["heldout_nll"]["per_token"], after["heldout_nll"]["per_token"])
    print("quickstart before -> after:", summary)
    # (a) format adherence up by >= 50 points; (b) the budget lets answers finish: few hit the cap
    # (truncation_rate also counts answers that stopped with their thought unclosed)
    assert after["format_adherence"] - before["format_adherence"] >= 0.5, summary
    samples = [json.loads(line) for line in (run / "eval_after" / "student-after__gsm8k__think.samples.jsonl")
               .read_text().splitlines()]
    assert sum(s["finish_reason"] == "length" for s in samples) <= 0.2 * len(samples), summary
    # (c) held-out teacher-chain NLL per token down by >= 15 %, on the same chains and tokens
    assert before["heldout_nll"]["tokens"] == after["heldout_nll"]["tokens"] > 3000
    assert after["heldout_nll"]["per_token"] <= 0.85 * before["heldout_nll"]["per_token"], summary
    # (d) accuracy with its CI (near zero for a 135M student; the report says so)
    for m in (before, after):
        assert m["accuracy_ci"]["low"] <= m["accuracy"] <= m["accuracy_ci"]["high"]
    # Servers were stopped at the end.
    left = subprocess.run(["pgrep", "-f", f"stats-file {run}/servers"], capture_output=True, text=True)
    assert left.stdout.strip() == ""
    if chromium_path() is not None:
        check = load_in_chromium(run / "report" / "report.html")
        assert check.console == [] and 'data-figures="ok"' in check.dom
        assert all(f'id="{s}"' in check.dom for s in SECTIONS)
        assert "format adherence" in check.dom and "held-out NLL" in check.dom
        assert "<b>student-before → student-after</b> on gsm8k: format adherence" in check.dom
    # Same command again: every stage skipped, no server started.
    again = subprocess.run(_cmd(run), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "starting local server" not in again.stderr
    assert again.stdout.count(" skipped") == 9, again.stdout
