"""Judge diagnostics on real chains (../shared/data/multi_chain.jsonl) with known scores:
spread, modal share and its warning, RV-length correlation, agreement between two judges;
the same numbers from Chain objects and from JSONL dicts."""

from __future__ import annotations

import json

from thoughtdistill.judge.diagnostics import diagnose, format_diagnostics
from thoughtdistill.records import Chain


def _chains(data_dir, rv_of, cd_of):
    rows = [json.loads(x) for x in (data_dir / "multi_chain.jsonl").read_text().splitlines()[:10]]
    out = []
    for i, r in enumerate(rows):
        for j, c in enumerate(r["chains"][:4]):
            text = c["response"]
            rv, cd = rv_of(i, j, text), cd_of(i, j, text)
            out.append({"teacher": "t", "full_response": text,
                        "Reasoning_Verbosity": {"judge": "median(a,b)", "level": rv},
                        "Cognitive_Difficulty": {"judge": "median(a,b)", "level": cd},
                        "judgments": [
                            {"judge": "a", "metric": "Reasoning_Verbosity", "level": rv},
                            {"judge": "b", "metric": "Reasoning_Verbosity", "level": min(9, rv + (j % 2))},
                            {"judge": "a", "metric": "Cognitive_Difficulty", "level": cd},
                            {"judge": "b", "metric": "Cognitive_Difficulty", "level": cd}]})
    return out


def test_informative_judge(data_dir):
    # RV follows length; CD varies by question
    chains = _chains(data_dir, lambda i, j, t: min(9, len(t) // 300), lambda i, j, t: i % 10)
    rep = diagnose(chains)
    assert rep["chains"] == 40 and rep["metrics"]["RV"]["n"] == 40
    assert rep["rv_length"]["spearman"] > 0.9
    assert rep["metrics"]["CD"]["levels_used"] == 10 and rep["metrics"]["CD"]["modal_share"] == 0.1
    assert rep["warnings"] == []
    cd_pair = next(r for r in rep["agreement"]["levels"] if r["metric"] == "Cognitive_Difficulty")
    assert (cd_pair["a"], cd_pair["b"], cd_pair["exact_agreement"]) == ("a", "b", 1.0)
    # Chain objects give the same report as dicts
    assert diagnose([Chain.model_validate(c) for c in chains]) == rep


def test_constant_judge_is_flagged(data_dir):
    chains = _chains(data_dir, lambda i, j, t: 4 if (i, j) != (0, 0) else 5, lambda i, j, t: 3)
    rep = diagnose(chains)
    rv, cd = rep["metrics"]["RV"], rep["metrics"]["CD"]
    assert rv["modal_level"] == 4 and rv["modal_share"] == 39 / 40 and rv["histogram"][4] == 39
    assert cd["std"] == 0 and cd["levels_used"] == 1
    assert len(rep["warnings"]) == 2 and "98% of scored chains got level 4" in rep["warnings"][0]
    text = format_diagnostics(rep)
    assert "modal level 4 = 98%" in text and "warning: CD: 100%" in text


def test_unscored_and_error_chains():
    rep = diagnose([{"finish_reason": "error"}, {"full_response": "x" * 40}])
    assert rep["chains"] == 1 and rep["metrics"]["RV"]["n"] == 0 and rep["warnings"] == []
    assert "RV: no scores" in format_diagnostics(rep)


def test_dry_run_counts_calls_and_sends_nothing(tmp_path, data_dir, monkeypatch):
    from thoughtdistill.judge import JudgeConfig, run_judge

    monkeypatch.delenv("TD_TEST_JUDGE_KEY", raising=False)
    rows = [json.loads(x) for x in (data_dir / "multi_chain.jsonl").read_text().splitlines()[:3]]
    src = tmp_path / "chains.jsonl"
    src.write_text("".join(json.dumps({"question": r["question"], "answer": r["answer"],
                                       "reasoning": [{"full_response": c["response"]} for c in r["chains"][:2]]}) + "\n"
                           for r in rows))
    # nothing listens on port 9: a dry run must not try
    judges = [{"name": "a", "base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key_env": "TD_TEST_JUDGE_KEY"},
              {"name": "b", "base_url": "http://127.0.0.1:9/v1", "model": "m"}]
    res = run_judge(JudgeConfig(input=src, output=tmp_path / "judged.jsonl", judges=judges, dry_run=True))
    # 6 chains x 2 judges x (RV, CD); correctness goes to math-verify (the records have answers)
    assert res.requests == 24 and res.chains == 6 and not (tmp_path / "judged.jsonl").exists()
    assert "would make 24 judge calls" in res.summary() and "TD_TEST_JUDGE_KEY is not set" in res.summary()
