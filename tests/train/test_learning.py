"""Honest learning tests with the real SmolLM2-135M-Instruct fixture on real chains.

CPU budget: thoughts are cut to fit max_length with ``overlength='truncate_thought'`` (the
closing tag, answer and EOS are always kept), so every example is short; the format to learn
(open the think block, reason, close it, answer, stop) is the same as with full chains.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from thoughtdistill.train import KDSettings, TrainConfig, run_train

from .conftest import multi_chain_records, write_jsonl

FORMAT = re.compile(r"^<think>\n.+?\n</think>\n\n(.*\S.*)$", re.S)


def _split(data_dir, n_train, n_test):
    rows = multi_chain_records(data_dir, per_question=1)
    rows = [r for r in rows if len(r["question"]) < 220]  # short prompts: CPU budget
    return rows[:n_train], rows[n_train:n_train + n_test]


def _generate(model_dir: Path, questions: list[str], max_new_tokens: int,
              sample: bool = False) -> list[tuple[str, bool]]:
    """Greedy, or Qwen3's recommended thinking-mode sampling (what ``thoughtdistill infer``
    uses by default with thinking on: temperature 0.6, top-p 0.95, top-k 20), seed 0."""
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tok.padding_side = "left"
    prompts = [tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
               for q in questions]
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        torch.manual_seed(0)
        sampling = dict(do_sample=True, temperature=0.6, top_p=0.95, top_k=20) if sample else dict(do_sample=False)
        out = model.generate(**enc, max_new_tokens=max_new_tokens, **sampling)
    eos = set(model.generation_config.eos_token_id if isinstance(model.generation_config.eos_token_id, list)
              else [model.generation_config.eos_token_id])
    results = []
    for row in out[:, enc["input_ids"].shape[1]:].tolist():
        stopped = any(t in eos for t in row)
        if stopped:
            row = row[: min(i for i, t in enumerate(row) if t in eos)]
        results.append((tok.decode(row), stopped))
    return results


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_smollm2_learns_the_thinking_format(data_dir, tmp_path, smollm2_path):
    train, test = _split(data_dir, n_train=48, n_test=10)
    data = write_jsonl(tmp_path / "train.jsonl", train)
    before = _generate(smollm2_path, [r["question"] for r in test[:3]], 24)
    assert not any(text.startswith("<think>") for text, _ in before)  # not already the format
    r = run_train(TrainConfig(
        data=str(data), student=str(smollm2_path), output_dir=str(tmp_path / "run"), max_length=160,
        overlength="truncate_thought", epochs=3, per_device_batch_size=8, gradient_accumulation_steps=1,
        learning_rate=3e-4, warmup_ratio=0.0, batching="padding_free", seed=0, save_checkpoints=False))
    assert r.examples == 48 and r.truncated_thought > 0
    log = json.loads(r.log_path.read_text())
    assert log[-1]["loss"] < 0.8 * log[0]["loss"], log
    # 10 held-out questions, generated the way `thoughtdistill infer` does in thinking mode.
    # A generation counts only if it opens and closes the think block, answers after it and
    # stops (EOS) within the budget. Measured (docs/train.md): 10/10 with this sampling;
    # greedy decoding gives 9/10 at 320 tokens and 8/10 at 160 (repetition loops).
    outs = _generate(r.model_dir, [t["question"] for t in test], 320, sample=True)
    ok = [bool(FORMAT.match(text)) and stopped for text, stopped in outs]
    (tmp_path / "generations.json").write_text(json.dumps(outs, indent=1))
    assert sum(ok) >= 9, f"{sum(ok)}/10 in format (target of the issue: >= 90%): {outs}"


def _student_from_teacher(teacher_dir: Path, out: Path, layers: int = 2) -> Path:
    """A small student sharing the teacher's tokenizer: SmolLM2 cut to its first layers."""
    model = AutoModelForCausalLM.from_pretrained(teacher_dir)
    model.model.layers = model.model.layers[:layers]
    model.config.num_hidden_layers = layers
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(teacher_dir).save_pretrained(out)
    return out


def _kl_to_teacher(student_dir: Path, teacher, rows: list[dict]) -> float:
    student = AutoModelForCausalLM.from_pretrained(student_dir).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for row in rows:
            ids = torch.tensor([row["input_ids"]])
            mask = torch.tensor(row["labels"])[1:] != -100
            t = torch.log_softmax(teacher(input_ids=ids).logits[0, :-1][mask], -1)
            s = torch.log_softmax(student(input_ids=ids).logits[0, :-1][mask], -1)
            total += float((t.exp() * (t - s)).sum())
            count += int(mask.sum())
    return total / count


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_white_box_kd_gets_closer_to_teacher_than_sft(data_dir, tmp_path, smollm2_path):
    from datasets import Dataset

    train, test = _split(data_dir, n_train=12, n_test=6)
    student = _student_from_teacher(smollm2_path, tmp_path / "student")
    common = dict(student=str(student), max_length=112, overlength="truncate_thought", epochs=2,
                  per_device_batch_size=4, gradient_accumulation_steps=1, learning_rate=5e-4, seed=0,
                  save_checkpoints=False)
    sft = run_train(TrainConfig(data=str(write_jsonl(tmp_path / "train.jsonl", train)),
                                output_dir=str(tmp_path / "sft"), **common))
    kd = run_train(TrainConfig(data=str(tmp_path / "train.jsonl"), output_dir=str(tmp_path / "kd"),
                               kd=KDSettings(teacher=str(smollm2_path), top_k=20, loss="forward_kl", alpha=0.9),
                               **common))
    # held-out samples rendered exactly as in training
    from thoughtdistill.train.render import resolve_template
    from thoughtdistill.train.run import prepare_data as held  # the same tokenisation path

    tok = AutoTokenizer.from_pretrained(student)
    template = resolve_template(tok)
    tok.chat_template = template.template
    cfg = TrainConfig(data=str(write_jsonl(tmp_path / "test.jsonl", test)), student=str(student),
                      output_dir=str(tmp_path / "heldout"), max_length=112, overlength="truncate_thought")
    arrow, _ = held(cfg, tok, template, Path(cfg.output_dir))
    rows = list(Dataset.from_file(str(arrow)))
    teacher = AutoModelForCausalLM.from_pretrained(smollm2_path).eval()
    kl_start = _kl_to_teacher(student, teacher, rows)
    kl_sft = _kl_to_teacher(sft.model_dir, teacher, rows)
    kl_kd = _kl_to_teacher(kd.model_dir, teacher, rows)
    (tmp_path / "kl.json").write_text(json.dumps({"start": kl_start, "sft": kl_sft, "kd": kl_kd}))
    print(f"held-out KL(teacher||student): start {kl_start:.3f}, SFT {kl_sft:.3f}, KD {kl_kd:.3f}")
    assert kl_kd < kl_sft < kl_start or kl_kd < min(kl_sft, kl_start)
