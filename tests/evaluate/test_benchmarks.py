"""Benchmark registry: built-ins on the shared data, user extension files, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from thoughtdistill.errors import ConfigError, RecordError
from thoughtdistill.evaluate.benchmarks import (
    BUILTIN, build_messages, get_benchmark, load_items, load_registry, parse_slice)


@pytest.mark.parametrize("name,count", [("aime24", 30), ("aime25", 30), ("math500", 500), ("gsm8k", 1319),
                                        ("humaneval", 164), ("code_tests", 60)])
def test_builtin_benchmarks_load_from_shared_data(data_dir, name, count):
    items = load_items(get_benchmark(name))
    assert len(items) == count
    assert len({i.id for i in items}) == count
    first = items[0]
    if BUILTIN[name].scorer == "math":
        assert first.answer and first.question
    else:
        assert first.tests


def test_gsm8k_uses_the_final_number_and_aime25_int_answers_are_text(data_dir):
    gsm = load_items(get_benchmark("gsm8k"), limit=1)[0]
    assert gsm.answer == "18" and "Janet" in gsm.question
    assert load_items(get_benchmark("aime25"), limit=1)[0].answer == "70"


def test_math_prompt_template_and_slice_limit(data_dir):
    spec = get_benchmark("math500")
    items = load_items(spec, slice_="10:20", limit=3)
    assert [i.id for i in items] == [i.id for i in load_items(spec)[10:13]]
    msgs = build_messages(spec, items[0])
    assert msgs == [{"role": "user", "content": items[0].question +
                     "\nPlease reason step by step, and put your final answer within \\boxed{}."}]
    assert build_messages(spec, items[0], system_prompt="be brief")[0] == {"role": "system", "content": "be brief"}
    with pytest.raises(ConfigError, match="START:STOP"):
        parse_slice("3")


@pytest.mark.parametrize("text, msg", [
    ("5:2", r"--slice '5:2' is empty: STOP must be greater than START"),
    ("3:3", r"--slice '3:3' is empty"),
    ("-2:-5", r"--slice '-2:-5' is empty"),
    ("600:", r"--slice '600:' selects no items: benchmark 'math500' has 500"),
    ("10:-495", r"--slice '10:-495' selects no items"),
])
def test_empty_or_inverted_slice_is_rejected(data_dir, text, msg):
    with pytest.raises(ConfigError, match=msg):
        load_items(get_benchmark("math500"), slice_=text)


def test_cli_empty_slice_names_the_option(tmp_path):
    p = subprocess.run([sys.executable, "-m", "thoughtdistill", "eval", "-b", "math500", "-m", "m", "--backend",
                        "openai", "--base-url", "http://127.0.0.1:9/v1", "-o", str(tmp_path), "--slice", "5:2"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.startswith("error: --slice '5:2' is empty"), p.stderr
    assert not list(tmp_path.iterdir())


def test_unknown_benchmark_lists_known_ones():
    with pytest.raises(ConfigError) as err:
        get_benchmark("aime2030")
    assert "aime24" in str(err.value) and "math500" in str(err.value) and "gpqa_diamond" in str(err.value)


def test_gpqa_and_livecodebench_need_a_user_file():
    for name in ("gpqa_diamond", "livecodebench"):
        with pytest.raises(ConfigError, match="not shipped"):
            load_items(get_benchmark(name))


def test_user_registry_file_adds_and_overrides(tmp_path, data_dir):
    rows = [{"qid": "q1", "text": "What is 2+2?", "gold": 4}, {"qid": "q2", "text": "1+1?", "gold": "2"}]
    (tmp_path / "mine.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "reg.yaml").write_text(
        "benchmarks:\n"
        "  tiny_math:\n"
        "    path: mine.jsonl\n"  # relative to the registry file
        "    id_field: qid\n    question_field: text\n    answer_field: gold\n"
        "    prompt_template: 'Q: {question} Answer in \\boxed{}.'\n"
        "  aime24:\n    system_prompt: You are a careful mathematician.\n")
    reg = load_registry([tmp_path / "reg.yaml"])
    items = load_items(reg["tiny_math"])
    assert [(i.id, i.answer) for i in items] == [("q1", "4"), ("q2", "2")]
    assert build_messages(reg["tiny_math"], items[0])[0]["content"] == "Q: What is 2+2? Answer in \\boxed{}."
    assert reg["aime24"].system_prompt and reg["aime24"].path == "package:aime24.jsonl.gz"
    (tmp_path / "bad.yaml").write_text("benchmarks:\n  x:\n    scorer: astrology\n")
    with pytest.raises(ConfigError, match="scorer"):
        load_registry([tmp_path / "bad.yaml"])


def test_answer_field_of_the_wrong_type_is_a_located_error(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps({"id": "a", "problem": "p", "answer": "1"}) + "\n" +
                    json.dumps({"id": "b", "problem": "p", "answer": ["1", "2"]}) + "\n")
    spec = get_benchmark("math500", path=str(path))
    with pytest.raises(RecordError) as err:
        load_items(spec)
    assert ":2" in str(err.value) and "answer" in str(err.value) and "list" in str(err.value)
    path.write_text(json.dumps({"id": "a", "problem": "p"}) + "\n")
    with pytest.raises(RecordError, match="missing field 'answer'"):
        load_items(spec)


def test_gpqa_user_file_both_formats(tmp_path):
    # synthetic rows in GPQA's layouts (the real questions are not redistributed)
    plain = {"id": "g1", "question": "Which is a noble gas?", "choices": ["Na", "Ar", "Cl", "K"], "answer": "B"}
    orig = {"Record ID": "r1", "Question": "Which is a halogen?", "Correct Answer": "Cl",
            "Incorrect Answer 1": "Na", "Incorrect Answer 2": "Ar", "Incorrect Answer 3": "K"}
    path = tmp_path / "gpqa.jsonl"
    path.write_text(json.dumps(plain) + "\n" + json.dumps(dict(orig, id="g2")) + "\n")
    items = load_items(get_benchmark("gpqa_diamond", path=str(path)))
    assert items[0].answer == "B" and "B) Ar" in items[0].question
    letter = items[1].answer
    assert f"{letter}) Cl" in items[1].question
    again = load_items(get_benchmark("gpqa_diamond", path=str(path)))[1]
    assert again.question == items[1].question  # the shuffle is fixed per question
    path.write_text(json.dumps(dict(plain, answer="E")) + "\n")
    with pytest.raises(RecordError, match="letter"):
        load_items(get_benchmark("gpqa_diamond", path=str(path)))


def test_livecodebench_rows(tmp_path):
    row = {"question_id": "abc1", "question_content": "Print the sum of two integers.",
           "public_test_cases": json.dumps([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]),
           "private_test_cases": json.dumps([{"input": "5 5\n", "output": "10\n", "testtype": "stdin"}])}
    path = tmp_path / "lcb.jsonl"
    path.write_text(json.dumps(row) + "\n")
    item = load_items(get_benchmark("livecodebench", path=str(path)))[0]
    assert item.id == "abc1" and len(item.tests) == 2
    row["public_test_cases"] = json.dumps([{"input": "x", "output": "y", "testtype": "functional"}])
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(RecordError, match="functional"):
        load_items(get_benchmark("livecodebench", path=str(path)))


def test_every_infer_and_eval_option_has_help():
    import typer

    from thoughtdistill.cli import app

    group = typer.main.get_command(app)
    for path in (["infer"], ["eval"], ["eval", "compare"]):
        cmd = group
        for name in path:
            cmd = cmd.commands[name]
        bare = [p.name for p in cmd.params if getattr(p, "help", "x") in (None, "")]
        assert not bare, f"{' '.join(path)}: options without help: {bare}"


def test_rows_after_the_selection_are_never_read(tmp_path):
    """Lazy validation: a broken line past --limit / --slice does not stop the run."""
    rows = [json.dumps({"id": f"q{i}", "problem": f"{i}+0?", "answer": str(i)}) for i in range(3)]
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join(rows[:2]) + "\n{not json\n" + rows[2] + "\n")
    spec = get_benchmark("math500", path=str(path))
    assert [i.id for i in load_items(spec, limit=2)] == ["q0", "q1"]
    assert [i.id for i in load_items(spec, slice_="1:2")] == ["q1"]
    with pytest.raises(RecordError, match=r":3"):
        load_items(spec)
    with pytest.raises(RecordError, match=r":3"):
        load_items(spec, slice_="-1:")  # a negative bound reads the whole file


def test_duplicate_ids_in_the_selection_name_both_lines(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text("".join(json.dumps({"id": "same", "problem": "p", "answer": "1"}) + "\n" for _ in range(2)))
    with pytest.raises(RecordError, match=r":2: field 'id' duplicate item id 'same' \(first at line 1\)"):
        load_items(get_benchmark("math500", path=str(path)))


def test_hub_reference_reads_with_the_known_field_mapping(tmp_path, monkeypatch):
    """`--benchmark-path hf:HuggingFaceH4/MATH-500:test` through io.hub.iter_hub_rows. No hub
    here: a local folder of that name stands in (datasets reads a local folder the same way)."""
    folder = tmp_path / "HuggingFaceH4" / "MATH-500"
    folder.mkdir(parents=True)
    rows = [{"problem": "What is $1+1$?", "solution": "It is $\\boxed{2}$.", "answer": "2",
             "subject": "Prealgebra", "level": 1, "unique_id": "test/prealgebra/1.json"},
            {"problem": "What is $2+3$?", "solution": "It is $\\boxed{5}$.", "answer": "5",
             "subject": "Prealgebra", "level": 1, "unique_id": "test/prealgebra/2.json"}]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = get_benchmark("math500", path="hf:HuggingFaceH4/MATH-500:test")
    assert spec.path == "hf:HuggingFaceH4/MATH-500:test" and spec.id_field == "unique_id"
    items = load_items(spec)
    assert [(i.id, i.answer) for i in items] == [("test/prealgebra/1.json", "2"), ("test/prealgebra/2.json", "5")]
    from thoughtdistill.evaluate.benchmarks import file_sha256

    assert len(file_sha256(spec.resolved_path())) == 64  # the reference is fingerprinted, not read


def test_gsm8k_hub_layout_takes_the_answer_after_the_marker(tmp_path, monkeypatch):
    folder = tmp_path / "openai" / "gsm8k"
    folder.mkdir(parents=True)
    (folder / "test.jsonl").write_text(json.dumps(
        {"question": "Tom has 3 apples and buys 1,000 more. How many?", "answer": "3 + 1000 = 1003\n#### 1,003"}) + "\n")
    monkeypatch.chdir(tmp_path)
    items = load_items(get_benchmark("gsm8k", path="hf:openai/gsm8k:test"))
    assert [(i.id, i.answer) for i in items] == [("line-1", "1003")]


def test_a_file_with_another_suffix_reads_as_json_lines(tmp_path):
    path = tmp_path / "bench.txt"
    path.write_text(json.dumps({"id": "a", "problem": "p", "answer": "1"}) + "\n")
    assert [i.id for i in load_items(get_benchmark("math500", path=str(path)))] == ["a"]
