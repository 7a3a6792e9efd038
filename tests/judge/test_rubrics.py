"""The easydistill rubric preset reads EasyDistill's judge prompts from the user's EasyDistill copy.

``data/easydistill`` stands for that copy: a ``configs/prompts/default_cot_eval_prompts.yaml`` in the
layout EasyDistill publishes (github.com/modelscope/easydistill at aeb8ca3e, see data/SOURCES.md),
with prompt text of our own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared_data import shared_data_dir
from thoughtdistill.errors import ConfigError
from thoughtdistill.judge import load_rubric
from thoughtdistill.pipeline.easydistill import easydistill_recipe

SRC = Path(__file__).resolve().parents[2] / "src" / "thoughtdistill"
EASYDISTILL_COPY = Path(__file__).parent / "data" / "easydistill"
PROMPTS_FILE = EASYDISTILL_COPY / "configs" / "prompts" / "default_cot_eval_prompts.yaml"
@pytest.mark.parametrize("path", [EASYDISTILL_COPY, PROMPTS_FILE], ids=["folder", "file"])
def test_preset_reads_the_users_copy(path, tmp_path):
    rubric = load_rubric("easydistill", path)
    # judged records carry "easydistill:<fingerprint>" and the judge's cache keys include it:
    # the folder and the file give the same one, and other text gives another
    assert rubric.name == "easydistill" and rubric.fingerprint == load_rubric("easydistill", PROMPTS_FILE).fingerprint
    edited = tmp_path / "default_cot_eval_prompts.yaml"
    edited.write_text(PROMPTS_FILE.read_text().replace("0 (elementary)", "0 (trivial)"))
    assert load_rubric("easydistill", edited).fingerprint != rubric.fingerprint
    text = rubric.render("Cognitive_Difficulty", "What is 2+2?", "<think>2+2=4</think> 4")
    assert text.startswith("Test judge prompt (Cognitive Difficulty).")
    assert text.endswith("Problem: What is 2+2?\nAnswer with Chain-of-Thought: <think>2+2=4</think> 4\n")
    assert "{instruction}" not in text and "{output}" not in text


def test_a_file_in_easydistill_layout_is_read_as_easydistill_prompts(tmp_path):
    path = tmp_path / "my_prompts.yaml"
    path.write_text("reasoning_verbosity: 'RV of {output} for {instruction}'\n"
                    "cognitive_difficulty: 'CD of {output}'\nlogical_correctness: 'LC of {output} {question}'\n")
    for preset in ("easydistill", "thoughtdistill"):
        rubric = load_rubric(preset, path)
        assert rubric.name == "easydistill"
        assert rubric.render("Reasoning_Verbosity", "Q", "C") == "RV of C for Q"
        assert rubric.render("correctness", "Q", "C") == "LC of C Q"


def test_preset_without_a_copy_says_what_to_point_at(tmp_path):
    with pytest.raises(ConfigError, match=r"set rubric_file \(--rubric-file\) to your EasyDistill folder or its "
                                          r"configs/prompts/default_cot_eval_prompts.yaml"):
        load_rubric("easydistill")
    with pytest.raises(ConfigError, match=rf"{tmp_path}: no configs/prompts/default_cot_eval_prompts.yaml in this"):
        load_rubric("easydistill", tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        load_rubric("easydistill", tmp_path / "missing.yaml")
    ours = tmp_path / "ours.yaml"
    ours.write_text("Reasoning_Verbosity: 'Rate {chain}'\n")
    with pytest.raises(ConfigError, match="not EasyDistill's CoT judge prompts"):
        load_rubric("easydistill", ours)
    partial = tmp_path / "partial.yaml"
    partial.write_text("reasoning_verbosity: 'RV {output}'\ncognitive_difficulty: 'CD without the chain'\n"
                       "logical_correctness: 'LC {output}'\n")
    with pytest.raises(ConfigError, match=r"field 'cognitive_difficulty': must be a template with a \{output\}"):
        load_rubric("easydistill", partial)


def test_default_rubric_is_ours():
    rubric = load_rubric()
    assert rubric.name == "thoughtdistill"
    assert rubric.fingerprint != load_rubric("easydistill", EASYDISTILL_COPY).fingerprint


def test_source_carries_no_easydistill_judge_prose():
    phrases = ("rigorous logical validator", "Reasoning Verbosity Evaluation Focus",
               "Cognitive Difficulty Evaluation Focus")
    for path in SRC.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".yaml", ".yml", ".json", ".md", ".txt"):
            text = path.read_text(encoding="utf-8", errors="ignore")
            assert not any(p in text for p in phrases), path


def _cot_eval_config(tmp_path: Path, **extra) -> Path:
    config = json.loads((shared_data_dir().parent / "easydistill-configs" / "cot_eval_api.json").read_text())
    config.update(extra)
    path = tmp_path / "cot_eval_api.json"
    path.write_text(json.dumps(config))
    return path


def test_cot_eval_job_points_the_preset_at_the_configs_prompts(tmp_path):
    recipe, warnings = easydistill_recipe(_cot_eval_config(tmp_path, eval={"prompts_file": str(PROMPTS_FILE)}),
                                          dry_run=True)
    judge = next(s for s in recipe.stages if s.name == "judge")
    assert judge.config["rubric"] == "easydistill" and judge.config["rubric_file"] == str(PROMPTS_FILE)
    assert not any("eval" in w for w in warnings), warnings
    recipe, warnings = easydistill_recipe(_cot_eval_config(tmp_path), dry_run=True)
    judge = next(s for s in recipe.stages if s.name == "judge")
    assert judge.config["rubric"] == "thoughtdistill" and "rubric_file" not in judge.config
    assert any("no eval.prompts_file" in w for w in warnings), warnings


@pytest.mark.slow
def test_cot_eval_job_judges_with_the_users_easydistill_prompts(tmp_path, echo_server, data_dir):
    """End to end on a real llm-katan echo server: the judgments record EasyDistill's rubric."""
    from thoughtdistill.pipeline.easydistill import run_easydistill

    rows = [json.loads(x) for x in (data_dir / "gsm8k_test.jsonl").read_text().splitlines()[:2]]
    questions = tmp_path / "labeled.json"
    questions.write_text(json.dumps([{"instruction": r["question"], "output": r["answer"]} for r in rows]))
    config = _cot_eval_config(
        tmp_path, eval={"prompts_file": str(EASYDISTILL_COPY)},
        dataset={"input_path": str(questions), "output_path": str(tmp_path / "scored.json")},
        inference={"base_url": echo_server.base_url, "api_key": "env:TD_TEST_RUBRIC_KEY", "max_new_tokens": 16})
    import os

    os.environ["TD_TEST_RUBRIC_KEY"] = "local"
    try:
        run_easydistill(config, tmp_path / "run", log=lambda m: None)
    finally:
        del os.environ["TD_TEST_RUBRIC_KEY"]
    annotated = next((tmp_path / "run").rglob("annotated.jsonl"))
    rubrics = {j["rubric"] for line in annotated.read_text().splitlines()
               for chain in json.loads(line)["reasoning"] for j in chain.get("judgments") or []}
    assert rubrics == {f"easydistill:{load_rubric('easydistill', EASYDISTILL_COPY).fingerprint}"}
