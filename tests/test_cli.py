"""The convert and stats verbs, through typer's runner and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from thoughtdistill.cli import app
from thoughtdistill.io import read_records

runner = CliRunner()


def test_help_lists_verbs_and_explains_options():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "convert" in result.output and "stats" in result.output
    helptext = runner.invoke(app, ["convert", "--help"], terminal_width=200).output
    for option in ("--from", "--to", "--on-error", "--quarantine", "--unique-ids", "--split-thoughts"):
        assert option in helptext


def test_convert_multi_chain_then_stats(tmp_path, data_dir):
    out = tmp_path / "mc.jsonl"
    result = runner.invoke(app, ["convert", str(data_dir / "multi_chain.jsonl"), str(out), "--from", "multi_chain"])
    assert result.exit_code == 0, result.output
    records = list(read_records(out))
    assert len(records) == 100 and sum(len(r.reasoning) for r in records) == 800
    result = runner.invoke(app, ["stats", str(out), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["records"] == 100 and figures["chains"] == 800
    assert figures["chains_per_question"] == {"8": 100}
    assert figures["correctness"] == {"correct": 728, "wrong": 72, "undecided": 0, "unjudged": 0}
    assert figures["chain_tokens"]["p50"] > 50
    tables = runner.invoke(app, ["stats", str(out)], terminal_width=160)
    assert tables.exit_code == 0 and "chains per question" in tables.output and "Reasoning_Verbosity" in tables.output


@pytest.mark.slow  # builds the SmolLM2 fixture on a fresh machine
def test_convert_to_messages_parquet_and_stats_with_tokenizer(tmp_path, data_dir, smollm2_path):
    pq_out = tmp_path / "r1.parquet"
    assert runner.invoke(app, ["convert", str(data_dir / "r1_traces.jsonl"), str(pq_out)]).exit_code == 0
    msgs = tmp_path / "r1.messages.jsonl"
    assert runner.invoke(app, ["convert", str(pq_out), str(msgs), "--to", "messages"]).exit_code == 0
    first = json.loads(msgs.read_text().splitlines()[0])
    assert first["messages"][1]["content"].startswith("<think>\n")
    result = runner.invoke(app, ["stats", str(pq_out), "--json", "--tokenizer", str(smollm2_path)])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["token_counter"] == str(smollm2_path) and figures["thought_tokens"]["max"] > 1000


def test_quarantine_option(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"question": "ok"}\n{"question": 3}\n{"question": "ok2"}\n')
    out, bad = tmp_path / "out.jsonl", tmp_path / "bad.jsonl"
    result = runner.invoke(app, ["convert", str(src), str(out), "--on-error", "quarantine", "--quarantine", str(bad)])
    assert result.exit_code == 0, result.output
    assert [r.question for r in read_records(out)] == ["ok", "ok2"]
    assert json.loads(bad.read_text())["line"] == 2


def test_errors_are_one_line_unless_debug(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"question": "ok"}\n{"question": "q", "reasoning": [{"solution": "s", '
                   '"Reasoning_Verbosity": {"judge": "j", "level": 11}}]}\n')
    cmd = [sys.executable, "-m", "thoughtdistill", "convert", str(src), str(tmp_path / "o.jsonl")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{src}:2: field 'reasoning.0.Reasoning_Verbosity.level'" in lines[0]
    assert not (tmp_path / "o.jsonl").exists()  # nothing half-written
    debug = subprocess.run(cmd[:3] + ["--debug"] + cmd[3:], capture_output=True, text=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_unknown_format_is_clear(tmp_path, data_dir):
    proc = subprocess.run([sys.executable, "-m", "thoughtdistill", "convert", str(data_dir / "math500.jsonl"),
                           str(tmp_path / "o.jsonl"), "--to", "math500"], capture_output=True, text=True)
    assert proc.returncode == 2 and "input only" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "thoughtdistill", "convert", str(data_dir / "math500.jsonl"),
                           str(tmp_path / "o.jsonl"), "--from", "nope"], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown format 'nope'" in proc.stderr


def test_unreadable_and_unwritable_paths_are_one_line_errors(tmp_path, data_dir):
    """Through main(), as users run it: exit 2, the path named, no traceback."""
    (tmp_path / "bad.parquet").write_text("not parquet")
    (tmp_path / "plain").mkdir()
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where a folder should be: nothing can be written under it
    src = str(data_dir / "r1_traces.jsonl")
    cases = {
        ("convert", str(tmp_path / "bad.parquet"), str(tmp_path / "o.jsonl")): "bad.parquet: not a readable Parquet file",
        ("stats", str(tmp_path / "plain")): "plain: a folder, but not a datasets save_to_disk folder",
        ("convert", src, str(blocker / "o.jsonl")): "file/o.jsonl: cannot write there",
        ("generate", "-c", str(tmp_path / "plain"), "--dry-run"): "plain: not a file",
    }
    for args, message in cases.items():
        proc = subprocess.run([sys.executable, "-m", "thoughtdistill", *args], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)


def test_config_errors_without_a_field_read_cleanly(tmp_path):
    from thoughtdistill.config import build_config
    from thoughtdistill.errors import ConfigError
    from thoughtdistill.generate import GenerateConfig

    conf = tmp_path / "gen.yaml"
    one = {"name": "t", "base_url": "http://127.0.0.1:1/v1", "model": "m"}
    conf.write_text(json.dumps({"input": "q.jsonl", "output": "o.jsonl", "teachers": [one, one]}))
    with pytest.raises(ConfigError) as info:
        build_config(GenerateConfig, conf)
    assert str(info.value) == f"{conf}: teacher names must be unique: ['t', 't']"
    conf.write_text("just a string\n")
    with pytest.raises(ConfigError, match="a config must be a YAML mapping of fields, got a str"):
        build_config(GenerateConfig, conf)


def test_config_errors_name_the_line(tmp_path):
    from thoughtdistill.config import build_config
    from thoughtdistill.errors import ConfigError
    from thoughtdistill.generate import GenerateConfig
    from thoughtdistill.train.recipes import load_train_config

    conf = tmp_path / "gen.yaml"
    conf.write_text("input: q.jsonl\noutput: o.jsonl\nteachers:\n  - name: a\n    base_url: http://127.0.0.1:1/v1\n"
                    "    model: m\n  - name: b\n    base_url: http://127.0.0.1:1/v1\n    model: m\n    colour: red\n")
    with pytest.raises(ConfigError, match=r"gen.yaml:10: field 'teachers.1.colour': Extra inputs"):
        build_config(GenerateConfig, conf)
    conf.write_text("input: q.jsonl\noutput: o.jsonl\nteachers:\n  - name: a\n    base_url: http://127.0.0.1:1/v1\n")
    with pytest.raises(ConfigError, match=r"gen.yaml:4: field 'teachers.0.model': Field required"):
        build_config(GenerateConfig, conf)  # missing: the line of the nearest parent present
    recipe = tmp_path / "r.yaml"
    recipe.write_text("launch: {num_processes: 1}\ntrain:\n  data: [x.jsonl]\n  student: s\n  output_dir: o\n"
                      "  lerning_rate: 1\n")
    with pytest.raises(ConfigError, match=r"r.yaml:6: field 'lerning_rate'"):
        load_train_config(recipe)
    with pytest.raises(ConfigError, match=r"^command line: field 'teachers'"):
        build_config(GenerateConfig, None, {"input": "q", "output": "o", "teachers": []})
