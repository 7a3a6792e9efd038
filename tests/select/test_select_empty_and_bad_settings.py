"""Selections that end empty (say why, exit 0) and settings that cannot make sense (rejected),
on the first real multi_chain records (synthetic RV/CD: see _select_data.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import ValidationError
from typer.main import get_command
from typer.testing import CliRunner

from thoughtdistill.cli import app
from thoughtdistill.errors import ConfigError
from thoughtdistill.select import report_path, SelectConfig, parse_filter, run_select

from _select_data import write_jsonl
from test_select_strategies import read

HYGIENE = {"decontaminate": False, "near_dedup": False}


@pytest.fixture
def mc5(tmp_path, multi_chain_rows):
    return write_jsonl(tmp_path / "mc5.jsonl", multi_chain_rows[:5])


@pytest.fixture
def mc5_unjudged(tmp_path, multi_chain_rows):
    rows = [{**r, "reasoning": [{k: v for k, v in c.items() if k not in ("Cognitive_Difficulty", "Reasoning_Verbosity")}
                                for c in r["reasoning"]]} for r in multi_chain_rows[:5]]
    return write_jsonl(tmp_path / "unjudged.jsonl", rows)


def select(inp, out, **kw):
    kw.setdefault("hygiene", HYGIENE)
    return run_select(SelectConfig(input=[inp], output=out, figures=False, **kw))


def cli(*args):
    return CliRunner().invoke(app, ["select", *map(str, args)])


def assert_empty_with_warning(res, out, *needles):
    assert res.chains_out == 0 and out.exists() and read(out) == []
    rep = json.loads(report_path(out).read_text())
    assert rep["counts"]["chains_out"] == 0 and rep["after"]["chains"] == 0
    last = rep["warnings"][-1]
    assert last.startswith("selected nothing") and all(n in last for n in needles), last


# --- nothing reaches dedup / the strategy: completes, empty output, says why ----------------


def test_filter_matching_nothing(tmp_path, mc5):
    out = tmp_path / "o" / "s.jsonl"
    res = select(mc5, out, filters=["teacher == nobody"])
    assert_empty_with_warning(res, out, "'filters'", "teacher == nobody: 40")


def test_only_incorrect_chains_left(tmp_path, mc5):
    out = tmp_path / "o" / "s.jsonl"
    res = select(mc5, out, filters=["correct == false"], hygiene={"decontaminate": False})
    assert_empty_with_warning(res, out, "'strategy'", "not_correct: 8")


@pytest.mark.parametrize("content, why", [(b"", "the input has no rows"),
                                          (b'{"id": "x", "question": "What is 1 + 1?", "reasoning": []}\n',
                                           "1 row(s) have no chains"),
                                          (b'{"question": "no chains list", "reasoning": 3}\n', "1 bad row(s) left out")])
def test_input_without_chains(tmp_path, content, why):
    inp = tmp_path / "in.jsonl"
    inp.write_bytes(content)
    out = tmp_path / "o" / "s.jsonl"
    assert_empty_with_warning(select(inp, out, hygiene={}, on_error="skip"), out, why)


def test_cli_empty_selection_exits_0_with_warning(tmp_path, mc5):
    out = tmp_path / "o" / "s.jsonl"
    p = subprocess.run([sys.executable, "-m", "thoughtdistill", "select", str(mc5), "-o", str(out), "-f",
                        "correct == false", "--no-figures", "--no-decontaminate"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "selected 0 chains" in p.stdout and "Traceback" not in p.stderr
    assert p.stderr.startswith("warning: selected nothing: step 'strategy'")
    assert out.exists() and report_path(out).exists()


# --- legitimate settings that end empty: a warning names the reason -------------------------


def test_token_budget_smaller_than_every_chain(tmp_path, mc5):
    out = tmp_path / "o" / "s.jsonl"
    res = select(mc5, out, budget={"max_tokens": 1})
    assert_empty_with_warning(res, out, "'budget'", "max_tokens=1")


@pytest.mark.parametrize("strategy", ["threshold", "rv-cd-mix", "student-fit"])
def test_strategy_needing_levels_on_unjudged_chains(tmp_path, mc5_unjudged, strategy):
    out = tmp_path / "o" / "s.jsonl"
    res = select(mc5_unjudged, out, strategy=strategy)
    assert_empty_with_warning(res, out, "no chain has RV/CD levels", "thoughtdistill judge")


def test_random_matching_an_empty_strategy(tmp_path, mc5_unjudged):
    out = tmp_path / "o" / "s.jsonl"
    res = select(mc5_unjudged, out, strategy="random", random={"match": "threshold"})
    assert_empty_with_warning(res, out, "--match threshold")


def test_cli_prints_the_warning(tmp_path, mc5_unjudged):
    r = cli(mc5_unjudged, "-o", tmp_path / "s.jsonl", "-s", "threshold", "--no-figures", "--no-decontaminate")
    assert r.exit_code == 0 and "selected 0 chains" in r.stdout
    assert "warning: selected nothing: no chain has RV/CD levels" in r.stderr


def test_non_empty_selection_has_no_empty_warning(tmp_path, mc5):
    res = select(mc5, tmp_path / "s.jsonl")
    assert res.chains_out > 0 and not any(w.startswith("selected nothing") for w in res.report["warnings"])


# --- settings that cannot make sense are rejected -------------------------------------------


@pytest.mark.parametrize("args, field", [
    (["--max-chains", "0"], "budget.max_chains"),
    (["--max-tokens", "0"], "budget.max_tokens"),
    (["-s", "rv-cd-mix", "--samples-per-bin", "0"], "rv_cd_mix.samples_per_bin"),
    (["-s", "rv-cd-mix", "--total", "0"], "rv_cd_mix.total"),
    (["-s", "random", "--n", "0"], "random.n"),
    (["--per-question", "0"], "student_fit.per_question"),
    (["-s", "rv-cd-mix", "--per-question", "0"], "rv_cd_mix.per_question"),
    (["-s", "rv-cd-mix", "--rv-target", "42"], "rv_cd_mix.rv_target"),
    (["-s", "rv-cd-mix", "--rv-target", "-1"], "rv_cd_mix.rv_target"),
])
def test_cli_rejects_zero_budgets_and_off_scale_targets(tmp_path, mc5, args, field):
    out = tmp_path / "s.jsonl"
    r = cli(mc5, "-o", out, *args)
    assert isinstance(r.exception, ConfigError) and f"field '{field}'" in str(r.exception)
    assert not out.exists()


def test_rv_target_scale_in_config():
    with pytest.raises(ValidationError, match="outside the 0-9"):
        SelectConfig(input=["a"], output="b", rv_cd_mix={"rv_target": [2, 5, 10]})
    for ok in ("high", 0, 9, [2, 5, 8]):
        SelectConfig(input=["a"], output="b", rv_cd_mix={"rv_target": ok})


@pytest.mark.parametrize("rng", [(5, 3), (-1, 4), (4, 12)])
def test_threshold_ranges_must_be_ordered_levels(rng):
    with pytest.raises(ValidationError, match="threshold.rv"):
        SelectConfig(input=["a"], output="b", threshold={"rv": rng})


def test_per_question_goes_to_the_configured_strategy(tmp_path, mc5):
    conf = tmp_path / "c.yaml"
    conf.write_text("select:\n  strategy: rv-cd-mix\n")
    out = tmp_path / "s.jsonl"
    r = cli(mc5, "-o", out, "-c", conf, "--per-question", "2", "--no-figures", "--no-decontaminate")
    assert r.exit_code == 0, r.output
    rep = json.loads(report_path(out).read_text())
    assert rep["strategy_report"]["params"]["per_question"] == 2
    assert max(len(x["reasoning"]) for x in read(out)) == 2


def test_per_question_with_threshold_is_an_error(tmp_path, mc5):
    r = cli(mc5, "-o", tmp_path / "s.jsonl", "-s", "threshold", "--per-question", "2")
    assert isinstance(r.exception, ConfigError) and "--max-per-question" in str(r.exception)


@pytest.mark.parametrize("expr, msg", [
    ("rv in 5..3", "range 5..3 is empty"),
    ("cd not in 9..0", "range 9..0 is empty"),
    ("tokens in 100..10", "range 100..10 is empty"),
    ("rv in 10..20", "outside the 0-9 scale"),
    ("rv == 42", "level 42 is outside the 0-9 scale"),
    ("cd in [1, 12]", "level 12 is outside"),
    ({"field": "rv", "op": "in", "value": {"range": [3]}}, "two numbers"),
])
def test_impossible_filters_are_rejected(expr, msg):
    with pytest.raises(ConfigError, match=msg):
        parse_filter(expr)


def test_possible_filters_still_parse():
    for expr in ("rv in 3..3", "cd in 0..9", "rv in [none, 0, 9]", "rv < 12", "tokens in 0..100000"):
        parse_filter(expr)


def test_cli_inverted_range_is_a_one_line_error(tmp_path, mc5):
    p = subprocess.run([sys.executable, "-m", "thoughtdistill", "select", str(mc5), "-o", str(tmp_path / "s.jsonl"),
                        "-f", "rv in 5..3"], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0
    assert p.stderr.startswith("error: filter on field 'rv': range 5..3 is empty")


# --- help --------------------------------------------------------------------------------------


def test_select_help_is_one_paragraph():
    help_text = get_command(app).commands["select"].help
    assert "\n" not in help_text and "select_report.json" in help_text


def test_output_must_not_replace_the_input(tmp_path, mc5):
    before = mc5.read_bytes()
    with pytest.raises(ConfigError, match="is also the input"):
        select(mc5, mc5, strategy="random", random={"n": 1})
    assert mc5.read_bytes() == before


def test_two_selections_in_one_folder_keep_their_own_reports(tmp_path, mc5):
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl.gz"
    a = select(mc5, small, strategy="random", random={"n": 1})
    b = select(mc5, large, strategy="random", random={"n": 3})
    assert a.chains_out < b.chains_out
    assert report_path(small).name == "small.select_report.json"
    assert report_path(large).name == "large.select_report.json"
    assert json.loads(report_path(small).read_text())["counts"]["chains_out"] == a.chains_out
    assert json.loads(report_path(large).read_text())["counts"]["chains_out"] == b.chains_out
