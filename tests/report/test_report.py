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


def make_sample_run(run: Path, data_dir: Path, judge_constant: bool = False) -> Path:
    """A run directory as the pipeline leaves it: recorded chains (their own teacher) plus a
    live teacher whose chains are all wrong, two judges (a constant one when ``judge_constant``),
    rule-verified correctness, a student-fit selection report, a trainer log, eval runs before
    and after with the newer metrics, and the bookkeeping files (journal, state, manifests)."""
    rows = [json.loads(line) for line in (data_dir / "multi_chain.jsonl").read_text().splitlines()[:20]]
    questions = [{"id": f"q{i}", "question": r["question"], "answer": r["answer"]} for i, r in enumerate(rows)]
    _jsonl(run / "prepare" / "questions.jsonl", questions)
    _manifest(run, "prepare", "prepare", {"output": str(run / "prepare" / "questions.jsonl"), "count": 20})
    generated, annotated = [], []
    for i, r in enumerate(rows):
        chains, ann = [], []
        for j, c in enumerate(r["chains"][:4]):
            live = j >= 2  # two recorded chains, two live ones per question
            chain = {"teacher": "smollm2" if live else "recorded", "full_response": c["response"],
                     "usage": {"prompt_tokens": 50, "completion_tokens": 40 + len(c["response"]) // 4}}
            chains.append(chain)
            if i % 4 == 3 and j == 3:  # a few chains the judge could not score
                ann.append({**chain, "correctness": {"verdict": False, "by": "math-verify"}})
                continue
            rv = 4 if judge_constant else min(9, len(c["response"]) // 250)
            cd = 3 if judge_constant else (i * 3 + j) % 10
            ann.append({**chain, "Reasoning_Verbosity": {"judge": "median(a,b)", "level": rv},
                        "Cognitive_Difficulty": {"judge": "median(a,b)", "level": cd},
                        "judgments": [{"judge": "a", "metric": "Reasoning_Verbosity", "level": rv},
                                      {"judge": "b", "metric": "Reasoning_Verbosity", "level": min(9, rv + j % 2)},
                                      {"judge": "a", "metric": "Cognitive_Difficulty", "level": cd},
                                      {"judge": "b", "metric": "Cognitive_Difficulty", "level": cd}],
                        "correctness": {"verdict": bool(c["correct"]) and not live, "by": "math-verify"}})
        generated.append({**questions[i], "reasoning": chains})
        annotated.append({**questions[i], "reasoning": ann})
    _jsonl(run / "generate" / "chains.jsonl", generated)
    _jsonl(run / "generate" / "chains.jsonl.work" / "journal.jsonl", [{"key": "q0/0"}])
    (run / "generate" / "chains.jsonl.work" / "state.json").write_text("{}")
    _manifest(run, "generate", "generate", {"output": str(run / "generate" / "chains.jsonl")})
    _jsonl(run / "judge" / "annotated.jsonl", annotated)
    _manifest(run, "judge", "judge", {"output": str(run / "judge" / "annotated.jsonl")})
    selected = [{**a, "reasoning": [c for c in a["reasoning"] if c["correctness"]["verdict"]][:1]} for a in annotated]
    selected = [s for s in selected if s["reasoning"]]
    _jsonl(run / "select" / "selected.jsonl", selected)
    (run / "select" / "selected.select_report.json").write_text(json.dumps({
        "version": 1, "strategy": "student-fit", "seed": 0, "input": "x", "output": "y",
        "counts": {"rows_in": 20, "rows_bad": 0, "questions_in": 20, "chains_in": 80,
                   "questions_out": len(selected), "chains_out": len(selected), "tokens_out": 1234},
        "steps": [{"step": "quality", "chains": 70, "questions": 20, "removed_chains": 10,
                   "removed_questions": 0, "reasons": {"no_final_answer": 10}}],
        "strategy_report": {"cd_band": [0, 4], "student_size_b": 0.6, "rv_target_mean": 3.5},
        "timing_s": {"scan": 0.1, "total": 0.4}, "peak_rss_mb": 123.4}))
    _manifest(run, "select", "select", {"output": str(run / "select" / "selected.jsonl")})
    (run / "train" / "student").mkdir(parents=True)
    (run / "train" / "student" / "trainer_log.json").write_text(json.dumps(
        {"log_history": [{"step": s, "loss": 2.0 / s, "learning_rate": 1e-5} for s in range(1, 9)]}))
    _manifest(run, "train", "train", {"output_dir": str(run / "train" / "student"), "steps": 8, "examples": 13})
    for stage, acc, fmt, nll, trunc in (("eval_before", 0.1, 0.1, 1.5, 0.85), ("eval_after", 0.1, 0.8, 1.2, 0.2)):
        (run / stage).mkdir()
        (run / stage / f"{stage}.json").write_text(json.dumps({
            "schema": "thoughtdistill.eval/1", "run_name": stage, "label": stage, "model": "/m",
            "benchmark": {"name": "gsm8k"}, "n": 1, "enable_thinking": True,
            "sampling": {"max_new_tokens": 192},
            "metrics": {"accuracy": acc, "avg@1": {"value": acc, "ci_low": 0.0, "ci_high": acc * 2},
                        "n_problems": 10, "n_samples": 10, "mean_completion_tokens": 120.0,
                        "truncation_rate": trunc, "format_adherence": fmt,
                        "heldout_nll": {"per_token": nll, "tokens": 500, "chains": 8}}}))
        (run / stage / f"{stage}.infer.jsonl.meta.json").write_text("{}")
        _manifest(run, stage, "evaluate", {"run_json": str(run / stage / f"{stage}.json")})
    return run


def test_report_json(tmp_path, data_dir):
    run = make_sample_run(tmp_path / "run", data_dir)
    res = build_report(run, run / "report")
    data = json.loads(Path(res.json_path).read_text())
    f = data["funnel"]
    assert f["questions"] == 20 and f["chains"] == 80
    chains = [c for x in (run / "judge" / "annotated.jsonl").read_text().splitlines()
              for c in json.loads(x)["reasoning"]]
    assert f["correct"] == sum(c["correctness"]["verdict"] for c in chains) == f["verified"]
    assert f["rule_verified"] == 80 and f["judged"] == 75  # 5 chains without scores
    assert f["selected"] == len((run / "select" / "selected.jsonl").read_text().splitlines())
    assert sum(map(sum, data["heatmaps"]["all annotated chains"])) == 75
    assert [r["accuracy"] for r in data["evaluation"]] == [0.1, 0.1]
    assert [r["format_adherence"] for r in data["evaluation"]] == [0.1, 0.8]
    assert data["evaluation"][1]["heldout_nll"] == 1.2 and data["evaluation"][1]["max_new_tokens"] == 192
    assert data["evaluation"][0]["tokens_spent"] == 1200
    assert data["training"]["loss"][0] == 2.0 and len(data["training"]["step"]) == 8
    assert data["training"]["steps"] == 8 and data["training"]["examples"] == 13
    assert data["selection"]["data"]["strategy"] == "student-fit"
    # per teacher: the live teacher is never correct and never selected
    teachers = {t["teacher"]: t for t in data["teacher_table"]}
    assert teachers["smollm2"]["chains"] == 40 and teachers["smollm2"]["correct"] == 0
    assert teachers["smollm2"]["selected"] == 0 and teachers["recorded"]["selected"] == f["selected"]
    assert teachers["recorded"]["judged"] + teachers["smollm2"]["judged"] == 75
    # judge diagnostics: two judges, informative scores
    j = data["judge"]
    assert j["metrics"]["RV"]["n"] == 75 and j["rv_length"]["spearman"] > 0.8 and j["warnings"] == []
    assert {r["metric"] for r in j["agreement"]["levels"]} == {"Reasoning_Verbosity", "Cognitive_Difficulty"}
    # what happened, in words
    story = " ".join(x["text"] for x in data["what_happened"])
    assert "Format adherence (thought closed, final answer extractable) rose from 10% to 80% (+70 points)" in story
    assert "Held-out teacher-chain NLL fell: 1.500 → 1.200 nats/token (-20%)" in story
    assert "Truncation (answers cut at the 192-token cap or whose thought never closed) fell from 85% to 20%" in story
    assert "Accuracy unchanged: 10% → 10%" in story and "10 problems are too few" in story
    assert "None of the 40 checked chains from smollm2 is correct" in story
    assert "The selection is 100% recorded chains" in story
    html = Path(res.html).read_text()
    # Self-contained: no external URL anywhere, relative links to the data files that exist.
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", html)
    for link in re.findall(r"href='([^']+)'", html):
        assert (Path(res.html).parent / link).exists(), link
    assert html.count("data:image/png;base64,") == 3
    # percents, not fractions; human labels; internal files folded away
    assert "80.0%" in html and "0.800" not in html and "[0.0%, 20.0%]" in html
    assert "peak_rss_mb" not in html and ">version<" not in html and "student size (billions of parameters)" in html
    folded = html[html.index("<details>"):html.index("</details>")]
    assert "journal.jsonl" in folded and "state.json" in folded and "manifests/" in folded
    assert ".meta.json" in folded and "judge/annotated.jsonl" not in folded


def test_constant_judge_is_called_out(tmp_path, data_dir):
    run = make_sample_run(tmp_path / "run", data_dir, judge_constant=True)
    data = json.loads(Path(build_report(run, run / "report").json_path).read_text())
    assert data["judge"]["metrics"]["RV"]["modal_share"] == 1.0 and len(data["judge"]["warnings"]) == 2
    story = " ".join(x["text"] for x in data["what_happened"] if x["kind"] == "warning")
    assert "100% of scored chains got level 4" in story and "carries little information" in story


def test_report_tolerates_older_eval_runs(tmp_path, data_dir):
    run = make_sample_run(tmp_path / "run", data_dir)
    for stage in ("eval_before", "eval_after"):
        path = run / stage / f"{stage}.json"
        d = json.loads(path.read_text())
        for key in ("format_adherence", "heldout_nll", "truncation_rate"):
            d["metrics"].pop(key)
        d.pop("sampling")
        path.write_text(json.dumps(d))
    data = json.loads(Path(build_report(run, run / "report").json_path).read_text())
    assert data["evaluation"][0]["format_adherence"] is None
    story = " ".join(x["text"] for x in data["what_happened"])
    assert "Accuracy unchanged" in story and "Format adherence" not in story


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
    dom = check.dom
    story = dom[dom.index('id="what-happened"'):dom.index('id="summary"')]
    assert "rose from 10% to 80%" in story and "Accuracy unchanged" in story
    teachers = dom[dom.index('id="teachers"'):dom.index('id="judge"')]
    assert "smollm2" in teachers and "recorded" in teachers and "rule-verified" in teachers
    judge = dom[dom.index('id="judge"'):dom.index('id="heatmaps"')]
    assert "modal level" in judge and "Spearman" in judge and "a vs b" in judge
    for step in ("judged", "rule_verified", "correct", "selected"):
        assert f'data-step="{step}"' in dom, step
    assert "<details>" in dom and "internal files" in dom
    # The browser check itself catches console errors (positive control).
    broken = Path(res.html).with_name("broken.html")
    broken.write_text(Path(res.html).read_text().replace("</main>", "<script>undefinedFn()</script></main>"))
    assert any("undefinedFn" in m for m in load_in_chromium(broken).console)


def test_nan_accuracy_reads_as_missing(tmp_path, data_dir):
    run = make_sample_run(tmp_path / "run", data_dir)
    path = run / "eval_after" / "eval_after.json"
    d = json.loads(path.read_text())
    d["metrics"]["accuracy"] = float("nan")
    path.write_text(json.dumps(d))  # json writes NaN, as run.py's json.dump does
    res = build_report(run, run / "report")
    data = json.loads(Path(res.json_path).read_text())
    assert data["evaluation"][1]["accuracy"] is None
    html = Path(res.html).read_text()
    evaluation = html[html.index("id='evaluation'"):html.index("id='selection'")]
    assert "nan" not in evaluation.lower() and "–" in evaluation
    assert not any("Accuracy" in x["text"] for x in data["what_happened"])


def test_cap_figures_count_answers_the_budget_cut_not_unclosed_thoughts():
    """truncation_rate also counts thoughts that stopped unclosed; "hit the cap" is cap_rate."""
    from thoughtdistill.report.story import _accuracy_reasons

    run = {"truncation_rate": 0.9, "cap_rate": 0.1, "max_new_tokens": 384, "n_problems": 100}
    assert "cap" not in _accuracy_reasons(run, {})
    assert "90% of answers hit the 384-token cap" in _accuracy_reasons(dict(run, cap_rate=0.9), {})
    older = {"truncation_rate": 0.9, "max_new_tokens": 384, "n_problems": 100}  # written before cap_rate
    assert "90% of answers hit the 384-token cap" in _accuracy_reasons(older, {})
