"""Filters, hygiene, budgets, report and CLI of ``select``."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import orjson
import pytest
from pydantic import ValidationError

from thoughtdistill.errors import ConfigError, RecordError
from thoughtdistill.select import report_path, SelectConfig, parse_filter, run_select

from _select_data import write_jsonl
from test_select_strategies import NO_HYGIENE, cfg, chain, read, rec


def steps(res) -> dict:
    return {s["step"]: s for s in res.report["steps"]}


# --- filters -------------------------------------------------------------------------------


def test_filter_syntax_and_errors():
    assert parse_filter("rv in 3..5").value == {"range": [3.0, 5.0]}
    assert parse_filter("teacher in [a, 'b c']").value == ["a", "b c"]
    assert parse_filter("correct == none").value is None
    assert parse_filter({"field": "cd", "op": ">=", "value": 4}).op == ">="
    with pytest.raises(ConfigError, match="unknown field 'rvv'"):
        parse_filter("rvv >= 3")
    with pytest.raises(ConfigError, match="field 'tokens'.*number"):
        parse_filter("tokens < many")
    with pytest.raises(ConfigError, match="field 'teacher'.*numeric"):
        parse_filter("teacher > 3")
    with pytest.raises(ConfigError, match="FIELD OP VALUE"):
        parse_filter("rv")
    with pytest.raises(ConfigError, match="field 'correct'"):
        parse_filter("correct == maybe")


def test_filters_on_real_records(tmp_path, multi_chain_file):
    res = run_select(cfg(multi_chain_file, tmp_path / "o" / "s.jsonl", strategy="threshold",
                         threshold={"rv": [0, 9], "cd": [0, 9], "require_correct": False}, hygiene=NO_HYGIENE,
                         filters=["rv in 3..5", "cd >= 4", "correct == true", "teacher in [teacher-a]",
                                  "tokens <= 2000", "truncated == false", "domain == math"]))
    for r in read(tmp_path / "o" / "s.jsonl"):
        for c in r["reasoning"]:
            assert 3 <= c["Reasoning_Verbosity"]["level"] <= 5 and c["Cognitive_Difficulty"]["level"] >= 4
            assert c["correctness"]["verdict"] is True and c["teacher"] == "teacher-a"
            assert len(c["full_response"]) <= 8000
    reasons = steps(res)["filters"]["reasons"]
    assert list(reasons)[:3] == ["rv in 3..5", "cd >= 4", "correct == true"]
    assert res.chains_out > 0


def test_bad_filter_fails_fast_naming_field(tmp_path, multi_chain_file):
    with pytest.raises(ConfigError, match="unknown field 'verdict'"):
        run_select(cfg(multi_chain_file, tmp_path / "o.jsonl", filters=["verdict == true"]))


# --- hygiene -------------------------------------------------------------------------------


LONG_Q = ("A train leaves the station at nine in the morning travelling at sixty miles per hour while a second "
          "train leaves the same station two hours later at eighty miles per hour along the same track. "
          "At what time does the second train catch up with the first one, and how far from the station?")


def test_exact_and_near_duplicates(tmp_path):
    rows = [
        rec("orig", [chain(5, 4)], question=LONG_Q),
        rec("case", [chain(5, 4)], question="  " + LONG_Q.upper() + "\n"),  # exact after normalising
        rec("near", [chain(5, 4)], question=LONG_Q.replace("eighty", "ninety")),  # one word changed
        rec("other", [chain(5, 4)], question="Find all primes p such that p squared plus two is also prime."),
    ]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    res = run_select(cfg(inp, tmp_path / "o" / "s.jsonl", strategy="student-fit",
                         hygiene={"decontaminate": False}))
    assert [r["id"] for r in read(tmp_path / "o" / "s.jsonl")] == ["orig", "other"]
    s = steps(res)
    assert s["exact_dedup"]["reasons"] == {"duplicate_questions": 1}
    assert s["near_dedup"]["reasons"] == {"near_duplicate_questions": 1}


def test_duplicate_whose_chains_fail_does_not_hide_the_good_copy(tmp_path):
    rows = [rec("bad", [chain(5, 4, finish_reason="length")], question=LONG_Q),
            rec("good", [chain(5, 4)], question=LONG_Q)]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    run_select(cfg(inp, tmp_path / "o" / "s.jsonl", hygiene={"decontaminate": False}))
    assert [r["id"] for r in read(tmp_path / "o" / "s.jsonl")] == ["good"]


def test_decontamination_against_packaged_benchmarks_and_user_files(tmp_path, data_dir):
    math500 = [orjson.loads(x) for x in (data_dir / "math500.jsonl").read_bytes().splitlines()[:3]]
    mine = "Compute the number of lattice points strictly inside the triangle with vertices at the origin and two given points."
    user_eval = write_jsonl(tmp_path / "my_eval.jsonl", [{"problem": mine}])
    rows = [rec("m0", [chain(5, 4)], question=math500[0]["problem"]),
            rec("m1", [chain(5, 4)], question="Please solve: " + math500[1]["problem"] + " Show work."),
            rec("u", [chain(5, 4)], question=mine),
            rec("clean", [chain(5, 4)], question=LONG_Q)]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    res = run_select(cfg(inp, tmp_path / "o" / "s.jsonl", hygiene={"near_dedup": False, "eval_files": [user_eval]}))
    assert [r["id"] for r in read(tmp_path / "o" / "s.jsonl")] == ["clean"]
    reasons = steps(res)["decontaminate"]["reasons"]
    assert reasons["contaminated_questions:math500"] == 2
    assert reasons["contaminated_questions:my_eval.jsonl"] == 1
    names = [s["name"] for s in res.report["hygiene"]["eval_sets"]]
    assert names == ["aime24", "aime25", "math500", "gsm8k", "humaneval", "code_tests", "my_eval.jsonl"]
    assert not res.report["warnings"]  # active by default, nothing to warn about


def test_decontaminate_against_chooses_benchmarks_by_name(tmp_path, data_dir):
    math500 = [orjson.loads(x) for x in (data_dir / "math500.jsonl").read_bytes().splitlines()[:1]]
    rows = [rec("m0", [chain(5, 4)], question=math500[0]["problem"]), rec("clean", [chain(5, 4)], question=LONG_Q)]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    res = run_select(cfg(inp, tmp_path / "o" / "s.jsonl",
                         hygiene={"near_dedup": False, "decontaminate_against": ["gsm8k", "aime24"]}))
    assert [r["id"] for r in read(tmp_path / "o" / "s.jsonl")] == ["m0", "clean"]  # MATH-500 not chosen
    assert [s["name"] for s in res.report["hygiene"]["eval_sets"]] == ["gsm8k", "aime24"]
    with pytest.raises(ValidationError, match="unknown benchmark.*gpqa.*packaged: aime24"):
        cfg(inp, tmp_path / "o" / "t.jsonl", hygiene={"decontaminate_against": ["gpqa"]})
    with pytest.raises(ValidationError, match="replaced by decontaminate_against"):
        cfg(inp, tmp_path / "o" / "t.jsonl", hygiene={"shared_exclude": ["math500.jsonl"]})


def test_eval_files_in_published_layouts(tmp_path):
    """An evaluation set given as GPQA's CSV (its `Question` column, Idavidrein/gpqa
    gpqa_diamond.csv layout; invented rows, since GPQA is not redistributed) or as an hf:
    reference (no hub here: the same code path on a local Parquet file)."""
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    gpqa_q = "A spin-half particle is in a superposition of up and down states along z with given amplitudes; find the expectation value of a spin operator."
    with open(tmp_path / "gpqa_diamond.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["Pre-Revision Question", "Question", "Correct Answer", "Record ID"])
        writer.writeheader()
        writer.writerow({"Pre-Revision Question": "old", "Question": gpqa_q, "Correct Answer": "-0.7", "Record ID": "rec1"})
    pq.write_table(pa.table({"problem": [LONG_Q]}), tmp_path / "mine.parquet")
    rows = [rec("g", [chain(5, 4)], question=gpqa_q), rec("p", [chain(5, 4)], question=LONG_Q),
            rec("clean", [chain(5, 4)], question="Compute the sum of the first twenty odd numbers and explain why it is a perfect square.")]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    res = run_select(cfg(inp, tmp_path / "o" / "s.jsonl", hygiene={
        "near_dedup": False, "decontaminate_against": [],
        "eval_files": [tmp_path / "gpqa_diamond.csv", f"hf:{tmp_path / 'mine.parquet'}"]}))
    assert [r["id"] for r in read(tmp_path / "o" / "s.jsonl")] == ["clean"]  # hf: read from a local file here
    assert steps(res)["decontaminate"]["reasons"] == {"contaminated_questions:gpqa_diamond.csv": 1,
                                                      f"contaminated_questions:hf:{tmp_path / 'mine.parquet'}": 1}


def test_a_converted_copy_of_an_evaluation_set_is_recognised_by_content(tmp_path, data_dir):
    """The published MATH-500 rows (../shared/data/math500.jsonl), converted to canonical records
    under another name and given chains: decontamination removes every one, and the message
    names decontamination and the benchmark instead of blaming missing RV/CD levels."""
    from thoughtdistill.io.convert import load_questions

    questions = load_questions(data_dir / "math500.jsonl")[:40]
    rows = [rec(f"c{i}", [chain(5, 4)], question=q.question) for i, q in enumerate(questions)]
    inp = write_jsonl(tmp_path / "training_copy.jsonl", rows)
    res = run_select(cfg(inp, tmp_path / "o" / "s.jsonl", hygiene={"near_dedup": False}))
    assert res.chains_out == 0
    assert any("40 of 40 input questions appear in evaluation set math500" in w for w in res.report["warnings"])
    why = res.report["warnings"][-1]
    assert why.startswith("selected nothing: decontamination removed the last 40 chain(s)")
    assert "math500 (40 questions)" in why and "RV/CD" not in why


def test_quality_filters(tmp_path):
    loop = "Let me think. " + "Wait, let me recompute the sum again. " * 40
    rows = [rec("q", [
        chain(5, 4, text="<think>long thought that never ends"),                # unclosed thought
        chain(5, 4, finish_reason="length"),                                     # cut by max_tokens
        chain(5, 4, text="<think>thinking</think>"),                             # no final answer
        chain(5, 4, text=loop),                                                  # repetition loop
        chain(5, 4, text="Reasoning 然后我们计算这个数值的结果是多少呢好的 answer \\boxed{1}"),  # language mix
        chain(5, 4, finish_reason="error", text=None, full_response=None),
        chain(5, 4, teacher="good"),
    ])]
    rows[0]["reasoning"][5].pop("full_response")
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    res = run_select(cfg(inp, tmp_path / "o" / "s.jsonl", strategy="threshold", hygiene=NO_HYGIENE))
    assert [c["teacher"] for c in read(tmp_path / "o" / "s.jsonl")[0]["reasoning"]] == ["good"]
    assert steps(res)["quality"]["reasons"] == {"error_chain": 1, "truncated": 2, "no_final_answer": 1,
                                               "repetition_loop": 1, "language_mix": 1}


# --- budgets --------------------------------------------------------------------------------


def test_budgets(tmp_path):
    rows = [rec(f"q{i}", [chain(5, 4, teacher="a", text="x" * 400 + " \\boxed{1}"),
                          chain(5, 4, teacher="b", text="y" * 4000 + " \\boxed{1}")],
                domain="math" if i % 2 else "code") for i in range(20)]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)

    def run(**budget):
        out = tmp_path / str(len(list(tmp_path.iterdir()))) / "s.jsonl"
        res = run_select(cfg(inp, out, strategy="threshold", hygiene=NO_HYGIENE, budget=budget))
        return res, read(out)

    res, got = run(max_chains=7)
    assert res.chains_out == 7 and res.report["budget_report"]["dropped"]["max_chains"] == 33
    res, got = run(max_per_question=1)
    assert res.chains_out == 20
    res, got = run(max_tokens=1000)
    assert res.tokens_out <= 1000 and all(c["teacher"] == "a" for r in got for c in r["reasoning"])
    res, got = run(max_chains=10, teacher_quota={"b": 0.4}, domain_quota={"code": 3})
    chains = [(r["domain"], c["teacher"]) for r in got for c in r["reasoning"]]
    assert sum(t == "b" for _, t in chains) <= 4 and sum(d == "code" for d, _ in chains) <= 3
    assert res.report["budget_report"]["teacher_quota"] == {"b": 4}
    res, _ = run(max_chains=2, teacher_quota={"b": 0.1})
    assert any("rounds to 0" in w for w in res.report["warnings"])


# --- report, I/O, CLI -----------------------------------------------------------------------


def test_report_and_figures(tmp_path, multi_chain_file):
    out = tmp_path / "o" / "s.jsonl"
    res = run_select(SelectConfig(input=[multi_chain_file], output=out, hygiene=NO_HYGIENE))
    rep = json.loads(report_path(out).read_text())
    for key in ("version", "strategy", "counts", "steps", "strategy_report", "budget_report", "before", "after",
                "figures", "hygiene", "warnings", "timing_s", "peak_rss_mb"):
        assert key in rep
    assert rep["counts"]["chains_out"] == res.chains_out
    assert sum(map(sum, rep["after"]["rv_cd"])) == res.chains_out
    assert sum(map(sum, rep["before"]["rv_cd"])) == 800
    assert [s["step"] for s in rep["steps"]] == ["read", "filters", "quality", "strategy", "budget"]
    for name in rep["figures"].values():
        assert (out.parent / name).stat().st_size > 1000


def test_gz_input_bad_rows_and_multiple_files(tmp_path):
    a = tmp_path / "a.jsonl.gz"
    with gzip.open(a, "wb") as fh:
        fh.write(orjson.dumps(rec("a", [chain(5, 4)])) + b"\n")
        fh.write(b'{"question": "no chains list", "reasoning": 3}\n')
    b = write_jsonl(tmp_path / "b.jsonl", [rec("b", [chain(5, 4)])])
    with pytest.raises(RecordError, match="a.jsonl.gz:2: field 'reasoning'"):
        run_select(cfg(a, tmp_path / "o" / "s.jsonl", hygiene=NO_HYGIENE))
    res = run_select(SelectConfig(input=[a, b], output=tmp_path / "o" / "s.jsonl", hygiene=NO_HYGIENE,
                                  on_error="skip", figures=False))
    assert [r["id"] for r in read(tmp_path / "o" / "s.jsonl")] == ["a", "b"]
    assert res.report["counts"]["rows_bad"] == 1


def test_bad_level_is_located(tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [rec("a", [chain(12, 4)])])
    with pytest.raises(RecordError, match=r"in.jsonl:1: field 'reasoning.0.Reasoning_Verbosity.level'"):
        run_select(cfg(inp, tmp_path / "o" / "s.jsonl"))


def test_cli(tmp_path, multi_chain_file):
    out = tmp_path / "cli" / "sel.jsonl"
    conf = tmp_path / "c.yaml"
    conf.write_text("select:\n  strategy: rv-cd-mix\n  rv_cd_mix:\n    samples_per_bin: 5\n  hygiene:\n    near_dedup: false\n")
    run = [sys.executable, "-m", "thoughtdistill"]
    p = subprocess.run(run + ["select", str(multi_chain_file), "-o", str(out), "-c", str(conf),
                              "--no-decontaminate", "--no-figures", "--filter", "rv >= 2", "--seed", "1"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "selected 15 chains" in p.stdout and len(read(out)) == 15
    p = subprocess.run(run + ["select", str(multi_chain_file), "-o", str(out), "--filter", "level >= 2"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "unknown field 'level'" in p.stderr
    p = subprocess.run(run + ["select", str(multi_chain_file), "-o", str(out), "--student-size", "70B"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "70B" in p.stderr


@pytest.mark.slow
def test_identical_across_processes_and_hash_seeds(tmp_path, multi_chain_file):
    """Full hygiene (MinHash, decontamination) in two processes with different PYTHONHASHSEED:
    the selection must not depend on Python's per-process string hashing."""
    import os

    outs = []
    for seed in ("1", "2"):
        out = tmp_path / seed / "sel.jsonl"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        p = subprocess.run([sys.executable, "-m", "thoughtdistill", "select", str(multi_chain_file), "-o", str(out),
                            "-s", "rv-cd-mix", "--no-figures", "--seed", "5"], capture_output=True, text=True, env=env)
        assert p.returncode == 0, p.stderr
        outs.append(out.read_bytes())
        rep = json.loads(report_path(out).read_text())
        assert {s["step"] for s in rep["steps"]} >= {"near_dedup", "decontaminate"}
    assert outs[0] == outs[1] and outs[0]
