"""The product stands on its own: a wheel of the project, installed into a fresh virtual
environment, runs its commands from an empty folder with no ``shared/`` data anywhere in reach.

Dependencies come from the test environment's site-packages (a path line in the new venv, added
after its own site-packages, so the wheel's copy of thoughtdistill is the one imported; the test
environment's editable install is not activated because ``.pth`` files of an added path are not
processed). The teacher is a real llm-katan server started by the test environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from thoughtdistill.pipeline.katan import LOCAL_KEY, katan

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh venv holding the wheel built from a copy of the checkout's sources."""
    base = tmp_path_factory.mktemp("standalone")
    source = base / "source"
    source.mkdir()
    for name in ("src", "pyproject.toml", "README.md", "LICENSE"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, source / name)
    wheels = base / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(source)], check=True)
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    (wheel,) = wheels.glob("thoughtdistill-*.whl")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "zz_test_env_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir / "bin"


def _run(bin_dir: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "THOUGHTDISTILL_SHARED_DATA"}
    full_env.update(env, PATH=f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run([str(bin_dir / "thoughtdistill"), *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def empty_dir(tmp_path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    assert not any((p / "shared" / "data" / "MANIFEST.md").exists() for p in [folder, *folder.parents])
    return folder


def test_the_wheel_is_the_code_that_runs(installed, empty_dir):
    p = subprocess.run([str(installed / "python"), "-c", "import thoughtdistill, sys; print(thoughtdistill.__file__)"],
                       cwd=empty_dir, capture_output=True, text=True, check=True)
    assert str(ROOT / "src") not in p.stdout and "site-packages" in p.stdout


@pytest.mark.parametrize("bench", ["math500", "humaneval"])
def test_eval_packaged_benchmarks_against_a_local_server(installed, empty_dir, tmp_path, bench):
    with katan(workdir=tmp_path / "katan") as server:
        p = _run(installed, empty_dir, "eval", "-b", bench, "--limit", "2", "--backend", "openai",
                 "--base-url", server.base_url, "-m", server.model, "--api-key-env", "KATAN_KEY",
                 "--no-thinking", "--max-new-tokens", "32", "-o", "out", KATAN_KEY=LOCAL_KEY)
    assert p.returncode == 0, p.stderr
    (run_json,) = [p for p in (empty_dir / "out").glob(f"*{bench}*.json") if not p.name.endswith(".meta.json")]
    run = json.loads(run_json.read_text())
    assert run["metrics"]["n_problems"] == 2 and run["benchmark"]["name"] == bench
    assert "thoughtdistill/evaluate/data" in run["benchmark"]["path"]


def test_select_decontaminates_against_packaged_benchmarks(installed, empty_dir, data_dir):
    """A canonical file made from the real multi-chain rows; some of its MATH problems are MATH-500
    items, which the packaged set must catch with default hygiene and no warning."""
    p = _run(installed, empty_dir, "convert", str(data_dir / "multi_chain.jsonl"), "chains.jsonl",
             "--from", "multi_chain")
    assert p.returncode == 0, p.stderr
    p = _run(installed, empty_dir, "select", "chains.jsonl", "-o", "selected.jsonl", "-s", "random",
             "--n", "50", "--no-figures")
    assert p.returncode == 0, p.stderr
    assert "warning" not in p.stderr
    report = json.loads((empty_dir / "selected.select_report.json").read_text())
    decon = next(s for s in report["steps"] if s["step"] == "decontaminate")
    assert decon["reasons"]["contaminated_questions:math500"] > 0
    assert {s["name"] for s in report["hygiene"]["eval_sets"]} >= {"math500", "gsm8k", "aime24", "humaneval"}


def test_quickstart_recipe_dry_run(installed, empty_dir):
    p = _run(installed, empty_dir, "run", str(ROOT / "configs" / "recipes" / "quickstart.yaml"), "--dry-run")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "recipe is valid" in p.stdout and "warning" not in p.stdout + p.stderr
    assert all(f"{stage} " in p.stdout for stage in ("prepare", "generate", "select", "train", "report"))
