"""run_generate and the CLI against real servers on 127.0.0.1."""

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

import orjson
import pytest
import yaml

from thoughtdistill.config import build_config
from thoughtdistill.errors import ConfigError, RecordError
from thoughtdistill.generate import GenerateConfig, PromptBuilder, run_generate
from thoughtdistill.pipeline.katan import free_port, katan


def write_questions(path: Path, count: int, extra: str = "") -> Path:
    with open(path, "w") as fh:
        for i in range(count):
            fh.write(json.dumps({"id": f"q{i}", "question": f"What is {i} + {i}?{extra}", "answer": str(2 * i)}) + "\n")
    return path


def teacher(server, name="t", **kw):
    return {"name": name, "base_url": server.base_url, "model": server.model, "concurrency": 8,
            "backoff_base_s": 0.02, **kw}


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def cfg(tmp_path, questions, teachers, **kw) -> GenerateConfig:
    return GenerateConfig(input=questions, output=tmp_path / "chains.jsonl", teachers=teachers,
                          cache_dir=tmp_path / "cache", progress=False, **kw)


def test_two_teachers_n_chains_in_input_order(echo_server, tmp_path):
    q = write_questions(tmp_path / "q.jsonl", 12)
    config = cfg(tmp_path, q, [teacher(echo_server, "a"), teacher(echo_server, "b", quota=4, teacher="B-label")], n=3)
    result = run_generate(config)
    rows = read(config.output)
    assert [r["id"] for r in rows] == [f"q{i}" for i in range(12)]
    assert [len(r["reasoning"]) for r in rows] == [6] * 4 + [3] * 8
    assert {c["teacher"] for c in rows[0]["reasoning"]} == {"a", "B-label"}
    assert result.chains == 48 and result.failed == 0
    assert "What is 3 + 3?" in rows[3]["reasoning"][0]["full_response"]
    # the same command again: nothing is sent, the output is identical
    before = config.output.read_bytes()
    again = run_generate(config)
    assert again.sent == 0 and again.resumed == 12 * 3 + 4 * 3
    assert config.output.read_bytes() == before


def test_split_assigns_by_weight(echo_server, tmp_path):
    q = write_questions(tmp_path / "q.jsonl", 30)
    config = cfg(tmp_path, q, [teacher(echo_server, "a", weight=2), teacher(echo_server, "b", seed=7)],
                 assign="split")
    run_generate(config)
    teachers = [r["reasoning"][0]["teacher"] for r in read(config.output)]
    assert teachers.count("a") == 20 and teachers.count("b") == 10


def test_reasoning_content_n_and_truncation_retry(stub_server, tmp_path):
    server = stub_server(honour_n=True)
    q = write_questions(tmp_path / "q.jsonl", 3, extra=" LONG")
    config = cfg(tmp_path, q, [teacher(server, max_tokens=60, stream=True)], n=2, truncation_retries=1,
                 prompt="plain")
    result = run_generate(config)
    rows = read(config.output)
    chain = rows[0]["reasoning"][1]
    # first answer was cut (max_tokens 60 < 100); the retry with 120 tokens completed it
    assert chain["thought"] == "thinking about What is 0 + 0? LONG #0"
    assert chain["solution"] == "answer (seed=1, choice=0)" and chain["truncated"] is False
    assert chain["full_response"].startswith("<think>\n") and result.truncated == 0
    assert result.sent == 3 + 6  # one n=2 call per question, then one retry per chain
    state = json.loads((tmp_path / "chains.jsonl.work" / "state.json").read_text())
    assert state["use_n"] == {"t": True}


def test_truncated_chain_kept_and_marked(stub_server, tmp_path):
    server = stub_server(tags=True)
    q = write_questions(tmp_path / "q.jsonl", 2, extra=" LONG")
    config = cfg(tmp_path, q, [teacher(server, max_tokens=50)])
    result = run_generate(config)
    chain = read(config.output)[0]["reasoning"][0]
    assert chain["truncated"] is True and chain["finish_reason"] == "length" and result.truncated == 2


def test_failures_become_error_chains_then_resume_fills_them(stub_server, tmp_path):
    server = stub_server()
    q = tmp_path / "q.jsonl"
    q.write_text("".join(json.dumps({"id": f"q{i}", "question": f"q {i}" + (" LEAK" if i == 1 else "")}) + "\n"
                         for i in range(3)))
    config = cfg(tmp_path, q, [teacher(server)])
    result = run_generate(config)
    rows = read(config.output)
    assert result.failed == 1 and rows[1]["reasoning"][0]["finish_reason"] == "error"
    assert "HTTP 400" in rows[1]["reasoning"][0]["error"]
    assert run_generate(config).sent == 1  # failed ones are re-sent on the next run (retry_failed)


def test_presets():
    assert PromptBuilder("qwen3").messages("2+2?")[0] == {
        "role": "user", "content": "2+2?\n\nPlease reason step by step, and put your final answer within \\boxed{}."}
    # EasyDistill's own job config (../shared/easydistill-configs/cot_generation_api.json, as published
    # in modelscope/easydistill configs/) holds the prompt; the preset sends it as the system turn
    from shared_data import shared_data_dir
    from thoughtdistill.generate.prompts import easydistill_prompt

    system = easydistill_prompt(shared_data_dir().parent / "easydistill-configs" / "cot_generation_api.json")
    assert "<|begin_of_thought|>" in system
    sys_msg, user = PromptBuilder("easydistill", system=system).messages("Q {x}")
    assert sys_msg == {"role": "system", "content": system} and user["content"] == "Q {x}"
    with pytest.raises(ConfigError, match="set easydistill_config"):
        PromptBuilder("easydistill")
    custom = PromptBuilder("plain", system="Be brief.", user_template="Solve: {question} [{domain}]")
    assert custom.messages("x^{2}", "math") == [{"role": "system", "content": "Be brief."},
                                                {"role": "user", "content": "Solve: x^{2} [math]"}]
    with pytest.raises(ConfigError, match="must contain"):
        PromptBuilder(user_template="no placeholder")


def test_dry_run_estimates_cost_without_a_server(tmp_path, data_dir):
    config = GenerateConfig(
        input=data_dir / "math500.jsonl", output=tmp_path / "o.jsonl", n=4, limit=100, dry_run=True,
        teachers=[{"name": "r1", "base_url": "https://api.example.com/v1", "model": "deepseek-reasoner",
                   "api_key_env": "TD_UNSET_KEY", "max_tokens": 8000,
                   "price_per_1m_prompt": 0.55, "price_per_1m_completion": 2.19}])
    result = run_generate(config)
    est = result.estimate["r1"]
    assert result.output is None and est.requests == 400 and est.completion_tokens == 400 * 8000
    assert est.cost == pytest.approx((est.prompt_tokens * 0.55 + est.completion_tokens * 2.19) / 1e6)
    assert "r1: 100 questions, 400 requests" in result.summary()
    assert not (tmp_path / "o.jsonl").exists()


def test_bad_input_fails_before_any_request(echo_server, tmp_path, monkeypatch):
    q = write_questions(tmp_path / "q.jsonl", 3)
    with pytest.raises(ConfigError, match="teachers.0.colour"):
        build_config(GenerateConfig, None, {"input": str(q), "output": str(tmp_path / "o.jsonl"),
                                            "teachers": [dict(teacher(echo_server), colour="red")]})
    monkeypatch.delenv("TD_MISSING", raising=False)
    with pytest.raises(ConfigError, match="TD_MISSING is not set"):
        run_generate(cfg(tmp_path, q, [teacher(echo_server, api_key_env="TD_MISSING")]))
    dead = {"name": "dead", "base_url": f"http://127.0.0.1:{free_port()}/v1", "model": "m"}
    with pytest.raises(ConfigError, match="unreachable"):
        run_generate(cfg(tmp_path, q, [dead]))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(q.read_text() + '{"id": "x", "question": "   "}\n')
    with pytest.raises(RecordError, match=r"bad.jsonl:4"):
        run_generate(cfg(tmp_path, bad, [teacher(echo_server)]))
    assert not (tmp_path / "chains.jsonl").exists()
    assert not (tmp_path / "chains.jsonl.work").exists()


def test_output_must_not_replace_input_and_must_have_a_known_format(echo_server, tmp_path):
    q = write_questions(tmp_path / "q.jsonl", 3)
    before = q.read_bytes()
    with pytest.raises(ConfigError, match="is also the input"):
        run_generate(cfg(tmp_path, q, [teacher(echo_server)], limit=1).model_copy(update={"output": q}))
    assert q.read_bytes() == before
    with pytest.raises(ConfigError, match="output: .*cannot tell the file type"):
        run_generate(cfg(tmp_path, q, [teacher(echo_server)]).model_copy(update={"output": tmp_path / "c.txt"}))
    assert not (tmp_path / "c.txt.work").exists()  # refused before any request


def test_parquet_output_is_parquet(echo_server, tmp_path):
    from thoughtdistill.io import read_records

    q = write_questions(tmp_path / "q.jsonl", 3)
    out = tmp_path / "chains.parquet"
    run_generate(cfg(tmp_path, q, [teacher(echo_server)]).model_copy(update={"output": out}))
    assert out.read_bytes()[:4] == b"PAR1"
    records = list(read_records(out))
    assert [r.id for r in records] == ["q0", "q1", "q2"] and all(len(r.reasoning) == 1 for r in records)


def test_cli_endpoint_flags_tune_config_teachers_or_fail_clearly(echo_server, tmp_path):
    q = write_questions(tmp_path / "q.jsonl", 2)
    conf = tmp_path / "gen.yaml"
    conf.write_text(yaml.safe_dump({"input": str(q), "output": str(tmp_path / "out.jsonl"),
                                    "teachers": [teacher(echo_server, max_tokens=64)]}))
    exe = [sys.executable, "-m", "thoughtdistill", "generate", "--no-progress", "--dry-run"]

    def gen(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(exe + list(args), capture_output=True, text=True, timeout=60)

    tuned = gen("-c", str(conf), "--max-tokens", "10")
    assert tuned.returncode == 0, tuned.stderr
    assert "~20 completion tokens" in tuned.stdout  # 2 questions x 10, not x 64
    clash = gen("-c", str(conf), "--base-url", "http://127.0.0.1:1/v1", "--model", "other")
    assert clash.returncode == 2 and "lists teachers; --base-url/--model would replace them" in clash.stderr
    alone = gen("-i", str(q), "-o", str(tmp_path / "o.jsonl"), "--concurrency", "4")
    assert alone.returncode == 2 and "--concurrency: set one endpoint's options" in alone.stderr
    assert "Traceback" not in clash.stderr + alone.stderr


def test_resume_with_other_settings_resends_instead_of_mixing(echo_server, tmp_path):
    q = write_questions(tmp_path / "q.jsonl", 3)
    first = run_generate(cfg(tmp_path, q, [teacher(echo_server)], prompt="qwen3", cache=False))
    assert first.sent == 3 and "reason step by step" in read(tmp_path / "chains.jsonl")[0]["reasoning"][0]["full_response"]
    again = run_generate(cfg(tmp_path, q, [teacher(echo_server)], prompt="plain", cache=False))
    assert (again.resumed, again.changed, again.sent) == (0, 3, 3)
    assert "re-sent (settings changed" in again.summary()
    assert not any("reason step by step" in c["full_response"] for r in read(tmp_path / "chains.jsonl")
                   for c in r["reasoning"])
    same = run_generate(cfg(tmp_path, q, [teacher(echo_server)], prompt="plain", cache=False))
    assert (same.resumed, same.changed, same.sent) == (3, 0, 0)


def test_corrupt_state_file_is_a_clear_error(echo_server, tmp_path):
    from thoughtdistill.errors import ThoughtDistillError

    q = write_questions(tmp_path / "q.jsonl", 2)
    run_generate(cfg(tmp_path, q, [teacher(echo_server)]))
    (tmp_path / "chains.jsonl.work" / "state.json").write_text('{"use_n": ')
    with pytest.raises(ThoughtDistillError, match=r"state.json: unreadable .* delete the work dir"):
        run_generate(cfg(tmp_path, q, [teacher(echo_server)]))


def test_cli_dry_run_and_run(echo_server, tmp_path):
    q = write_questions(tmp_path / "q.jsonl", 4)
    conf = tmp_path / "gen.yaml"
    conf.write_text(yaml.safe_dump({"input": str(q), "output": str(tmp_path / "out.jsonl"), "n": 2,
                                    "cache_dir": str(tmp_path / "cache"),
                                    "teachers": [teacher(echo_server, price_per_1m_completion=1.0, max_tokens=100)]}))
    exe = [sys.executable, "-m", "thoughtdistill", "generate", "--config", str(conf), "--no-progress"]
    dry = subprocess.run(exe + ["--dry-run"], capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "t: 4 questions, 8 requests" in dry.stdout
    run = subprocess.run(exe, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert len(read(tmp_path / "out.jsonl")) == 4
    bad = subprocess.run(exe + ["--input", str(tmp_path / "missing.jsonl")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "missing.jsonl: input file not found" in bad.stderr
    assert "Traceback" not in bad.stderr


def _normalise(rows: list[dict]) -> list:
    stamp = re.compile(r"host=\S+ time=\S+")
    return [(r["id"], [(c["teacher"], stamp.sub("", c["full_response"])) for c in r["reasoning"]]) for r in rows]


@pytest.mark.slow
def test_kill_9_at_five_points_then_resume(tmp_path):
    """SIGKILL the generator at 5 random points; the resumed result has exactly the request
    set of an uninterrupted run, and every request key is in the journal once."""
    rng = random.Random(4)
    q = write_questions(tmp_path / "q.jsonl", 150)
    with katan(latency_ms=40, max_concurrent=16, workdir=tmp_path / "katan") as server:
        def conf(name: str) -> Path:
            path = tmp_path / f"{name}.yaml"
            path.write_text(yaml.safe_dump({
                "input": str(q), "output": str(tmp_path / f"{name}.jsonl"), "n": 2, "cache": False,
                "progress": False, "teachers": [teacher(server, "a", concurrency=16),
                                                teacher(server, "b", concurrency=16, seed=3)]}))
            return path

        exe = [sys.executable, "-m", "thoughtdistill", "generate", "--config"]
        subprocess.run(exe + [str(conf("clean"))], check=True, timeout=120, capture_output=True)
        journal = tmp_path / "killed.jsonl.work" / "journal.jsonl"
        total = 150 * 2 * 2
        kills = sorted(rng.sample(range(20, total - 20), 5))
        for target in kills:
            proc = subprocess.Popen(exe + [str(conf("killed"))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while proc.poll() is None:
                lines = journal.read_bytes().count(b"\n") if journal.exists() else 0
                if lines >= target:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
                time.sleep(0.005)
            proc.wait()
            assert proc.returncode == -signal.SIGKILL, "the run ended before its kill point"
            assert not (tmp_path / "killed.jsonl").exists()
        done = subprocess.run(exe + [str(conf("killed"))], timeout=120, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    keys = [orjson.loads(line)["key"] for line in journal.read_bytes().splitlines()]
    assert len(keys) == len(set(keys)) == total
    clean, killed = read(tmp_path / "clean.jsonl"), read(tmp_path / "killed.jsonl")
    assert _normalise(killed) == _normalise(clean)
    assert all(c["finish_reason"] == "stop" for r in killed for c in r["reasoning"])


@pytest.mark.slow
def test_local_model_teacher(smollm2_server, tmp_path, data_dir):
    """A real model behind llm-katan (the SmolLM2 fixture): chains with real generated text."""
    config = GenerateConfig(input=data_dir / "gsm8k_test.jsonl", output=tmp_path / "o.jsonl", limit=2,
                            progress=False, cache=False, prompt="plain",
                            teachers=[{"name": "smollm2", "base_url": smollm2_server.base_url,
                                       "model": smollm2_server.model, "max_tokens": 32, "concurrency": 2}])
    result = run_generate(config)
    rows = read(config.output)
    assert result.failed == 0 and len(rows) == 2
    chain = rows[0]["reasoning"][0]
    assert chain["teacher"] == "smollm2" and len(chain["full_response"].strip()) > 0
    assert chain["usage"]["completion_tokens"] > 0


def test_every_chain_failed_is_an_error_after_writing(tmp_path):
    from thoughtdistill.errors import ThoughtDistillError

    q = write_questions(tmp_path / "q.jsonl", 3)
    with katan(workdir=tmp_path / "k", error_rate=1.0) as srv:
        with pytest.raises(ThoughtDistillError, match=r"all 3 chains failed \(first: HTTP 500"):
            run_generate(cfg(tmp_path, q, [teacher(srv, max_retries=0)]))
    rows = read(tmp_path / "chains.jsonl")  # written first: the errors are recorded, the next run re-sends
    assert len(rows) == 3 and all(r["reasoning"][0]["finish_reason"] == "error" for r in rows)


@pytest.mark.slow  # a 1.5 s-latency server, interrupted then resumed
def test_ctrl_c_says_work_is_saved_and_resume_completes(tmp_path):
    q = write_questions(tmp_path / "q.jsonl", 6)
    with katan(workdir=tmp_path / "k", latency_ms=1500) as srv:
        cmd = [sys.executable, "-m", "thoughtdistill", "generate", "-i", str(q), "-o", str(tmp_path / "o.jsonl"),
               "--base-url", srv.base_url, "--model", srv.model, "--concurrency", "2", "--no-progress", "--no-cache"]
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        journal = tmp_path / "o.jsonl.work" / "journal.jsonl"
        while not (journal.exists() and journal.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.1)  # interrupt once something is journaled
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=60)[1]
        assert proc.returncode == 130 and "interrupted; work done so far is saved" in err, err
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert re.search(r"[1-5] resumed", done.stdout), done.stdout
    assert len(read(tmp_path / "o.jsonl")) == 6
