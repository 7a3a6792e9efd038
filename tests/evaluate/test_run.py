"""infer + eval with a real (tiny, random-weight) Qwen3 model through the transformers
backend: streamed JSONL, resume, run JSON, compare; bad input errors. Fast: a few tokens."""

from __future__ import annotations

import json
import shutil

import pytest

from thoughtdistill.errors import ConfigError, ThoughtDistillError
from thoughtdistill.evaluate import EvalConfig, InferConfig, compare_runs, run_eval, run_infer
from thoughtdistill.evaluate.backends import Sampling, TransformersBackend
from thoughtdistill.evaluate.compare import load_reference, reference_rows

RUN_KEYS = {"schema", "run_name", "created_at", "label", "model", "backend", "benchmark", "enable_thinking",
            "sampling", "n", "seed", "prompt", "versions", "scoring", "metrics", "infer", "files"}
METRIC_KEYS = {"accuracy", "ci_level", "ci_method", "n_problems", "n_samples_per_problem", "n_samples",
               "mean_completion_tokens", "mean_thinking_tokens", "mean_answer_tokens", "truncation_rate",
               "error_rate", "accuracy_per_1k_tokens", "pass@1", "accuracy_ci", "format_adherence", "heldout_nll"}


def _infer_cfg(model, out, **kw):
    base = dict(model=str(model), benchmark="gsm8k", limit=3, n=2, batch_size=4,
                sampling=Sampling(max_new_tokens=6), output=str(out))
    base.update(kw)
    return InferConfig(**base)


def test_infer_streams_and_resumes(tiny_qwen3_path, tmp_path):
    out = tmp_path / "gen.jsonl"
    res = run_infer(_infer_cfg(tiny_qwen3_path, out))
    assert (res.generated, res.skipped, res.total) == (6, 0, 6)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["id"], r["sample"]) for r in rows) == sorted(
        (f"gsm8k-test-{i}", s) for i in range(3) for s in range(2))
    r = rows[0]
    assert r["completion_tokens"] <= 6 and r["finish_reason"] in ("stop", "length")
    assert r["messages"][0]["content"].endswith("within \\boxed{}.")
    meta = json.loads(res.meta_path.read_text())
    assert meta["settings"]["sampling"] == {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "min_p": None,
                                            "max_new_tokens": 6}
    assert "<|im_start|>assistant" in meta["example_prompt"]
    # thinking on: nothing forced; thinking off: the template closes an empty thought
    assert "<think>\n\n</think>" not in meta["example_prompt"]

    # crash simulation: drop two lines and tear the last one; a re-run redoes exactly those
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:3]) + lines[3][:10])
    again = run_infer(_infer_cfg(tiny_qwen3_path, out))
    assert (again.generated, again.skipped) == (3, 3)
    assert len(out.read_text().splitlines()) == 6
    assert run_infer(_infer_cfg(tiny_qwen3_path, out)).generated == 0
    # other settings on the same file are refused
    with pytest.raises(ConfigError, match="different settings"):
        run_infer(_infer_cfg(tiny_qwen3_path, out, seed=5))


def test_model_changed_in_place_is_generated_again(tiny_qwen3_path, tmp_path, capsys):
    """A student retrained into the same folder must not be scored on its predecessor's text."""
    model = tmp_path / "student" / "model"
    shutil.copytree(tiny_qwen3_path, model)
    out = tmp_path / "gen.jsonl"
    assert run_infer(_infer_cfg(model, out, limit=1, n=1)).generated == 1
    assert run_infer(_infer_cfg(model, out, limit=1, n=1)).generated == 0  # unchanged: resumed
    weights = next(model.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes())  # "retrained": same path, new file
    again = run_infer(_infer_cfg(model, out, limit=1, n=1))
    assert again.generated == 1 and again.skipped == 0
    assert "changed since" in capsys.readouterr().err
    assert (tmp_path / "gen.jsonl.stale").exists()  # the old generations are kept aside


def test_thinking_off_uses_the_template_switch(tiny_qwen3_path, tmp_path):
    res = run_infer(_infer_cfg(tiny_qwen3_path, tmp_path / "g.jsonl", enable_thinking=False, limit=1, n=1))
    meta = json.loads(res.meta_path.read_text())
    assert "<think>\n\n</think>" in meta["example_prompt"]
    assert meta["settings"]["sampling"]["top_p"] == 0.8  # Qwen3 non-thinking defaults


def test_eval_writes_complete_run_files_and_compare(tiny_qwen3_path, tmp_path):
    cfg = EvalConfig(model=str(tiny_qwen3_path), benchmark="math500", slice="5:8", n=2, batch_size=6,
                     sampling=Sampling(max_new_tokens=5), out_dir=str(tmp_path / "ev"), pass_k=[1, 2],
                     label="tiny")
    res = run_eval(cfg)
    run = json.loads(res.run_json.read_text())
    assert RUN_KEYS <= set(run)
    assert METRIC_KEYS | {"avg@2", "pass@2", "maj@2"} <= set(run["metrics"])
    assert run["benchmark"]["n_items"] == 3 and run["benchmark"]["slice"] == "5:8"
    assert run["versions"]["torch"] and run["versions"]["transformers"] and run["versions"]["python"]
    assert run["backend"]["chat_template_sha256"]
    samples = [json.loads(line) for line in res.samples.read_text().splitlines()]
    assert len(samples) == 6 and {"correct", "pred", "gold", "scored_by", "thinking_tokens"} <= set(samples[0])
    assert run["metrics"]["truncation_rate"] == pytest.approx(
        sum(s["truncated"] for s in samples) / 6)
    ci = run["metrics"]["accuracy_ci"]
    assert (ci["low"], ci["high"]) == (run["metrics"]["avg@2"]["ci_low"], run["metrics"]["avg@2"]["ci_high"])
    assert run["metrics"]["format_adherence"] == 0.0  # 5 random tokens close no thought
    assert run["metrics"]["heldout_nll"] is None  # not asked for
    # scoring an existing infer output again gives the same metrics
    again = run_eval(EvalConfig(from_infer=run["files"]["infer"], out_dir=str(tmp_path / "re"), pass_k=[1, 2]))
    assert again.metrics["accuracy"] == res.metrics["accuracy"]

    run_dir_jsons = sorted((tmp_path / "ev").glob("*.json"))  # what `eval compare ev/*.json` gets
    assert any(p.name.endswith(".meta.json") for p in run_dir_jsons)  # infer's sidecar is among them
    md = compare_runs(run_dir_jsons, reference=["ThoughtY"], html_out=tmp_path / "c.html",
                      markdown_out=tmp_path / "c.md")
    assert "tiny (think)" in md and "DistilQwen-ThoughtY-4B (published)" in md and "95.2" in md
    page = (tmp_path / "c.html").read_text()
    assert "data:image/png;base64," in page and "<table>" in page


def test_reference_rows_have_a_source_and_the_issue_figures():
    ref = load_reference()
    assert "easydistill" in ref["source"] and ref["url"].startswith("https://")
    y4 = next(r for r in ref["rows"] if r["model"] == "DistilQwen-ThoughtY-4B")
    assert y4["scores"] == {"aime24": 76.7, "math500": 95.2, "gpqa_diamond": 56.1, "livecodebench": 75.8}
    assert {r["family"] for r in reference_rows(["all"])} >= {"ThoughtY", "ThoughtX", "R1-Distill"}
    with pytest.raises(ThoughtDistillError, match="unknown reference"):
        reference_rows(["GPT-9"])


def test_model_folder_without_chat_template_is_a_clear_error(tiny_qwen3_path, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(tiny_qwen3_path, bare)
    (bare / "chat_template.jinja").unlink(missing_ok=True)
    cfg_path = bare / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("chat_template", None)
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="no chat template"):
        TransformersBackend(bare)


def test_bad_inputs(tmp_path, tiny_qwen3_path):
    with pytest.raises(ConfigError, match="known benchmarks"):
        run_infer(_infer_cfg(tiny_qwen3_path, tmp_path / "x.jsonl", benchmark="nope"))
    with pytest.raises(ConfigError, match="not found"):
        run_infer(_infer_cfg(tmp_path / "no-model", tmp_path / "x.jsonl"))
    with pytest.raises(ConfigError, match="model and benchmark"):
        run_eval(EvalConfig(out_dir=str(tmp_path)))
    with pytest.raises(ThoughtDistillError, match="not a thoughtdistill eval run"):
        (tmp_path / "r.json").write_text("{}")
        compare_runs([tmp_path / "r.json"])


def test_cli_infer_and_eval(tiny_qwen3_path, tmp_path):
    from typer.testing import CliRunner

    from thoughtdistill.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["eval", "-m", str(tiny_qwen3_path), "-b", "aime25", "--limit", "2",
                              "--max-new-tokens", "4", "--no-thinking", "-o", str(tmp_path / "ev")])
    assert res.exit_code == 0, res.output
    run_json = next((tmp_path / "ev").glob("*.json"))
    res = runner.invoke(app, ["eval", "compare", str(run_json), "-r", "R1-Distill"])
    assert res.exit_code == 0 and "DeepSeek-R1-Distill-Qwen-7B" in res.output
    res = runner.invoke(app, ["infer", "-m", str(tiny_qwen3_path), "-b", "gsm8k", "--limit", "1",
                              "--max-new-tokens", "3", "-o", str(tmp_path / "i.jsonl")])
    assert res.exit_code == 0 and "1 generated" in res.output


def test_backend_choice_errors(tmp_path, tiny_qwen3_path):
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        with pytest.raises(ThoughtDistillError, match=r"pip install 'thoughtdistill\[vllm\]'"):
            run_infer(_infer_cfg(tiny_qwen3_path, tmp_path / "v.jsonl", backend="vllm"))
    with pytest.raises(ConfigError, match="base_url"):
        run_infer(_infer_cfg("served-name", tmp_path / "o.jsonl", backend="openai"))


def test_template_that_opens_the_thought_gives_it_back(tiny_qwen3_path, tmp_path):
    # an R1-Distill-style template ends the prompt with '<think>\n'
    from thoughtdistill.evaluate.backends import opened_thought

    assert opened_thought("<|Assistant|><think>\n") == "<think>\n"
    assert opened_thought("<|im_start|>assistant\n") == ""
    folder = tmp_path / "r1ish"
    shutil.copytree(tiny_qwen3_path, folder)
    (folder / "chat_template.jinja").write_text(
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "<|im_start|>assistant\n<think>\n")
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    backend = TransformersBackend(folder, batch_size=2)
    out = backend.generate([[{"role": "user", "content": "hi"}]], Sampling(max_new_tokens=3))[0][0]
    assert out.text.startswith("<think>\n")


def test_train_run_folder_or_adapter_is_not_a_model(tiny_qwen3_path, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_qwen3_path, run / "model")
    with pytest.raises(ConfigError, match=r"a train run folder, not a model; did you mean .*run/model\?"):
        run_infer(_infer_cfg(run, tmp_path / "g.jsonl", limit=1, n=1))
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}")
    with pytest.raises(ConfigError, match="a LoRA adapter, not a whole model"):
        run_infer(_infer_cfg(tmp_path / "adapter", tmp_path / "g2.jsonl", limit=1, n=1))


def test_default_label_of_a_trained_student_is_its_run_folder():
    from thoughtdistill.evaluate.infer import default_label

    assert default_label("runs/s4b/model") == "s4b"
    assert default_label("/models/Qwen3-4B") == "Qwen3-4B"
    assert default_label("model") == "model"


def test_eval_in_the_training_template_with_heldout_nll(smollm2_path, tmp_path, data_dir):
    """chat_template: train renders prompts as training does (SmolLM2's own template is
    replaced by Qwen3's thinking template: no SmolLM2 system prompt), and heldout_chains adds
    the held-out NLL of real chains to the run JSON."""
    import hashlib

    from thoughtdistill.models import QWEN3_THINKING_TEMPLATE

    chains = tmp_path / "heldout.jsonl"
    rows = [json.loads(line) for line in (data_dir / "r1_traces.jsonl").read_text().splitlines()][:2]
    chains.write_text("".join(json.dumps({
        "id": r["id"], "question": r["problem"], "answer": r["gtruth_answer"],
        "reasoning": [{"teacher": r["teacher"], "thought": r["message_thinking"], "solution": r["message_content"]}]})
        + "\n" for r in rows))
    cfg = EvalConfig(model=str(smollm2_path), benchmark="gsm8k", limit=2, batch_size=2, chat_template="train",
                     sampling=Sampling(max_new_tokens=4), out_dir=str(tmp_path / "ev"), pass_k=[1],
                     heldout_chains=str(chains), heldout_max_length=512)
    run = json.loads(run_eval(cfg).run_json.read_text())
    assert run["backend"]["chat_template_sha256"] == hashlib.sha256(QWEN3_THINKING_TEMPLATE.encode()).hexdigest()
    prompt = run["prompt"]["example_prompt"]
    assert prompt.startswith("<|im_start|>user\n") and prompt.endswith("<|im_start|>assistant\n")
    nll = run["metrics"]["heldout_nll"]
    assert nll["chains"] == 2 and nll["dropped"] == 0 and nll["max_length"] == 512
    assert 0 < nll["tokens"] <= 2 * 512 and 0 < nll["per_token"] < 20
    # the model's own template: SmolLM2's system prompt is rendered
    own = run_infer(_infer_cfg(smollm2_path, tmp_path / "own.jsonl", limit=1, n=1))
    assert "SmolLM" in json.loads(own.meta_path.read_text())["example_prompt"]


def test_heldout_and_template_errors(tmp_path, tiny_qwen3_path):
    with pytest.raises(ConfigError, match="heldout_chains needs the model's weights"):
        run_eval(EvalConfig(model="served", backend="openai", base_url="http://127.0.0.1:9/v1", benchmark="gsm8k",
                            heldout_chains=str(tmp_path / "x.jsonl"), out_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match="heldout_chains: .*not found"):
        run_eval(EvalConfig(model=str(tiny_qwen3_path), benchmark="gsm8k", limit=1,
                            heldout_chains=str(tmp_path / "x.jsonl"), out_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match="chat_template: .*not found"):
        run_infer(_infer_cfg(tiny_qwen3_path, tmp_path / "t.jsonl", chat_template=str(tmp_path / "none.jinja")))
    with pytest.raises(ConfigError, match="chat_template applies to local models"):
        run_infer(_infer_cfg("served", tmp_path / "o.jsonl", backend="openai", base_url="http://127.0.0.1:9/v1",
                             chat_template="train"))
