"""The served-teacher path against real local HTTP servers: tests/train/prompt_logprobs_server.py
(scores token sequences with the real SmolLM2 in vLLM's prompt_logprobs layout; vLLM itself
needs a GPU, see bench/gpu_onpolicy_check.sh) and llm-katan (which has no such endpoint)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from thoughtdistill.api.config import EndpointConfig
from thoughtdistill.api.scoring import TeacherScoringError, score_sequences
from thoughtdistill.errors import ConfigError, ThoughtDistillError
from thoughtdistill.train import KDSettings, TrainConfig, run_train
from thoughtdistill.train.onpolicy_config import OnPolicySettings
from thoughtdistill.train.teacher import teacher_topk

from .conftest import multi_chain_records, write_jsonl
from .test_onpolicy_learning import threads_for_the_load, truncated_student  # noqa: F401  (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("threads_for_the_load")]


def _server_module():
    spec = importlib.util.spec_from_file_location("td_prompt_logprobs_server",
                                                  Path(__file__).parent / "prompt_logprobs_server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server(smollm2_path):
    """One scoring server (SmolLM2) for the module; each test picks its behaviour by headers."""
    server = _server_module().start_scoring_server(str(smollm2_path))
    yield server
    server.stop()


def _endpoint(server, test: str, behave: dict[str, str] | None = None, **settings) -> EndpointConfig:
    settings = {"concurrency": 2, "max_retries": 1, "backoff_base_s": 0.05, **settings}
    return EndpointConfig(name="teacher", base_url=server.base_url, model=server.model,
                          headers={"x-test": test, **(behave or {})}, **settings)


def _config(tmp_path, data_dir, student, endpoint, **over) -> TrainConfig:
    rows = [r for r in multi_chain_records(data_dir, per_question=1) if len(r["question"]) < 120][:4]
    return TrainConfig(
        data=str(write_jsonl(tmp_path / "d.jsonl", rows)), student=str(student), output_dir=str(tmp_path / "o"),
        max_length=96, overlength="truncate_thought", max_steps=1, per_device_batch_size=2,
        gradient_accumulation_steps=2, learning_rate=5e-4, warmup_ratio=0.0, seed=0, save_checkpoints=False,
        kd=KDSettings(mode="on_policy", top_k=8, loss="reverse_kl",
                      on_policy=OnPolicySettings(teacher_endpoint=endpoint, sampling={"max_new_tokens": 12},
                                                 **over)))


def test_served_scores_equal_the_in_process_teacher(server, smollm2_path):
    tok = AutoTokenizer.from_pretrained(smollm2_path)
    seqs = [tok("The sum of 2 and 3 is 5.")["input_ids"], tok("Let x be a prime; then x > 1.")["input_ids"]]
    starts = [3, 4]
    served = score_sequences(_endpoint(server, "parity"), seqs, starts, k=5)
    teacher = AutoModelForCausalLM.from_pretrained(smollm2_path).eval()
    for seq, start, got in zip(seqs, starts, served):
        labels = torch.tensor([[-100] * start + seq[start:]])
        ids, lps = teacher_topk(teacher, torch.tensor([seq]), labels, 5)
        assert got.ids.tolist() == ids.tolist()
        torch.testing.assert_close(torch.from_numpy(got.logprobs), lps, atol=1e-4, rtol=0)


def test_scoring_retries_through_the_api_client(server):
    flaky = _endpoint(server, "retries", {"x-fail-first": "2"}, max_retries=3)
    got = score_sequences(flaky, [[1, 2, 3, 4], [5, 6, 7]], [1, 1], k=3)
    assert [g.ids.shape for g in got] == [(3, 3), (2, 3)]
    assert server.stats("retries") == {"completions": 2, "tokens": 7, "503": 2}
    down = _endpoint(server, "gives-up", {"x-fail-first": "5"}, max_retries=1)
    with pytest.raises(TeacherScoringError, match="HTTP 503.*gave up after 2 attempts"):
        score_sequences(down, [[1, 2, 3]], [1], k=3)


def test_on_policy_steps_with_a_served_teacher(server, smollm2_path, data_dir, tmp_path):
    student = truncated_student(smollm2_path, tmp_path / "student")
    result = run_train(_config(tmp_path, data_dir, student, _endpoint(server, "steps"), sft_mix=0.2))
    log = json.loads(result.log_path.read_text())
    assert result.steps == 1 and log[0]["kd_loss"] > 0 and log[0]["ce_loss"] > 0
    assert log[0]["loss"] == pytest.approx(0.8 * log[0]["kd_loss"] + 0.2 * log[0]["ce_loss"], rel=1e-4)
    # one probe before training, then every generated sequence of the step (2 micro-batches x 2)
    assert server.stats("steps")["completions"] == 1 + 4
    assert log[0]["teacher_s"] > 0 and 4 <= log[0]["generated_tokens"] <= 4 * 12


def test_server_without_prompt_logprobs_stops_before_training(server, echo_server, smollm2_path,
                                                              data_dir, tmp_path):
    quiet = _endpoint(server, "quiet", {"x-no-logprobs": "1"})
    with pytest.raises(TeacherScoringError, match="returned no prompt_logprobs"):
        run_train(_config(tmp_path, data_dir, smollm2_path, quiet))
    assert not (tmp_path / "o" / "model").exists() and not (tmp_path / "o" / "trainer_log.json").exists()
    katan = EndpointConfig(name="katan", base_url=echo_server.base_url, model=echo_server.model)
    with pytest.raises(ThoughtDistillError, match="POST /v1/completions with prompt_logprobs"):
        run_train(_config(tmp_path, data_dir, smollm2_path, katan))


def test_served_teacher_with_another_tokenizer_is_refused(server, smollm2_path, tiny_qwen3_path,
                                                         data_dir, tmp_path):
    other = _endpoint(server, "other-tokenizer", {"x-decode-tokenizer": str(_bpe_tokenizer(tmp_path / "tok"))})
    with pytest.raises(ConfigError, match="share a tokenizer") as err:
        run_train(_config(tmp_path, data_dir, smollm2_path, other))
    assert str(smollm2_path) in str(err.value) and "teacher server 'teacher'" in str(err.value)
    # a named teacher tokenizer is compared in full before anything is sent
    cfg = _config(tmp_path, data_dir, smollm2_path, other)
    cfg.kd.teacher = str(tiny_qwen3_path)
    with pytest.raises(ConfigError, match="share a tokenizer"):
        run_train(cfg)
    assert server.stats("other-tokenizer")["completions"] == 1  # only the first run's probe


def test_key_never_appears_in_errors(server, monkeypatch):
    monkeypatch.setenv("TEACHER_KEY", "sk-secret-123456")
    leaky = _endpoint(server, "leak", {"x-echo-auth": "1"}, api_key_env="TEACHER_KEY")
    with pytest.raises(TeacherScoringError) as err:
        score_sequences(leaky, [[1, 2, 3]], [1], 2)
    assert "HTTP 400" in str(err.value) and "sk-secret" not in str(err.value) and "***" in str(err.value)


def _bpe_tokenizer(out: Path) -> Path:
    """A real tokenizer of another family: byte-level BPE trained here on a few sentences."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    text = ["Find the sum of all primes below ten.", "Let x be a real number; then x squared is positive."] * 50
    tok.train_from_iterator(text, trainers.BpeTrainer(vocab_size=400, special_tokens=["<|im_end|>"]))
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>").save_pretrained(out)
    return out
