"""On-policy distillation (``kd.mode: on_policy``): the student samples, the teacher grades every token.

GKD (Agarwal et al., 2024): for a batch of prompts from the selected data, the current
student samples completions (thinking mode, ``kd.on_policy.sampling``); the teacher's top-k
log-probabilities at every generated position are obtained, in process (an HF folder) or
from a served teacher (vLLM ``prompt_logprobs``, :mod:`thoughtdistill.api.scoring`); the
student minimises ``kd.loss`` (reverse KL, or generalised JSD with ``kd.jsd_beta``) over its
own tokens, optionally mixed with CE on the dataset chains (``kd.on_policy.sft_mix``).

Normalisation: the KD term is summed over generated tokens and divided once by the number of
tokens generated in the whole optimiser step (all gradient-accumulation micro-batches and
processes); the CE term likewise over the step's supervised dataset tokens.

Why not TRL's ``GKDTrainer``: its teacher is a model in process whose full logits are
compared, so a served teacher (how a 32B+ teacher is used) cannot be plugged in; its
``lmbda`` picks either student samples or dataset batches per step instead of mixing the two
losses; and the Trainer counts ``num_items_in_batch`` from the dataset labels before
generation, so the loss is not normalised over the generated tokens. TRL's served-teacher
variant (experimental ``ServerDistillationTrainer``) restricts reverse KL / JSD to the top-1
token. Here the loss is ``kd.kd_token_loss`` over the teacher's top-k (the same functions as
off-policy white-box KD), whichever teacher scored the tokens.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from trl import SFTTrainer
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from ..errors import ConfigError
from .config import TrainConfig
from .kd import kd_token_loss
from .onpolicy_config import OnPolicySettings
from .render import end_of_turn_ids
from .teacher import teacher_topk

MODEL_KEYS = ("input_ids", "labels", "attention_mask", "position_ids")


def settings_of(config: TrainConfig) -> OnPolicySettings:
    return config.kd.on_policy or OnPolicySettings()


def prompt_length(labels) -> int:
    """Tokens before the first supervised one: the inference prompt (checked by check_rendering)."""
    return next(i for i, x in enumerate(labels) if x != -100)


# ---------------------------------------------------------------- checks before training


def check_prompt_budget(dataset, max_length: int, max_new_tokens: int) -> None:
    """Every prompt must leave room for a whole completion inside ``max_length``."""
    room = max_length - max_new_tokens
    lengths = ((sid, prompt_length(labels)) for sid, labels in zip(dataset["sample_id"], dataset["labels"]))
    over = [(sid, n) for sid, n in lengths if n > room]
    if over:
        sid, n = over[0]
        raise ConfigError(
            f"on-policy: {len(over)} prompt(s) do not leave room for kd.on_policy.sampling.max_new_tokens="
            f"{max_new_tokens} within max_length={max_length}, e.g. sample {sid} (prompt {n} tokens): raise "
            "max_length, lower max_new_tokens or filter long questions out")


def check_served_teacher(endpoint, tokenizer, student_name: str, example: dict, k: int) -> None:
    """Reachable, key accepted, model served; it returns top-k prompt log-probs for our token
    ids; and it decodes those ids as the student's tokenizer does (a different tokenizer
    family is refused here even when no teacher tokenizer folder is named)."""
    from ..api.engine import check_endpoints, run_sync
    from ..api.scoring import score_sequences

    run_sync(check_endpoints([endpoint]))
    ids = list(example["input_ids"])
    start = prompt_length(example["labels"])
    scores = score_sequences(endpoint, [ids], [start], k)[0]
    pairs = [(tok, tokenizer.decode([tid]), served) for tid, tok, served
             in zip(ids[start:], tokenizer.convert_ids_to_tokens(ids[start:]), scores.decoded) if served is not None]
    differ = [(tok, mine, served) for tok, mine, served in pairs if mine != served]
    if pairs and len(differ) > len(pairs) // 2:
        tok, mine, served = differ[0]
        raise ConfigError(
            f"on-policy KD needs the student and teacher to share a tokenizer: student {student_name} and teacher "
            f"server '{endpoint.name}' (model {endpoint.model}) decode {len(differ)}/{len(pairs)} token ids "
            f"differently, e.g. {tok!r}: {mine!r} (student) vs {served!r} (teacher)")


def check_on_policy(config: TrainConfig, tokenizer, dataset, student_name: str) -> None:
    """Everything on-policy needs, before the student is loaded (the in-process teacher's
    tokenizer is compared by run_train like any white-box teacher's)."""
    settings = settings_of(config)
    check_prompt_budget(dataset, config.max_length, settings.sampling.max_new_tokens)
    if settings.teacher_endpoint is not None:
        check_served_teacher(settings.teacher_endpoint, tokenizer, student_name, dataset[0], config.kd.top_k)


# ---------------------------------------------------------------- sampling and scoring


def generation_kwargs(settings: OnPolicySettings, eos_ids: set[int], pad_id: int) -> dict[str, Any]:
    s = settings.sampling.resolved(enable_thinking=True)
    out: dict[str, Any] = {"max_new_tokens": s.max_new_tokens, "pad_token_id": pad_id,
                           "eos_token_id": sorted(eos_ids), "use_cache": True, "do_sample": s.temperature > 0}
    if out["do_sample"]:
        out.update(temperature=s.temperature, top_p=s.top_p, top_k=s.top_k or 0)
        if s.min_p:
            out["min_p"] = s.min_p
    return out


def sample_completions(model, prompts: list[list[int]], gen_kwargs: dict[str, Any], eos_ids: set[int]):
    """One completion per prompt (left-padded batch), cut after its first end-of-turn token."""
    device = next(model.parameters()).device
    width = max(map(len, prompts))
    ids = torch.full((len(prompts), width), gen_kwargs["pad_token_id"], dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt):] = torch.tensor(prompt)
        mask[row, width - len(prompt):] = 1
    with torch.no_grad():
        out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **gen_kwargs)
    completions = []
    for row in out[:, width:].tolist():
        end = next((i for i, tok in enumerate(row) if tok in eos_ids), None)
        completions.append(row if end is None else row[: end + 1])
    return completions


class InProcessTeacher:
    def __init__(self, model, k: int):
        self.model, self.k = model, k

    def score_step(self, micro_batches: list[tuple[dict, list[dict]]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Teacher top-k (ids, logprobs) [generated tokens, k] of each (collated batch, examples)."""
        return [teacher_topk(self.model, b["input_ids"], b["labels"], self.k, attention_mask=b.get("attention_mask"),
                             position_ids=b.get("position_ids")) for b, _ in micro_batches]


class ServedTeacher:
    def __init__(self, endpoint, k: int, vocab_size: int):
        self.endpoint, self.k, self.vocab_size = endpoint, k, vocab_size

    def score_step(self, micro_batches: list[tuple[dict, list[dict]]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """All sequences of the step in one concurrent round of requests (with batch size 1 and
        gradient accumulation, scoring micro-batch by micro-batch would send one at a time)."""
        from ..api.scoring import TeacherScoringError, score_sequences

        examples = [e for _, exs in micro_batches for e in exs]
        scores = iter(score_sequences(self.endpoint, [e["input_ids"] for e in examples],
                                      [prompt_length(e["labels"]) for e in examples], self.k))
        out = []
        for batch, exs in micro_batches:
            mine = [next(scores) for _ in exs]
            ids = np.concatenate([s.ids for s in mine])
            if ids.size and ids.max() >= self.vocab_size:
                raise TeacherScoringError(f"teacher server '{self.endpoint.name}' returned token id {int(ids.max())}, "
                                          f"beyond the student's {self.vocab_size} embeddings: another tokenizer")
            device = batch["input_ids"].device
            out.append((torch.from_numpy(ids).to(device),
                        torch.from_numpy(np.concatenate([s.logprobs for s in mine])).to(device)))
        return out


# ---------------------------------------------------------------- trainer


class OnPolicyCollator:
    """Keeps each example's prompt for sampling; adds the collated chains when CE is mixed in."""

    def __init__(self, pad_token_id: int, padding_free: bool, with_chains: bool):
        self.base = DataCollatorForLanguageModeling(pad_token_id=pad_token_id, padding_free=padding_free)
        self.with_chains = with_chains

    def model_batch(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        batch = self.base([{"input_ids": e["input_ids"], "labels": e["labels"]} for e in examples])
        return {k: v for k, v in batch.items() if k in MODEL_KEYS}

    def __call__(self, examples: list[dict]) -> dict[str, Any]:
        out: dict[str, Any] = {"prompts": [list(e["input_ids"][: prompt_length(e["labels"])]) for e in examples]}
        if self.with_chains:
            out["chains"] = self.model_batch(examples)
        return out


class OnPolicyTrainer(SFTTrainer):
    """Each optimiser step: sample every micro-batch's completions from the current student,
    score them with the teacher, count the step's generated tokens, then update."""

    def __init__(self, *args, kd_settings, teacher, collator: OnPolicyCollator, **kwargs):
        super().__init__(*args, data_collator=collator, **kwargs)
        self.kd, self.teacher, self.collator = kd_settings, teacher, collator
        self.on_policy = kd_settings.on_policy or OnPolicySettings()
        self.model_accepts_loss_kwargs = True  # the loss is normalised by the step's token counts here
        tok = self.processing_class
        self.eos_ids = end_of_turn_ids(tok)
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        self.gen_kwargs = generation_kwargs(self.on_policy, self.eos_ids, pad)
        self.sums: dict[str, float] = defaultdict(float)

    # -- rollouts ---------------------------------------------------------------------------
    def _sample(self, raw: dict[str, Any], device) -> tuple[dict[str, Any], list[dict]]:
        """The current student's completions of one micro-batch's prompts, collated for training."""
        from trl.models.utils import unwrap_model_for_generation

        started = time.perf_counter()
        with unwrap_model_for_generation(self.model_wrapped, self.accelerator,
                                         gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs) as m:
            was_training = m.training
            m.eval()
            completions = sample_completions(m, raw["prompts"], self.gen_kwargs, self.eos_ids)
            m.train(was_training)
        self.sums["generate_s"] += time.perf_counter() - started
        self.sums["generated_tokens"] += sum(map(len, completions))
        self.sums["completions"] += len(completions)
        self.sums["stopped"] += sum(1 for c in completions if c[-1] in self.eos_ids)
        examples = [{"input_ids": p + c, "labels": [-100] * len(p) + c} for p, c in zip(raw["prompts"], completions)]
        batch = {k: v.to(device) for k, v in self.collator.model_batch(examples).items()}
        if "chains" in raw:
            batch["chains"] = raw["chains"]
        return batch, examples

    def _rollouts(self, raws: list[dict[str, Any]], device) -> list[dict[str, Any]]:
        sampled = [self._sample(raw, device) for raw in raws]
        started = time.perf_counter()
        scores = self.teacher.score_step(sampled)
        self.sums["teacher_s"] += time.perf_counter() - started
        for (batch, _), (t_ids, t_lp) in zip(sampled, scores):
            batch.update(teacher_ids=t_ids, teacher_logprobs=t_lp)
        return [batch for batch, _ in sampled]

    def _step_total(self, count: int, device) -> torch.Tensor:
        total = torch.tensor(count, device=device)
        return self.accelerator.gather(total).sum() if self.accelerator.num_processes > 1 else total

    def get_batch_samples(self, epoch_iterator, num_batches: int, device):
        raw = []
        for _ in range(num_batches):
            try:
                raw.append(next(epoch_iterator))
            except StopIteration:
                break
        rollouts = self._rollouts(raw, device)
        generated = self._step_total(sum(int((r["labels"][:, 1:] != -100).sum()) for r in rollouts), device)
        if self.on_policy.sft_mix > 0:
            chain_tokens = self._step_total(
                sum(int((r["chains"]["labels"][:, 1:] != -100).sum()) for r in rollouts), device)
            for r in rollouts:
                r["chain_tokens"] = chain_tokens
        return rollouts, generated

    # -- loss -------------------------------------------------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        t_ids, t_lp = inputs.pop("teacher_ids"), inputs.pop("teacher_logprobs")
        chains, chain_tokens = inputs.pop("chains", None), inputs.pop("chain_tokens", None)
        labels = inputs.pop("labels")
        outputs = model(**inputs, use_cache=False)
        mask = labels[:, 1:] != -100
        kd = kd_token_loss(outputs.logits[:, :-1][mask], t_ids, t_lp, self.kd.loss, self.kd.temperature,
                           self.kd.jsd_beta).sum()
        mix = self.on_policy.sft_mix
        loss = (1 - mix) * kd / num_items_in_batch
        self.sums["kd_sum"] += float(kd.detach())
        self.sums["kd_n"] += int(mask.sum())
        if chains is not None:
            ce = self._chain_ce(model, chains)
            loss = loss + mix * ce / chain_tokens
        # denominators are totals over all processes, and DDP averages gradients over them
        loss = loss * self.accelerator.num_processes
        return (loss, outputs) if return_outputs else loss

    def _chain_ce(self, model, chains: dict[str, torch.Tensor]) -> torch.Tensor:
        labels = chains["labels"]
        logits = model(**{k: v for k, v in chains.items() if k != "labels"}, use_cache=False).logits[:, :-1]
        mask = labels[:, 1:] != -100
        ce = F.cross_entropy(logits[mask].float(), labels[:, 1:][mask], reduction="sum")
        self.sums["ce_sum"] += float(ce.detach())
        self.sums["ce_n"] += int(mask.sum())
        return ce

    def training_step(self, model, inputs, num_items_in_batch=None):
        started = time.perf_counter()
        loss = super().training_step(model, inputs, num_items_in_batch)
        self.sums["update_s"] += time.perf_counter() - started
        return loss

    def log(self, logs, start_time=None):
        s = self.sums
        if "loss" in logs and s["completions"]:
            logs["kd_loss"] = s["kd_sum"] / max(1.0, s["kd_n"])
            if s["ce_n"]:
                logs["ce_loss"] = s["ce_sum"] / s["ce_n"]
            logs["generated_tokens"] = int(s["generated_tokens"])
            logs["completion_len"] = s["generated_tokens"] / s["completions"]
            logs["stopped_share"] = s["stopped"] / s["completions"]
            for key in ("generate_s", "teacher_s", "update_s"):
                logs[key] = round(s[key], 3)
            self.sums = defaultdict(float)
        return super().log(logs, start_time)


def build_on_policy_trainer(config: TrainConfig, model, args, dataset, tokenizer, peft_config, load_teacher):
    """The trainer with its teacher: ``load_teacher(path)`` loads an in-process teacher the way
    run_train loads models (dtype, attention); a served one is only an endpoint."""
    settings = settings_of(config)
    if settings.teacher_endpoint is not None:
        teacher = ServedTeacher(settings.teacher_endpoint, config.kd.top_k,
                                model.get_input_embeddings().weight.shape[0])
    else:
        teacher_model = load_teacher(config.kd.teacher).eval()
        teacher_model.requires_grad_(False)
        teacher = InProcessTeacher(teacher_model, config.kd.top_k)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    collator = OnPolicyCollator(pad, config.batching == "padding_free", settings.sft_mix > 0)
    trainer = OnPolicyTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                              peft_config=peft_config, kd_settings=config.kd, teacher=teacher, collator=collator)
    if isinstance(teacher, InProcessTeacher):
        teacher.model = teacher.model.to(trainer.accelerator.device)
    return trainer
