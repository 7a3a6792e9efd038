"""White-box KD: loss functions over the teacher's top-k, a collator that looks the teacher's
distributions up by sample id, and an SFTTrainer subclass whose ``compute_loss`` mixes CE and KD.

Why not TRL's GKDTrainer / DistillationTrainer: they are on-policy (student generations
scored by a teacher) and need the full teacher in memory (or a vLLM server) on every step;
they cannot read precomputed top-k log-probs stored next to the data. This is off-policy KD
on the teacher's or selected chains, which is what EasyDistill's kd_white_box does.

Normalisation: every loss term is summed over supervised tokens and divided once by the
number of supervised tokens in the whole optimiser step (``num_items_in_batch``, summed over
gradient-accumulation micro-batches and devices), the same way transformers normalises CE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from trl import SFTTrainer
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from .teacher import TopKStore, teacher_topk


def kd_token_loss(
    student_logits: torch.Tensor,
    teacher_ids: torch.Tensor,
    teacher_logprobs: torch.Tensor,
    kind: str = "forward_kl",
    temperature: float = 1.0,
    beta: float = 0.5,
) -> torch.Tensor:
    """Per-token divergence [N] between teacher top-k and student.

    The teacher distribution is its top-k renormalised (softmax of logprobs/T over the k).
    forward_kl: sum_k p_t (log p_t - log p_s) with the student's full-vocabulary log-probs at
    the k ids (so mass outside the teacher's top-k is also penalised); reverse_kl and jsd
    compare with the student renormalised over the same k ids.
    """
    s_lp = F.log_softmax(student_logits.float() / temperature, dim=-1).gather(-1, teacher_ids.long())
    t_lp = F.log_softmax(teacher_logprobs.float() / temperature, dim=-1)
    p = t_lp.exp()
    if kind == "forward_kl":
        loss = (p * (t_lp - s_lp)).sum(-1)
    else:
        q_lp = F.log_softmax(s_lp, dim=-1)
        q = q_lp.exp()
        if kind == "reverse_kl":
            loss = (q * (q_lp - t_lp)).sum(-1)
        elif kind == "jsd":
            m_lp = torch.logsumexp(torch.stack([t_lp + np.log(beta), q_lp + np.log(1 - beta)]), dim=0)
            loss = beta * (p * (t_lp - m_lp)).sum(-1) + (1 - beta) * (q * (q_lp - m_lp)).sum(-1)
        else:
            raise ValueError(f"unknown KD loss {kind!r}")
    return loss * temperature**2


@dataclass
class KDCollator:
    """Pads (or concatenates, padding-free) like TRL's collator and adds the teacher's top-k,
    fetched by ``sample_id`` so that shuffling can never pair a sample with another's logits."""

    pad_token_id: int
    padding_free: bool
    store: TopKStore | None = None

    def __post_init__(self):
        self._base = DataCollatorForLanguageModeling(pad_token_id=self.pad_token_id, padding_free=self.padding_free)

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        core = [{"input_ids": e["input_ids"], "labels": e["labels"]} for e in examples]
        batch = self._base(core)
        if self.store is not None:
            ids, lps = [], []
            for e in examples:
                i, lp = self.store.get(e["sample_id"], e["input_ids"])
                n_sup = sum(1 for x in e["labels"][1:] if x != -100)
                if len(i) != n_sup:
                    raise RuntimeError(f"sample {e['sample_id']}: {len(i)} stored positions, {n_sup} supervised")
                ids.append(i.astype(np.int64))
                lps.append(lp.astype(np.float32))
            batch["teacher_ids"] = torch.from_numpy(np.concatenate(ids))
            batch["teacher_logprobs"] = torch.from_numpy(np.concatenate(lps))
        return batch


class KDTrainer(SFTTrainer):
    """SFTTrainer whose loss is (1-alpha)*CE + alpha*KD, both over supervised tokens."""

    def __init__(self, *args, kd_settings=None, teacher_model=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kd = kd_settings
        self.teacher_model = teacher_model
        self.model_accepts_loss_kwargs = True  # we normalise by num_items_in_batch ourselves
        self._kd_sums = {"kd_loss": 0.0, "ce_loss": 0.0, "n": 0}

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        t_ids = inputs.pop("teacher_ids", None)
        t_lp = inputs.pop("teacher_logprobs", None)
        labels = inputs.pop("labels")
        for key in ("cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k", "seq_idx"):
            inputs.pop(key, None)
        outputs = model(**inputs, use_cache=False)
        logits = outputs.logits[:, :-1]
        targets = labels[:, 1:]
        mask = targets != -100
        s_logits = logits[mask]
        if t_ids is None:  # on the fly
            t_ids, t_lp = teacher_topk(
                self.teacher_model, inputs["input_ids"], labels, self.kd.top_k,
                attention_mask=inputs.get("attention_mask"), position_ids=inputs.get("position_ids"),
            )
        t_ids, t_lp = t_ids.to(s_logits.device), t_lp.to(s_logits.device)
        ce = F.cross_entropy(s_logits.float(), targets[mask], reduction="sum")
        kd = kd_token_loss(s_logits, t_ids, t_lp, self.kd.loss, self.kd.temperature, self.kd.jsd_beta).sum()
        denom = num_items_in_batch if num_items_in_batch is not None else mask.sum()
        if isinstance(denom, torch.Tensor):
            denom = denom.to(s_logits.device)
        loss = ((1 - self.kd.alpha) * ce + self.kd.alpha * kd) / denom
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes
        n = int(mask.sum())
        self._kd_sums["kd_loss"] += float(kd.detach())
        self._kd_sums["ce_loss"] += float(ce.detach())
        self._kd_sums["n"] += n
        return (loss, outputs) if return_outputs else loss

    def log(self, logs, start_time=None):
        if self._kd_sums["n"] and "loss" in logs:
            n = self._kd_sums["n"]
            logs["kd_loss"] = self._kd_sums["kd_loss"] / n
            logs["ce_loss"] = self._kd_sums["ce_loss"] / n
            self._kd_sums = {"kd_loss": 0.0, "ce_loss": 0.0, "n": 0}
        return super().log(logs, start_time)
