"""The report over a run directory holding sample stage outputs built from real chains
(../shared/data/multi_chain.jsonl), checked as data and in real headless Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from thoughtdistill.report import SECTIONS, build_report
from thoughtdistill.report.browser import chromium_path, load_in_chromium


def _manifest(run: Path, stage: str, kind: str, result: dict) -> None:
    (run / "manifests").mkdir(parents=True, exist_ok=True)
    (run / "manifests" / f"{stage}.json").write_text(json.dumps(
        {"status": "done", "stage": stage, "kind": kind, "result": result, "seconds": 1.5,
         "finished_at": f"2025-01-01T00:00:0{len(list((run / 'manifests').glob('*.json')))}"}))


def _jsonl(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def make_sample_run(run: Path, data_dir: Path) -> Path:
    rows = [json.loads(line) for line in (data_dir / "multi_chain.jsonl").read_text().splitlines()[:20]]
    questions = [{"id": f"q{i}", "question": r["question"], "answer": r["answer"]} for i, r in enumerate(rows)]
    _jsonl(run / "prepare" / "questions.jsonl", questions)
    _manifest(run, "prepare", "prepare", {"output": str(run / "prepare" / "questions.jsonl"), "count": 20})
    generated, annotated = [], []
    for i, r in enumerate(rows):
        chains, ann = [], []
        for j, c in enumerate(r["chains"][:4]):
            chain = {"teacher": "smollm2", "full_response": c["response"],
                     "usage": {"prompt_tokens": 50, "completion_tokens": 40 + len(c["response"]) // 4}}
            chains.append(chain)
            ann.append({**chain, "Reasoning_Verbosity": {"judge": "j", "level": (i + j) % 10},
                        "Cognitive_Difficulty": {"judge": "j", "level": (i * 3 + j) % 10},
                        "correctness": {"verdict": bool(c["correct"]), "by": "math-verify"}})
        generated.append({**questions[i], "reasoning": chains})
        annotated.append({**questions[i], "reasoning": ann})
    _jsonl(run / "generate" / "chains.jsonl", generated)
    _manifest(run, "generate", "generate", {"output": str(run / "generate" / "chains.jsonl")})
    _jsonl(run / "verify" / "annotated.jsonl", annotated)
    _manifest(run, "verify", "verify", {"output": str(run / "verify" / "annotated.jsonl")})
    selected = [{**a, "reasoning": [c for c in a["reasoning"] if c["correctness"]["verdict"]][:1]} for a in annotated]
    selected = [s for s in selected if s["reasoning"]]
    _jsonl(run / "select" / "selected.jsonl", selected)
    (run / "select" / "select_report.json").write_text(json.dumps({"strategy": "student-fit", "chains_in": 80}))
    _manifest(run, "select", "select", {"output": str(run / "select" / "selected.jsonl")})
    (run / "train" / "student").mkdir(parents=True)
    (run / "train" / "student" / "trainer_log.json").write_text(json.dumps(
        {"log_history": [{"step": s, "loss": 2.0 / s, "learning_rate": 1e-5} for s in range(1, 9)]}))
    _manifest(run, "train", "train", {"output_dir": str(run / "train" / "student")})
    for stage, acc in (("eval_before", 0.1), ("eval_after", 0.3)):
        (run / stage).mkdir()
        (run / stage / f"{stage}.json").write_text(json.dumps({
            "schema": "thoughtdistill.eval/1", "run_name": stage, "label": stage, "model": "/m",
            "benchmark": {"name": "gsm8k"}, "n": 1,
            "metrics": {"accuracy": acc, "avg@1": {"value": acc, "ci_low": 0.0, "ci_high": acc * 2},
                        "n_problems": 10, "n_samples": 10, "mean_completion_tokens": 120.0,
                        "truncation_rate": 0.2}}))
        _manifest(run, stage, "evaluate", {"run_json": str(run / stage / f"{stage}.json")})
    return run


def test_report_json(tmp_path, data_dir):
    run = make_sample_run(tmp_path / "run", data_dir)
    res = build_report(run, run / "report")
    data = json.loads(Path(res.json_path).read_text())
    f = data["funnel"]
    assert f["questions"] == 20 and f["chains"] == 80
    annotated = [json.loads(x) for x in (run / "verify" / "annotated.jsonl").read_text().splitlines()]
    assert f["verified"] == sum(c["correctness"]["verdict"] for r in annotated for c in r["reasoning"])
    assert f["selected"] == len((run / "select" / "selected.jsonl").read_text().splitlines())
    assert sum(map(sum, data["heatmaps"]["all annotated chains"])) == 80
    assert [r["accuracy"] for r in data["evaluation"]] == [0.1, 0.3]
    assert data["evaluation"][0]["tokens_spent"] == 1200
    assert data["training"]["loss"][0] == 2.0 and len(data["training"]["step"]) == 8
    assert data["selection"]["data"]["strategy"] == "student-fit"
    html = Path(res.html).read_text()
    # Self-contained: no external URL anywhere, relative links to the data files that exist.
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", html)
    for link in re.findall(r"href='([^']+)'", html):
        assert (Path(res.html).parent / link).exists(), link
    assert html.count("data:image/png;base64,") == 3


def test_report_empty_run(tmp_path):
    res = build_report(tmp_path / "empty", tmp_path / "empty" / "report")
    assert json.loads(Path(res.json_path).read_text())["funnel"]["chains"] is None
    assert "no training log" in Path(res.html).read_text()


@pytest.mark.slow
def test_report_in_chromium(tmp_path, data_dir):
    if chromium_path() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium chromium-driver)")
    run = make_sample_run(tmp_path / "run", data_dir)
    res = build_report(run, run / "report")
    check = load_in_chromium(res.html)
    assert check.console == [], check.console
    assert 'data-figures="ok"' in check.dom and 'data-figure-count="3"' in check.dom, check.stderr[-2000:]
    for section in SECTIONS:
        assert f'id="{section}"' in check.dom, section
    # The browser check itself catches console errors (positive control).
    broken = Path(res.html).with_name("broken.html")
    broken.write_text(Path(res.html).read_text().replace("</main>", "<script>undefinedFn()</script></main>"))
    assert any("undefinedFn" in m for m in load_in_chromium(broken).console)
