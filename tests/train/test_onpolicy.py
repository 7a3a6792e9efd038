"""On-policy KD pieces: parsing of vLLM prompt_logprobs responses, the config, and the input
errors raised before training starts (prompt budget, teacher tokenizer)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from thoughtdistill.api.config import EndpointConfig
from thoughtdistill.api.scoring import TeacherScoringError, parse_prompt_logprobs, scoring_body
from thoughtdistill.errors import ConfigError
from thoughtdistill.train import KDSettings, TrainConfig, run_train
from thoughtdistill.train.onpolicy import check_prompt_budget, generation_kwargs
from thoughtdistill.train.onpolicy_config import OnPolicySettings

from .conftest import multi_chain_records, write_jsonl
from .test_onpolicy_learning import threads_for_the_load  # noqa: F401  (fixture)


def _entry(pairs):
    """One position of vLLM's prompt_logprobs as it reaches JSON: {"<id>": {logprob, rank, decoded_token}}."""
    return {str(tid): {"logprob": lp, "rank": rank, "decoded_token": f"t{tid}"} for tid, lp, rank in pairs}


# Recorded in the layout of vLLM's CompletionResponseChoice.prompt_logprobs
# (vllm/entrypoints/openai/completion/protocol.py; Logprob in vllm/logprobs.py): position 0 is
# None, each later position holds the top-k (ranks 1..k) plus the actual token when it falls
# outside them, in no rank order; -inf goes out as -9999.0. Sequence [5, 7, 9, 11], k=2.
RECORDED = {
    "id": "cmpl-1", "object": "text_completion", "model": "teacher",
    "choices": [{
        "index": 0, "text": " a", "logprobs": None, "finish_reason": "length", "stop_reason": None,
        "prompt_token_ids": None,
        "prompt_logprobs": [
            None,
            _entry([(3, -1.5, 2), (7, -0.4, 1)]),                   # actual 7 is rank 1
            _entry([(9, -6.0, 14), (2, -0.2, 1), (4, -2.1, 2)]),     # actual 9 outside the top-2
            _entry([(11, -9999.0, 3), (1, -0.01, 1), (6, float("nan"), 2)]),
        ],
    }],
    "usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5},
}
SEQUENCE = [5, 7, 9, 11]


def test_recorded_vllm_response_parses_in_rank_order():
    choice = json.loads(json.dumps(RECORDED))["choices"][0]  # through JSON, as it arrives
    scores = parse_prompt_logprobs(choice, SEQUENCE, start=1, k=2)
    assert scores.ids.tolist() == [[7, 3], [2, 4], [1, 6]]
    np.testing.assert_allclose(scores.logprobs[:2], [[-0.4, -1.5], [-0.2, -2.1]], rtol=1e-6)
    assert scores.logprobs[2, 0] == pytest.approx(-0.01) and scores.logprobs[2, 1] == -9999.0  # NaN: finite floor
    assert scores.decoded == ["t7", "t9", "t11"]
    later = parse_prompt_logprobs(choice, SEQUENCE, start=3, k=2)  # completion starts at token 3
    assert later.ids.tolist() == [[1, 6]]


@pytest.mark.parametrize("choice, message", [
    ({"index": 0, "text": " a"}, "returned no prompt_logprobs"),
    ({"index": 0, "text": " a", "prompt_logprobs": None}, "returned no prompt_logprobs"),
    ({"index": 0, "prompt_logprobs": RECORDED["choices"][0]["prompt_logprobs"][:3]}, "3 positions of a 4-token"),
    ({"index": 0, "prompt_logprobs": [None, _entry([(7, -0.1, 1), (3, -2, 2)]), _entry([(2, -0.1, 1), (4, -2, 2)]),
                                      _entry([(11, -0.1, 1), (1, -2, 2)])]}, "no log-prob for the token there"),
])
def test_unusable_responses_are_one_clear_error(choice, message):
    with pytest.raises(TeacherScoringError, match=message):
        parse_prompt_logprobs(choice, SEQUENCE, start=1, k=2)


def test_fewer_candidates_than_k_names_the_server_cap():
    with pytest.raises(TeacherScoringError, match="--max-logprobs"):
        parse_prompt_logprobs(RECORDED["choices"][0], SEQUENCE, start=1, k=3)


def test_request_sends_token_ids_and_prompt_logprobs():
    ep = EndpointConfig(name="t", base_url="http://127.0.0.1:1/v1", model="Qwen/Qwen3-32B",
                        extra_body={"priority": 0})
    body = scoring_body(ep, np.array([1, 2, 3]), 20)
    assert body == {"model": "Qwen/Qwen3-32B", "prompt": [1, 2, 3], "max_tokens": 1, "temperature": 1.0,
                    "prompt_logprobs": 20, "priority": 0}
    assert all(type(x) is int for x in body["prompt"])  # JSON-serialisable ids, not numpy ints


def test_generation_follows_thinking_mode_sampling():
    kw = generation_kwargs(OnPolicySettings(sampling={"max_new_tokens": 64}), {2}, 2)
    assert (kw["temperature"], kw["top_p"], kw["top_k"], kw["max_new_tokens"], kw["do_sample"]) == (0.6, 0.95, 20, 64, True)
    greedy = generation_kwargs(OnPolicySettings(sampling={"temperature": 0}), {2}, 2)
    assert greedy["do_sample"] is False and "temperature" not in greedy


def test_config_needs_a_teacher_and_keeps_easydistill_modes(tmp_path):
    with pytest.raises(ValueError, match="on_policy' needs kd.teacher"):
        TrainConfig(data="x", student="y", output_dir="z", kd=KDSettings(mode="on_policy"))
    served = TrainConfig(data="x", student="y", output_dir="z", kd={
        "mode": "on_policy", "loss": "reverse_kl",
        "on_policy": {"teacher_endpoint": {"name": "t", "base_url": "http://h:8000/v1", "model": "m"}}})
    assert served.kd.on_policy.teacher_endpoint.model == "m" and served.kd.on_policy.sft_mix == 0
    assert KDSettings(teacher="t").on_policy is None  # white-box configs are unchanged


def test_prompt_budget_error_names_the_sample():
    from datasets import Dataset

    ds = Dataset.from_dict({"sample_id": ["a#0", "b#0"], "input_ids": [[1] * 10, [1] * 50],
                            "labels": [[-100] * 6 + [1] * 4, [-100] * 40 + [1] * 10]})
    check_prompt_budget(ds, max_length=64, max_new_tokens=24)  # both prompts leave 24 tokens
    with pytest.raises(ConfigError, match=r"1 prompt\(s\).*max_new_tokens=32 within max_length=64.*b#0 \(prompt 40"):
        check_prompt_budget(ds, max_length=64, max_new_tokens=32)


def _data(tmp_path, data_dir):
    rows = [r for r in multi_chain_records(data_dir, per_question=1) if len(r["question"]) < 200][:4]
    return str(write_jsonl(tmp_path / "d.jsonl", rows))


def test_prompt_longer_than_the_budget_stops_before_training(tmp_path, data_dir, tiny_qwen3_path):
    cfg = TrainConfig(data=_data(tmp_path, data_dir), student=str(tiny_qwen3_path), output_dir=str(tmp_path / "o"),
                      max_length=256, overlength="truncate_thought", max_steps=1,
                      kd=KDSettings(mode="on_policy", teacher=str(tiny_qwen3_path),
                                    on_policy=OnPolicySettings(sampling={"max_new_tokens": 240})))
    with pytest.raises(ConfigError, match="do not leave room for kd.on_policy.sampling.max_new_tokens=240"):
        run_train(cfg)
    assert not (tmp_path / "o" / "trainer_log.json").exists() and not (tmp_path / "o" / "model").exists()


def test_teacher_with_another_tokenizer_stops_before_training(tmp_path, data_dir, smollm2_path, tiny_qwen3_path):
    cfg = TrainConfig(data=_data(tmp_path, data_dir), student=str(smollm2_path), output_dir=str(tmp_path / "o"),
                      max_length=256, overlength="truncate_thought", max_steps=1,
                      kd=KDSettings(mode="on_policy", teacher=str(tiny_qwen3_path)))
    with pytest.raises(ConfigError, match="share a tokenizer") as err:
        run_train(cfg)
    assert str(smollm2_path) in str(err.value) and str(tiny_qwen3_path) in str(err.value)
    assert "'<think>'" in str(err.value)  # what differs is shown
    assert not (tmp_path / "o" / "data").exists()  # stopped before tokenising the data



@pytest.mark.slow
@pytest.mark.usefixtures("threads_for_the_load")
def test_on_policy_loss_is_normalised_once_over_the_steps_tokens(tmp_path, data_dir, tiny_qwen3_path):
    """Two micro-batches of unequal generated lengths in one step, padded batching, CE mixed in:
    the step's loss must equal (1-m) * KD sum / generated tokens + m * CE sum / chain tokens
    (a per-micro-batch mean, averaged, would differ). Teacher: tiny-qwen3 with perturbed weights."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    teacher = AutoModelForCausalLM.from_pretrained(tiny_qwen3_path)
    torch.manual_seed(1)
    with torch.no_grad():
        for param in teacher.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    teacher.save_pretrained(tmp_path / "teacher")
    AutoTokenizer.from_pretrained(tiny_qwen3_path).save_pretrained(tmp_path / "teacher")
    cfg = TrainConfig(data=_data(tmp_path, data_dir), student=str(tiny_qwen3_path), output_dir=str(tmp_path / "o"),
                      max_length=256, overlength="truncate_thought", max_steps=1, per_device_batch_size=2,
                      gradient_accumulation_steps=2, batching="padded", learning_rate=1e-4, warmup_ratio=0.0,
                      seed=0, save_checkpoints=False,
                      kd=KDSettings(mode="on_policy", teacher=str(tmp_path / "teacher"), top_k=8, loss="jsd",
                                    on_policy=OnPolicySettings(sampling={"max_new_tokens": 24, "temperature": 1.0},
                                                               sft_mix=0.3)))
    result = run_train(cfg)
    (step,) = json.loads(result.log_path.read_text())
    assert 4 <= step["generated_tokens"] <= 4 * 24 and step["kd_loss"] > 1e-4
    assert step["loss"] == pytest.approx(0.7 * step["kd_loss"] + 0.3 * step["ce_loss"], rel=1e-4)
    assert step["generate_s"] > 0 and step["teacher_s"] > 0 and step["update_s"] > 0


@pytest.mark.slow
def test_on_policy_two_processes_gloo(tmp_path, data_dir, tiny_qwen3_path):
    """2-process DDP on CPU (the shipped multi-GPU accelerate config over gloo): the step's
    generated-token and chain-token counts are summed over processes before the loss."""
    import os
    import subprocess
    import sys

    import yaml

    from thoughtdistill.models import ensure_model

    out = tmp_path / "ddp"
    recipe = tmp_path / "ddp.yaml"
    recipe.write_text(yaml.safe_dump({"train": {
        "data": _data(tmp_path, data_dir), "student": "tiny-qwen3", "output_dir": str(out), "max_length": 256,
        "overlength": "truncate_thought", "max_steps": 1, "per_device_batch_size": 2, "save_checkpoints": False,
        "kd": {"mode": "on_policy", "teacher": str(ensure_model("tiny-qwen3")), "top_k": 8, "loss": "reverse_kl",
               "on_policy": {"sampling": {"max_new_tokens": 12}, "sft_mix": 0.5}}}}))
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                           str(root / "configs/accelerate/multi_gpu.yaml"), "--num_processes", "2",
                           "--mixed_precision", "no", "-m", "thoughtdistill", "train", "-c", str(recipe)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "train_result.json").read_text())
    assert (result["world_size"], result["distributed_type"], result["steps"]) == (2, "MULTI_CPU", 1)
    (step,) = json.loads((out / "trainer_log.json").read_text())
    # the teacher is the student itself here, so KD is 0; logged figures are the main process's
    assert step["kd_loss"] == pytest.approx(0, abs=1e-5) and step["ce_loss"] > 0 and step["generated_tokens"] > 0
