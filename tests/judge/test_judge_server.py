"""run_judge against real local OpenAI-compatible servers (llm-katan).

The echo backend answers with the prompt it got, so a chain that contains a score makes the
judge "reply" with it: that exercises each parse path end to end, and a chain without one
exercises the strict retry (whose echo is our stricter instruction, still no score) and the
``ok=False`` record. The SmolLM2 server gives real model output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thoughtdistill.api import EndpointConfig
from thoughtdistill.io import read_records
from thoughtdistill.judge import JudgeConfig, run_judge
from thoughtdistill.pipeline.katan import katan

CHAIN_FIELDS = ("teacher", "thought", "solution", "full_response", "finish_reason", "usage")

RECORDS = [
    {"id": "m1", "question": "What is 2+2?", "answer": "4", "domain": "math", "reasoning": [
        {"teacher": "t", "full_response": "<think>2+2=4</think> so \\boxed{4} <score>3</score>"},
        {"teacher": "t", "full_response": "<think>hmm</think> \\boxed{5} Score: 6"}]},
    {"id": "o1", "question": "Why is the sky blue?", "reasoning": [
        {"teacher": "t", "thought": "Rayleigh.", "solution": 'Scattering. {"score": 1}'},
        {"teacher": "t", "full_response": "no rating in here at all"}]},
]


def _write(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _chains(path: Path):
    return [c for r in read_records(path) for c in r.reasoning]


@pytest.mark.slow  # a real llm-katan server: a few seconds each
def test_echo_judge_parse_paths_retry_and_cascade(tmp_path):
    src = _write(tmp_path / "in.jsonl", RECORDS)
    with katan(workdir=tmp_path / "k", served_name="echo-judge") as srv:
        judge = EndpointConfig(name="echo", base_url=srv.base_url, model=srv.model, concurrency=8)
        cfg = JudgeConfig(input=src, output=tmp_path / "out.jsonl", judges=[judge],
                          cache_dir=tmp_path / "cache", progress=False)
        res = run_judge(cfg)
        assert res.requests == 13 and res.sent == 13  # 4 chains x RV/CD + correctness on 2 (no rule)
        assert res.retried == 3 and res.unparsable == 3 and res.failed == 0
        a, b, c, d = _chains(cfg.output)
        assert (a.Reasoning_Verbosity.level, a.Reasoning_Verbosity.judge) == (3, "echo")
        assert {j.model_extra["parse"] for j in a.judgments} == {"tag"}
        assert b.Cognitive_Difficulty.level == 6 and b.judgments[0].model_extra["parse"] == "label"
        assert c.Reasoning_Verbosity.level == 1 and c.judgments[0].model_extra["parse"] == "json"
        # math records: the rule verifier decides; the judge is not asked about correctness
        assert a.correctness.by == "math-verify" and a.correctness.verdict is True
        assert b.correctness.by == "math-verify" and b.correctness.verdict is False
        assert not any(j.metric == "correctness" for j in a.judgments)
        # no rule: the judge decides, and says so
        assert c.correctness.verdict is True and c.correctness.by == "judge:echo"
        # unparsable twice: recorded as unjudged with the raw replies, never a number
        assert d.Reasoning_Verbosity is None and d.Cognitive_Difficulty is None
        assert all(not j.ok and j.level is None and j.verdict is None for j in d.judgments)
        assert all("strict retry" in j.raw and "could not be read" in j.raw for j in d.judgments)
        assert d.correctness.verdict is None and d.correctness.by == "llm-judge"
        assert json.loads(res.agreement_path.read_text())["chains"] == 4
        # a re-run resumes from the journal: nothing sent
        again = run_judge(cfg)
        assert again.sent == 0 and again.resumed >= 13


@pytest.mark.slow  # a real llm-katan server: a few seconds each
def test_new_judge_reuses_cached_calls_and_keeps_chains(tmp_path):
    src = _write(tmp_path / "in.jsonl", RECORDS)
    with katan(workdir=tmp_path / "ka", served_name="judge-a") as sa, \
            katan(workdir=tmp_path / "kb", served_name="judge-b") as sb:
        ja = EndpointConfig(name="a", base_url=sa.base_url, model=sa.model)
        jb = EndpointConfig(name="b", base_url=sb.base_url, model=sb.model)
        first = tmp_path / "judged.jsonl"
        run_judge(JudgeConfig(input=src, output=first, judges=[ja], cache_dir=tmp_path / "cache",
                              metrics=["Reasoning_Verbosity", "Cognitive_Difficulty"], progress=False))
        # re-annotate the judged file with a second judge, fresh work dir (no journal): judge a's
        # calls come from the response cache, only judge b's are sent
        second = tmp_path / "judged2.jsonl"
        res = run_judge(JudgeConfig(input=first, output=second, judges=[ja, jb],
                                    cache_dir=tmp_path / "cache", progress=False,
                                    metrics=["Reasoning_Verbosity", "Cognitive_Difficulty"]))
        assert res.cached >= 8 and res.sent <= 8 + 2  # b: 8 prompts (+ strict retries)
    before, after = _chains(first), _chains(second)
    for x, y in zip(before, after):
        assert {k: getattr(x, k) for k in CHAIN_FIELDS} == {k: getattr(y, k) for k in CHAIN_FIELDS}
    top = after[0]
    assert top.Reasoning_Verbosity.judge == "median(a,b)" and top.Reasoning_Verbosity.level == 3
    assert sorted({j.judge for j in top.judgments}) == ["a", "b"]
    rows = res.agreement["levels"]
    assert rows and all(r["n"] == 3 for r in rows)  # 3 chains judged readably by both


@pytest.mark.slow  # a real llm-katan server: a few seconds each
def test_omnithought_annotation_takes_part(tmp_path):
    row = {"question": "q?", "reasoning": [{"full_response": "x <score>4</score>",
                                            "Reasoning_Verbosity": {"judge": "QwQ-32B", "level": 8}}]}
    src = _write(tmp_path / "in.jsonl", [row])
    with katan(workdir=tmp_path / "k", served_name="echo-judge") as srv:
        judge = EndpointConfig(name="echo", base_url=srv.base_url, model=srv.model)
        run_judge(JudgeConfig(input=src, output=tmp_path / "o.jsonl", judges=[judge], progress=False,
                              metrics=["Reasoning_Verbosity"], cache=False))
    chain = _chains(tmp_path / "o.jsonl")[0]
    assert chain.Reasoning_Verbosity.judge == "median(QwQ-32B,echo)" and chain.Reasoning_Verbosity.level == 6


@pytest.mark.slow  # a real llm-katan server: a few seconds each
def test_cli_judge_and_verify(tmp_path, data_dir):
    from thoughtdistill.cli import app

    src = _write(tmp_path / "in.jsonl", RECORDS)
    runner = CliRunner()
    with katan(workdir=tmp_path / "k", served_name="echo-judge") as srv:
        out = runner.invoke(app, ["judge", "-i", str(src), "-o", str(tmp_path / "o.jsonl"),
                                  "--base-url", srv.base_url, "--model", srv.model,
                                  "--judge-name", "echo", "--no-progress", "--no-cache"])
    assert out.exit_code == 0, out.output
    assert "judged 4 chains" in out.output
    out = runner.invoke(app, ["verify", "-i", str(data_dir / "r1_traces.jsonl"), "-o", str(tmp_path / "v.jsonl")])
    assert out.exit_code == 0, out.output
    assert "10 correct" in out.output


@pytest.mark.slow
def test_smollm2_judge_real_output(tmp_path, smollm2_server, data_dir):
    """Real model replies: every judgment is either a valid level with how it was read, or
    ok=False with the raw text; no sentinel values anywhere."""
    rows = [json.loads(line) for line in open(data_dir / "r1_traces.jsonl", encoding="utf-8")][:1]
    recs = [{"id": r["id"], "question": r["problem"],
             "reasoning": [{"thought": r["message_thinking"][:1500], "solution": r["message_content"][:800]}]}
            for r in rows]
    src = _write(tmp_path / "in.jsonl", recs)
    judge = EndpointConfig(name="smollm2", base_url=smollm2_server.base_url, model=smollm2_server.model,
                           max_tokens=48, concurrency=2, timeout_s=300)
    res = run_judge(JudgeConfig(input=src, output=tmp_path / "o.jsonl", judges=[judge], progress=False,
                                metrics=["Reasoning_Verbosity", "correctness"], max_chain_chars=2500,
                                cache=False))
    assert res.failed == 0 and res.requests >= 2
    for chain in _chains(tmp_path / "o.jsonl"):
        for j in chain.judgments:
            assert j.raw
            if j.ok:
                assert (j.level is not None and 0 <= j.level <= 9) or j.verdict is not None
            else:
                assert j.level is None and j.verdict is None
        if chain.Reasoning_Verbosity is not None:
            assert 0 <= chain.Reasoning_Verbosity.level <= 9


def test_judge_fails_before_spending_and_says_when_every_call_failed(tmp_path):
    from thoughtdistill.errors import ConfigError, ThoughtDistillError
    from thoughtdistill.pipeline.katan import free_port

    src = _write(tmp_path / "in.jsonl", RECORDS)
    before = src.read_bytes()

    def config(judge: EndpointConfig, output: Path) -> JudgeConfig:
        return JudgeConfig(input=src, output=output, judges=[judge], cache=False, progress=False,
                           metrics=["Reasoning_Verbosity"], rule_verify=False)

    dead = EndpointConfig(name="dead", base_url=f"http://127.0.0.1:{free_port()}/v1", model="m")
    with pytest.raises(ConfigError, match="endpoint 'dead' .* is unreachable"):
        run_judge(config(dead, tmp_path / "out.jsonl"))
    assert not (tmp_path / "out.jsonl.work").exists()  # nothing started
    with katan(workdir=tmp_path / "k", error_rate=1.0) as srv:
        broken = EndpointConfig(name="echo", base_url=srv.base_url, model=srv.model, max_retries=0)
        with pytest.raises(ConfigError, match="is also the input"):
            run_judge(config(broken, src))
        assert src.read_bytes() == before
        with pytest.raises(ThoughtDistillError, match=r"all 4 judge calls failed \(first: HTTP 500"):
            run_judge(config(broken, tmp_path / "out.jsonl"))
    assert len(_chains(tmp_path / "out.jsonl")) == 4  # the chains are kept, unscored
    assert all(c.Reasoning_Verbosity is None for c in _chains(tmp_path / "out.jsonl"))
