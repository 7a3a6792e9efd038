"""kill -9 of ``thoughtdistill run`` at random moments, then the same command again: the run
completes, finished stages are not redone, and the final data equal an uninterrupted run's.

Real parts throughout: the pipeline starts a real llm-katan echo server (150 ms latency),
generate → verify → select (random strategy) → EasyDistill export on 60 GSM8K questions.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared_data import shared_data_dir

RECIPE = Path(__file__).with_name("resume_recipe.yaml")
FINAL = ["generate/chains.jsonl", "verify/annotated.jsonl", "select/selected.jsonl", "export/selected.json"]


def _cmd(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "thoughtdistill", "run", str(RECIPE), "--run-dir", str(run_dir),
            "--set", f"data={shared_data_dir()}"]


def _env(cache: Path) -> dict[str, str]:
    # Separate response caches: the resumed run must rely on its journal, not the cache.
    return dict(os.environ, THOUGHTDISTILL_CACHE=str(cache), HF_HUB_OFFLINE="1")


def _normalise(text: str) -> str:
    # The echo server stamps each answer with its port and the time; nothing else varies.
    return re.sub(r"(host|time)=\S+", r"\1=*", text)


def _manifest_times(run_dir: Path) -> dict[str, str]:
    out = {}
    for path in (run_dir / "manifests").glob("*.json"):
        out[path.stem] = json.loads(path.read_text())["finished_at"] + str(path.stat().st_mtime_ns)
    return out


@pytest.mark.slow
def test_kill9_resume_identical(tmp_path):
    ref = tmp_path / "ref"
    subprocess.run(_cmd(ref), env=_env(tmp_path / "cache-ref"), check=True, capture_output=True, timeout=300)

    run = tmp_path / "run"
    env = _env(tmp_path / "cache-run")
    rng = random.Random(1234)
    kills = 0
    for _ in range(5):
        proc = subprocess.Popen(_cmd(run), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 4.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        done_before = _manifest_times(run) if (run / "manifests").exists() else {}
        if (run / "run.json").exists() and json.loads((run / "run.json").read_text())["state"] == "done":
            break
    assert kills >= 1
    final = subprocess.run(_cmd(run), env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-3000:]
    # Stages finished before the last kill were not redone.
    after = _manifest_times(run)
    for stage, stamp in done_before.items():
        assert after[stage] == stamp, f"{stage} was redone"
    for rel in FINAL:
        assert _normalise((run / rel).read_text()) == _normalise((ref / rel).read_text()), rel
    # No server left behind by the killed runs.
    time.sleep(0.5)
    leftover = subprocess.run(["pgrep", "-f", f"stats-file {run}/servers"], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""
