"""Strategies on real records (multi_chain, synthetic RV/CD: see conftest) and hand-built edge cases."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from thoughtdistill.errors import ConfigError
from thoughtdistill.records import Record
from thoughtdistill.select import (
    SelectConfig,
    StudentFitParams,
    cd_band,
    cd_bin,
    largest_remainder,
    run_select,
)

from _select_data import write_jsonl

NO_HYGIENE = {"near_dedup": False, "decontaminate": False, "exact_dedup": False}


def cfg(inp: Path, out: Path, **kw) -> SelectConfig:
    kw.setdefault("figures", False)
    return SelectConfig(input=[inp], output=out, **kw)


def chain(rv, cd, ok=True, teacher="t1", text=None, **extra):
    c = {"teacher": teacher, "full_response": text or f"Reasoning rv={rv} cd={cd}. The answer is \\boxed{{1}}.",
         "Reasoning_Verbosity": {"judge": "j", "level": rv}, "Cognitive_Difficulty": {"judge": "j", "level": cd},
         "correctness": {"verdict": ok, "by": "test"}}
    c.update(extra)
    return c


def rec(qid, chains, question=None, **extra):
    return {"id": qid, "question": question or f"Question number {qid}: compute the value of item {qid}.",
            "domain": "math", "reasoning": chains, **extra}


def read(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


# --- real records ----------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["threshold", "rv-cd-mix", "student-fit", "random"])
def test_each_strategy_on_real_records(tmp_path, multi_chain_file, multi_chain_rows, strategy):
    out = tmp_path / "out" / "selected.jsonl"
    res = run_select(cfg(multi_chain_file, out, strategy=strategy, random={"n": 40},
                         hygiene={}))
    rows = read(out)
    assert res.chains_out == sum(len(r["reasoning"]) for r in rows) > 0
    by_id = {r["id"]: r for r in multi_chain_rows}
    for r in rows:
        Record.model_validate(r)
        src = by_id[r["id"]]["reasoning"]
        for c in r["reasoning"]:
            assert c in src  # chains come through unchanged
            assert c["correctness"]["verdict"] is True
        if strategy != "threshold":
            assert len(r["reasoning"]) == 1
    ids = [r["id"] for r in rows]
    order = [r["id"] for r in multi_chain_rows]
    assert ids == [i for i in order if i in set(ids)]  # input order
    # 7 of these MATH questions are in math500: removed and attributed
    steps = {s["step"]: s for s in res.report["steps"]}
    assert steps["decontaminate"]["reasons"] == {"contaminated_questions:math500": 7}
    if strategy == "random":
        assert res.chains_out == 40


@pytest.mark.parametrize("strategy", ["threshold", "rv-cd-mix", "student-fit", "random"])
def test_byte_identical_for_a_seed(tmp_path, multi_chain_file, strategy):
    outs = []
    for run in range(2):
        out = tmp_path / f"run{run}" / "sel.jsonl"
        run_select(cfg(multi_chain_file, out, strategy=strategy, seed=7, random={"n": 30},
                       budget={"max_chains": 50}, hygiene={"decontaminate_against": []}))
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] and outs[0]


def test_random_matches_student_fit_budget(tmp_path, multi_chain_file):
    a = run_select(cfg(multi_chain_file, tmp_path / "a" / "s.jsonl", strategy="student-fit", hygiene=NO_HYGIENE))
    b = run_select(cfg(multi_chain_file, tmp_path / "b" / "s.jsonl", strategy="random",
                       random={"match": "student-fit"}, hygiene=NO_HYGIENE))
    assert b.chains_out == a.chains_out
    assert b.report["strategy_report"]["matched"]["chains"] == a.chains_out
    assert (tmp_path / "a" / "s.jsonl").read_bytes() != (tmp_path / "b" / "s.jsonl").read_bytes()


# --- rv-cd-mix edge cases ----------------------------------------------------------------


def test_cd_at_last_edge_goes_in_last_bin():
    import numpy as np

    b = cd_bin(np.array([0, 2, 3, 5, 6, 9, 10, 11, -1]), [0, 3, 6, 10])
    assert b.tolist() == [0, 0, 1, 1, 2, 2, 2, -1, -1]


def test_mix_edge_cases(tmp_path):
    rows = [
        rec("a", [chain(2, 9), chain(8, 9)]),            # CD 9 = last edge: last bin (target 8)
        rec("b", [chain(5, 0, ok=False), chain(1, 1, ok=False)]),  # all incorrect
        rec("c", [chain(6, 4)]),                          # one chain
    ]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "o" / "s.jsonl"
    res = run_select(cfg(inp, out, strategy="rv-cd-mix", hygiene=NO_HYGIENE,
                         rv_cd_mix={"cd_bins": [0, 3, 6, 9], "rv_target": "matched"}))
    got = {r["id"]: r["reasoning"] for r in read(out)}
    assert set(got) == {"a", "c"}
    assert got["a"][0]["Reasoning_Verbosity"]["level"] == 8  # closest to the last bin's target 10
    rep = res.report["strategy_report"]
    assert rep["dropped"]["not_correct"] == 2
    assert rep["empty_bins"] == [0]
    assert [b["selected"] for b in rep["bins"]] == [0, 1, 1]
    assert rep["bins"][2]["closed_right"] is True


def test_quota_of_point_four_does_not_vanish(tmp_path):
    assert largest_remainder([0.4] * 5) == [1, 1, 0, 0, 0]
    assert largest_remainder([2.5, 2.5]) == [3, 2]
    assert sum(largest_remainder([1 / 3] * 3)) == 1
    rows = [rec(f"q{i}", [chain(5, cd)]) for i, cd in enumerate([0, 2, 4, 6, 8, 1, 3, 5, 7, 9])]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "o" / "s.jsonl"
    res = run_select(cfg(inp, out, strategy="rv-cd-mix", hygiene=NO_HYGIENE,
                         rv_cd_mix={"cd_bins": [0, 2, 4, 6, 8, 10], "total": 2}))
    bins = res.report["strategy_report"]["bins"]
    assert [b["quota_exact"] for b in bins] == [0.4] * 5
    assert [b["quota"] for b in bins] == [1, 1, 0, 0, 0]
    assert res.chains_out == 2


def test_mix_per_question_grouping(tmp_path):
    # one question with chains in every bin may be chosen once; others fill the bins
    rows = [rec("big", [chain(2, 1), chain(6, 4), chain(9, 8)]), rec("x", [chain(3, 1)]), rec("y", [chain(7, 5)])]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "o" / "s.jsonl"
    res = run_select(cfg(inp, out, strategy="rv-cd-mix", hygiene=NO_HYGIENE))
    got = read(out)
    assert sorted(len(r["reasoning"]) for r in got) == [1, 1, 1]
    assert res.report["strategy_report"]["dropped"]["question_already_chosen"] == 2


# --- student-fit ---------------------------------------------------------------------------


def test_size_bands_grow_and_unknown_sizes():
    bands = [cd_band(StudentFitParams(student_size=s)) for s in ["0.6B", "1.7B", "4B", "8B", "14B", "32B"]]
    assert bands == sorted(bands) and bands[0] == (1.0, 3.0) and bands[-1] == (6.0, 8.0)
    lo, hi = cd_band(StudentFitParams(student_size="6B"))  # between 4B and 8B in log size
    assert 3 < lo < 4 and 5 < hi < 6
    with pytest.raises(ConfigError, match="outside the size table"):
        cd_band(StudentFitParams(student_size="100B"))
    with pytest.raises(ConfigError, match="no CD band for a 6B student"):
        cd_band(StudentFitParams(student_size="6B", size_policy="exact"))
    with pytest.raises(ConfigError, match="student_size"):
        cd_band(StudentFitParams(student_size="large"))
    assert cd_band(StudentFitParams(student_size="600M")) == (1.0, 3.0)


def test_unknown_size_fails_before_reading(tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [rec("a", [chain(3, 3)])])
    with pytest.raises(ConfigError, match="100B"):
        run_select(cfg(inp, tmp_path / "o" / "s.jsonl", student_fit={"student_size": "100B"}))


def test_student_fit_cd_follows_size_and_rv_follows_difficulty(tmp_path):
    # easy question (meta difficulty 0) and hard (1); chains spanning CD and RV
    grid = [chain(rv, cd, teacher=f"t{rv}{cd}") for rv in (2, 5, 8) for cd in (2, 5, 8)]
    rows = [rec("easy", grid, meta={"difficulty": 0.0}), rec("hard", grid, meta={"difficulty": 1.0})]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    picks = {}
    for size in ("0.6B", "32B"):
        out = tmp_path / size / "s.jsonl"
        run_select(cfg(inp, out, strategy="student-fit", hygiene=NO_HYGIENE,
                       student_fit={"student_size": size, "difficulty": "meta"}))
        picks[size] = {r["id"]: (r["reasoning"][0]["Reasoning_Verbosity"]["level"],
                                 r["reasoning"][0]["Cognitive_Difficulty"]["level"]) for r in read(out)}
    assert picks["0.6B"] == {"easy": (2, 2), "hard": (8, 2)}
    assert picks["32B"] == {"easy": (2, 8), "hard": (8, 8)}


def test_student_fit_ties_prefer_teacher_order(tmp_path):
    rows = [rec("q", [chain(5, 4, teacher="qwq"), chain(5, 4, teacher="r1"), chain(5, 4, teacher="r1-0528")])]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    for order, want in ((["r1-0528", "r1"], "r1-0528"), (["r1", "qwq"], "r1")):
        out = tmp_path / want / "s.jsonl"
        run_select(cfg(inp, out, strategy="student-fit", hygiene=NO_HYGIENE,
                       student_fit={"teacher_order": order}))
        assert read(out)[0]["reasoning"][0]["teacher"] == want
    # without an order the seeded tie-break decides, the same way every time
    got = set()
    for run in range(2):
        out = tmp_path / f"noorder{run}" / "s.jsonl"
        run_select(cfg(inp, out, strategy="student-fit", hygiene=NO_HYGIENE, seed=3))
        got.add(read(out)[0]["reasoning"][0]["teacher"])
    assert len(got) == 1


def test_student_fit_difficulty_sources(tmp_path, multi_chain_file):
    for source in ("mean_cd", "pass_rate", "meta"):
        res = run_select(cfg(multi_chain_file, tmp_path / source / "s.jsonl", strategy="student-fit",
                             hygiene=NO_HYGIENE, student_fit={"difficulty": source, "difficulty_range": [1, 5]}))
        assert res.report["strategy_report"]["difficulty_source"][source] == 100
        assert res.chains_out > 80


def test_threshold_reference_rule(tmp_path):
    rows = [rec("a", [chain(3, 4), chain(5, 4), chain(6, 4), chain(4, 3), chain(4, 4, ok=False), chain(4, 4, ok=None)])]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "o" / "s.jsonl"
    res = run_select(cfg(inp, out, strategy="threshold", hygiene=NO_HYGIENE))
    got = [(c["Reasoning_Verbosity"]["level"], c["Cognitive_Difficulty"]["level"]) for c in read(out)[0]["reasoning"]]
    assert got == [(3, 4), (5, 4)]
    assert res.report["strategy_report"]["dropped"] == {
        "not_correct": 1, "correctness_unknown": 1, "rv_out_of_range": 1, "cd_out_of_range": 1}
