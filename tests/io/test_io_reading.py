"""The one reading entry point: formats detected like convert, every container, hf:
references (a local Parquet folder here: there is no hub), limits, and the stages that read
through it (stats, select's two passes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from thoughtdistill.cli import app
from thoughtdistill.errors import RecordError
from thoughtdistill.io import iter_canonical_rows, load_questions, read_records, write_records
from thoughtdistill.io.convert import GSM8K_MARK, export_rows
from thoughtdistill.io.reader import quarantine_path
from thoughtdistill.io.stats import compute_stats
from thoughtdistill.select import SelectConfig, run_select

HYGIENE = {"near_dedup": False, "decontaminate": False}


@pytest.fixture(scope="module")
def multi_chain(data_dir):
    return load_questions(data_dir / "multi_chain.jsonl")


def test_read_records_detects_the_format_by_default(data_dir):
    records = list(read_records(data_dir / "multi_chain.jsonl"))
    assert len(records) == 100 and all(len(r.reasoning) == 8 for r in records)


def test_limit_counts_records_not_rows(tmp_path, multi_chain):
    path = tmp_path / "a.jsonl"
    write_records(path, export_rows(multi_chain[:3], "alpaca"))  # 24 rows, 3 questions
    records = list(read_records(path, limit=2))
    assert [len(r.reasoning) for r in records] == [8, 8]
    assert list(read_records(path, limit=0)) == []


def test_canonical_rows_merge_and_locate_errors(tmp_path, multi_chain):
    path = tmp_path / "a.jsonl"
    rows = list(export_rows(multi_chain[:2], "alpaca"))
    rows.insert(3, {"instruction": 5, "output": "x"})  # a bad row inside the first question's run
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = list(iter_canonical_rows(path))
    errors = [obj for _, _, obj in items if isinstance(obj, RecordError)]
    good = [obj for _, _, obj in items if isinstance(obj, dict)]
    assert len(errors) == 1 and errors[0].line == 4 and errors[0].field == "instruction"
    assert [len(r["reasoning"]) for r in good] == [8, 8]
    # a merged record carries its first row's line; a bad row is reported where it is read
    assert [line for line, _, _ in items] == [4, 1, 10]


def test_full_response_truncation_is_counted_without_splitting():
    rows = [{"question": "q", "reasoning": [
        {"full_response": "<think>\nstill thinking"},                 # never closed: truncated
        {"full_response": "<think>\ndone\n</think>\n\nanswer"},
        {"full_response": "thought without an opening tag\n</think>\n\nanswer"},
        {"full_response": "no tags at all"},
        {"full_response": "<think>\nclosed later?", "truncated": False},   # marked: trusted
        {"thought": "t", "solution": "s", "finish_reason": "length"},
    ]}]
    from thoughtdistill.records import Record

    stats = compute_stats(Record.model_validate(r) for r in rows)
    assert stats.truncated == 2


def test_stats_cli_on_a_json_array_of_easydistill_rows(tmp_path):
    path = tmp_path / "ed.json"
    path.write_text(json.dumps([{"instruction": "q", "output": "<think>\ncut off"},
                                {"instruction": "q", "output": "<think>\nok\n</think>\n\n1"}]))
    result = CliRunner().invoke(app, ["stats", str(path), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert (figures["records"], figures["chains"], figures["truncated"]) == (1, 2, 1)


@pytest.mark.parametrize("name", ["multi_chain", "canonical.parquet", "canonical.json", "canonical_ds"])
def test_select_reads_any_format_and_container(tmp_path, data_dir, multi_chain, name):
    if name == "multi_chain":
        inp = data_dir / "multi_chain.jsonl"
    else:
        inp = tmp_path / name
        write_records(inp, multi_chain)
    out = tmp_path / "sel.jsonl"
    result = run_select(SelectConfig(input=[inp], output=out, strategy="random", hygiene=HYGIENE, figures=False))
    assert (result.questions_in, result.chains_in) == (100, 800)
    chosen = list(read_records(out))
    assert len(chosen) == result.questions_out > 0
    by_id = {r.id: r for r in multi_chain}
    for record in chosen:  # pass 2 wrote the very chains pass 1 scanned
        texts = {c.full_response for c in by_id[record.id].reasoning}
        assert all(c.full_response in texts and c.correctness.verdict for c in record.reasoning)


@pytest.fixture
def hub_folder(tmp_path, multi_chain):
    """A hub-style dataset folder (data/train-*.parquet, plain rows as the hub serves them)."""
    folder = tmp_path / "org__dataset"
    (folder / "data").mkdir(parents=True)
    rows = [r.dump() for r in multi_chain[:10]]
    pq.write_table(pa.Table.from_pylist(rows), folder / "data" / "train-00000-of-00001.parquet")
    return folder


def test_hub_reference_reads_like_a_file(hub_folder, multi_chain):
    records = list(read_records(f"hf:{hub_folder}"))
    assert [r.id for r in records] == [r.id for r in multi_chain[:10]]
    assert records[0].reasoning[0].dump() == multi_chain[0].reasoning[0].dump()  # Arrow nulls dropped
    assert len(list(read_records(f"hf:{hub_folder}:train", limit=3))) == 3


def test_hub_reference_in_convert_stats_and_select(tmp_path, hub_folder, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["convert", f"hf:{hub_folder}", "c.parquet"])
    assert res.exit_code == 0, res.output
    assert len(list(read_records(tmp_path / "c.parquet"))) == 10
    res = runner.invoke(app, ["stats", f"hf:{hub_folder}:train", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["chains"] == 80
    res = runner.invoke(app, ["select", f"hf:{hub_folder}", "-o", "s.jsonl", "-s", "random"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "s.jsonl").read_text().count("\n") > 0


def test_hub_reference_offline_is_one_line_through_the_cli():
    """Through main(), as users run it (HF_HUB_OFFLINE=1 and nothing cached)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "thoughtdistill", "stats", "hf:alibaba-pai/OmniThought-0528"],
                          capture_output=True, text=True, timeout=120, env=env)
    line = proc.stderr.strip()
    assert proc.returncode == 2 and "\n" not in line, proc.stderr
    assert "offline" in line and "local file" in line and "Traceback" not in line


def test_quarantine_path_of_a_hub_reference(tmp_path):
    assert quarantine_path("hf:alibaba-pai/OmniThought-0528:train").name == "alibaba-pai__OmniThought-0528.quarantine.jsonl"
    assert quarantine_path(tmp_path / "x.jsonl") == tmp_path / "x.jsonl.quarantine.jsonl"


def test_stages_take_hf_references(tmp_path, data_dir, hub_folder):
    """generate and judge (dry runs: no server needed) and verify read an hf: input like a file."""
    from thoughtdistill.generate import GenerateConfig, run_generate
    from thoughtdistill.judge import JudgeConfig, run_judge
    from thoughtdistill.verify.stage import VerifyConfig, run_verify

    questions = tmp_path / "math500_hub"
    (questions / "data").mkdir(parents=True)
    rows = [json.loads(line) for line in (data_dir / "math500.jsonl").read_text().splitlines()[:5]]
    pq.write_table(pa.Table.from_pylist(rows), questions / "data" / "test-00000-of-00001.parquet")
    result = run_generate(GenerateConfig(
        input=f"hf:{questions}:test", output=tmp_path / "o.jsonl", n=2, dry_run=True,
        teachers=[{"name": "t", "base_url": "https://api.example.com/v1", "model": "m",
                   "api_key_env": "TD_UNSET_KEY", "max_tokens": 100}]))
    assert result.estimate["t"].requests == 10

    verified = run_verify(VerifyConfig(input=f"hf:{hub_folder}", output=tmp_path / "v.jsonl", limit=2,
                                       processes=1, progress=False))
    assert (verified.records, verified.chains) == (2, 16)
    assert verified.correct + verified.incorrect == 16
    from thoughtdistill.verify.stage import count_chains

    assert count_chains(f"hf:{hub_folder}") is None  # no extra pass over a hub dataset for a bar

    judged = run_judge(JudgeConfig(input=f"hf:{hub_folder}", output=tmp_path / "j.jsonl", limit=2, dry_run=True,
                                   judges=[{"name": "a", "base_url": "http://127.0.0.1:9/v1", "model": "m"}]))
    assert (judged.records, judged.chains) == (2, 16)


def test_gsm8k_published_layout_is_detected(tmp_path, data_dir):
    """openai/gsm8k (hub, config main) rows are {question, answer}; the final answer is the text
    after '####' (github.com/openai/grade-school-math, grade_school_math/data/test.jsonl)."""
    shared = [json.loads(line) for line in (data_dir / "gsm8k_test.jsonl").read_text().splitlines()[:20]]
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps({"question": r["question"], "answer": r["answer"]}) + "\n" for r in shared))
    records = list(read_records(path))
    assert [r.answer for r in records] == [r["final"] for r in shared]
    assert all(r.domain == "math" and GSM8K_MARK in r.meta["solution"] for r in records)
    plain = tmp_path / "plain.jsonl"  # question + a short answer: still a canonical row
    plain.write_text(json.dumps({"question": "1+1?", "answer": "2"}) + "\n")
    assert list(read_records(plain))[0].meta is None


def test_hub_folder_of_canonical_parquet_is_decoded(tmp_path, multi_chain):
    """A thoughtdistill canonical Parquet file pushed to the hub comes back as the records
    (typed columns and JSON extras decoded), not as its storage columns."""
    folder = tmp_path / "pushed"
    (folder / "data").mkdir(parents=True)
    write_records(folder / "data" / "train-00000-of-00001.parquet", multi_chain[:5])
    back = list(read_records(f"hf:{folder}"))
    assert [r.dump() for r in back] == [r.dump() for r in multi_chain[:5]]
