"""GPQA-Diamond in its published layout: ``gpqa_diamond.csv`` of Idavidrein/gpqa.

Source: github.com/idavidrein/gpqa (``dataset.zip`` → ``gpqa_diamond.csv``; the same file is the
``gpqa_diamond`` configuration of huggingface.co/datasets/Idavidrein/gpqa). The header below is
the column list of that CSV as given in the dataset card's ``dataset_info`` features (78
columns, in file order; the same list appears in other projects' exact-schema readers). The
questions may not be republished, so every row here is invented; only the layout is real:
quoted fields with commas, quotes and newlines, numbers and empty cells as the CSV has them.
"""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from thoughtdistill.errors import ConfigError, RecordError
from thoughtdistill.evaluate.benchmarks import get_benchmark, load_items
from thoughtdistill.evaluate.scoring import extract_choice, score_one

GPQA_DIAMOND_HEADER = (
    "Pre-Revision Question", "Pre-Revision Correct Answer", "Pre-Revision Incorrect Answer 1",
    "Pre-Revision Incorrect Answer 2", "Pre-Revision Incorrect Answer 3", "Pre-Revision Explanation",
    "Self-reported question-writing time (minutes)", "Question", "Correct Answer", "Incorrect Answer 1",
    "Incorrect Answer 2", "Incorrect Answer 3", "Explanation", "Revision Comments (from Question Writer)",
    "Subdomain", "Writer's Difficulty Estimate", "Extra Revised Question", "Extra Revised Explanation",
    "Extra Revised Correct Answer", "Extra Revised Incorrect Answer 1", "Extra Revised Incorrect Answer 2",
    "Extra Revised Incorrect Answer 3", "Non-Expert Validator Accuracy", "Majority Non-Expert Vals Incorrect",
    "Expert Validator Accuracy", "Record ID", "High-level domain", "Question Writer",
    "Feedback_EV_1", "Validator Revision Suggestion_EV_1", "Is First Validation_EV_1", "Post hoc agreement_EV_1",
    "Sufficient Expertise?_EV_1", "Understand the question?_EV_1", "Question Difficulty_EV_1",
    "Validator Answered Correctly_EV_1", "Self-reported time (minutes)_EV_1", "Probability Correct_EV_1",
    "Manual Correctness Adjustment_EV_1", "Expert Validator_EV_1",
    "Feedback_EV_2", "Validator Revision Suggestion_EV_2", "Is First Validation_EV_2", "Post hoc agreement_EV_2",
    "Sufficient Expertise?_EV_2", "Understand the question?_EV_2", "Question Difficulty_EV_2",
    "Validator Answered Correctly_EV_2", "Self-reported time (minutes)_EV_2", "Probability Correct_EV_2",
    "Manual Correctness Adjustment_EV_2", "Expert Validator_EV_2",
    "Feedback_NEV_1", "Validator Answered Correctly_NEV_1", "Explanation_NEV_1", "Self-reported time (minutes)_NEV_1",
    "Websites visited_NEV_1", "Probability Correct_NEV_1", "Manual Correctness Adjustment_NEV_1",
    "Non-Expert Validator_NEV_1",
    "Feedback_NEV_2", "Validator Answered Correctly_NEV_2", "Explanation_NEV_2", "Self-reported time (minutes)_NEV_2",
    "Websites visited_NEV_2", "Probability Correct_NEV_2", "Manual Correctness Adjustment_NEV_2",
    "Non-Expert Validator_NEV_2",
    "Feedback_NEV_3", "Validator Answered Correctly_NEV_3", "Explanation_NEV_3", "Self-reported time (minutes)_NEV_3",
    "Websites visited_NEV_3", "Probability Correct_NEV_3", "Manual Correctness Adjustment_NEV_3",
    "Non-Expert Validator_NEV_3",
    "Expert Validator Disagreement Category", "Canary String",
)

INVENTED = [  # (Record ID, domain, subdomain, question, correct, three incorrect)
    ("recA1b2C3d4E5f6G7", "Physics", "Quantum Mechanics",
     'A spin-1/2 particle is prepared in the "up" state along z.\nWhat is the probability, after a '
     "measurement along x, of finding it up?", "1/2", "1", "0", "1/4"),
    ("recH8i9J0k1L2m3N4", "Chemistry", "Organic Chemistry",
     "Which reagent, used in excess, turns a primary alcohol into a carboxylic acid?",
     "Jones reagent (CrO3, H2SO4, acetone)", "PCC, in dichloromethane", "NaBH4", "DIBAL-H, at -78 C"),
    ("recO5p6Q7r8S9t0U1", "Biology", "Molecular Biology",
     "Which enzyme joins Okazaki fragments?", "DNA ligase", "Primase", "Helicase", "Topoisomerase II"),
    ("recV2w3X4y5Z6a7B8", "Physics", "Astrophysics",
     "A star's apparent magnitude drops by 5. By what factor did its flux change?",
     "It rose by 100", "It fell by 100", "It rose by 5", "It rose by 10"),
]


def _row(record_id, domain, subdomain, question, correct, *wrong) -> dict[str, str]:
    row = {column: "" for column in GPQA_DIAMOND_HEADER}
    row.update({"Question": question, "Correct Answer": correct, "Incorrect Answer 1": wrong[0],
                "Incorrect Answer 2": wrong[1], "Incorrect Answer 3": wrong[2], "Record ID": record_id,
                "High-level domain": domain, "Subdomain": subdomain, "Pre-Revision Question": question,
                "Explanation": "Invented for a test, with a comma, and \"quotes\".",
                "Expert Validator Accuracy": "1.0", "Non-Expert Validator Accuracy": "0.3333333333333333",
                "Is First Validation_EV_1": "True", "Validator Answered Correctly_EV_1": "1",
                "Canary String": "(invented rows: no canary)"})
    return row


def write_csv(path, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(GPQA_DIAMOND_HEADER))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def gpqa_csv(tmp_path):
    path = tmp_path / "gpqa_diamond.csv"
    write_csv(path, [_row(*r) for r in INVENTED])
    return path


def _items(path, **kw):
    return load_items(get_benchmark("gpqa_diamond", path=str(path), **kw))


def _chosen_text(item) -> str:
    line = next(x for x in item.question.splitlines() if x.startswith(f"{item.answer}) "))
    return line[3:]


def test_header_is_the_published_column_list(gpqa_csv):
    assert len(GPQA_DIAMOND_HEADER) == len(set(GPQA_DIAMOND_HEADER)) == 78
    with open(gpqa_csv, newline="", encoding="utf-8") as fh:
        assert tuple(next(csv.reader(fh))) == GPQA_DIAMOND_HEADER


def test_published_csv_reads_directly_with_record_ids(gpqa_csv):
    items = _items(gpqa_csv)
    assert [i.id for i in items] == [r[0] for r in INVENTED]
    for item, raw in zip(items, INVENTED):
        assert _chosen_text(item) == raw[4]  # the gold letter points at the Correct Answer
        assert item.question.startswith(raw[3].strip())  # a quoted field spanning two lines
        assert sorted(x[3:] for x in item.question.splitlines()[-4:]) == sorted(raw[4:])
        assert item.meta["High-level domain"] == raw[1] and item.meta["n_choices"] == 4


def test_option_order_follows_the_record_id_not_the_row_position(gpqa_csv, tmp_path):
    moved = tmp_path / "reversed.csv"
    write_csv(moved, [_row(*r) for r in reversed(INVENTED)])
    by_id = {i.id: (i.question, i.answer) for i in _items(gpqa_csv)}
    assert {i.id: (i.question, i.answer) for i in _items(moved)} == by_id
    letters = [i.answer for i in _items(gpqa_csv)]
    assert len(set(letters)) > 1  # not always the same slot


def test_choice_seed_reorders_options(gpqa_csv, tmp_path):
    registry = tmp_path / "registry.yaml"
    registry.write_text("benchmarks:\n  gpqa_diamond:\n    choice_seed: 7\n")
    from thoughtdistill.evaluate.benchmarks import load_registry

    seeded = load_items(get_benchmark("gpqa_diamond", load_registry([registry]), str(gpqa_csv)))
    plain = _items(gpqa_csv)
    assert [i.id for i in seeded] == [i.id for i in plain]
    assert [i.question for i in seeded] != [i.question for i in plain]
    assert all(_chosen_text(s) == r[4] for s, r in zip(seeded, INVENTED))


def test_jsonl_and_parquet_of_the_same_columns_read_the_same(gpqa_csv, tmp_path):
    rows = [_row(*r) for r in INVENTED]
    jsonl = tmp_path / "gpqa_diamond.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    parquet = tmp_path / "gpqa_diamond.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    want = [(i.id, i.question, i.answer) for i in _items(gpqa_csv)]
    assert [(i.id, i.question, i.answer) for i in _items(jsonl)] == want
    assert [(i.id, i.question, i.answer) for i in _items(parquet)] == want


def test_bad_rows_name_file_line_and_column(gpqa_csv, tmp_path):
    rows = [_row(*r) for r in INVENTED]
    rows[2]["Correct Answer"] = ""
    bad = tmp_path / "bad.csv"
    write_csv(bad, rows)
    assert len(load_items(get_benchmark("gpqa_diamond", path=str(bad)), limit=2)) == 2  # never reads row 3
    with pytest.raises(RecordError) as err:
        _items(bad)
    # the file line where record 3 starts (record 1 has two fields with a line break in them)
    start = 1 + next(i for i, x in enumerate(bad.read_text().splitlines()) if x.startswith("Which enzyme"))
    assert start == 6 and str(err.value).startswith(f"{bad}:{start}") and "Correct Answer" in str(err.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        _items(tmp_path / "nope.csv")


@pytest.mark.parametrize("answer, letter", [
    ("The answer is \\boxed{C}.", "C"),
    ("\\boxed{(B)}", "B"),
    ("Answer: D", "D"),
    ("**Answer: (A)**", "A"),
    ("I considered A and B.\n\nAnswer: B", "B"),
    ("the answer is (C)", "C"),
    ("Final answer: option D", "D"),
    ("C", "C"),
    ("\\boxed{\\text{C}}", "C"),
    ("\\boxed{\\textbf{(B)}}", "B"),
    ("So the answer is $\\boxed{D}$.", "D"),
    ("Answer: $A$", "A"),
    ("\\boxed{Cl}", None),  # a chemical symbol, not a letter choice
    ("no letter at all", None),
])
def test_answer_letter_conventions(answer, letter):
    assert extract_choice(answer) == letter


def test_scoring_against_the_shuffled_gold(gpqa_csv):
    spec = get_benchmark("gpqa_diamond", path=str(gpqa_csv))
    item = _items(gpqa_csv)[0]
    wrong = next(c for c in "ABCD" if c != item.answer)
    assert score_one(spec, item, f"<think>work</think>Answer: {item.answer}").correct
    assert not score_one(spec, item, f"<think>work</think>Answer: {wrong}").correct
    assert not score_one(spec, item, f"<think>work, Answer: {item.answer}").correct  # unclosed thought


@pytest.mark.slow
def test_eval_cli_runs_the_published_csv_against_a_local_server(gpqa_csv, echo_server, tmp_path, monkeypatch):
    """`thoughtdistill eval -b gpqa_diamond --benchmark-path gpqa_diamond.csv` end to end
    against a real llm-katan echo server (plumbing: the echo's letter is whatever it echoes)."""
    from typer.testing import CliRunner

    from thoughtdistill.cli import app
    from thoughtdistill.pipeline.katan import LOCAL_KEY

    monkeypatch.setenv("KATAN_KEY", LOCAL_KEY)
    result = CliRunner().invoke(app, [
        "eval", "-m", echo_server.model, "--backend", "openai", "--base-url", echo_server.base_url,
        "--api-key-env", "KATAN_KEY", "-b", "gpqa_diamond", "--benchmark-path", str(gpqa_csv),
        "--no-thinking", "--max-new-tokens", "64", "-o", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    run = json.loads(next(p for p in (tmp_path / "eval").glob("*.json") if ".meta" not in p.name).read_text())
    assert run["metrics"]["n_problems"] == 4 and run["benchmark"]["path"] == str(gpqa_csv.resolve())
    samples = [json.loads(x) for x in open(run["files"]["samples"])]
    assert [s["id"] for s in samples] == [r[0] for r in INVENTED]
    assert all(s["gold"] in "ABCD" and s["scored_by"] in ("choice-letter", "no-answer") for s in samples)
