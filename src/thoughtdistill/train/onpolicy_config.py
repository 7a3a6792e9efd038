"""Settings of ``kd.mode: on_policy`` (``kd.on_policy`` in a train config)."""

from __future__ import annotations

from pydantic import Field

from ..api.config import EndpointConfig
from ..config import StageConfig
from ..evaluate.backends import Sampling


def _default_sampling() -> Sampling:
    return Sampling(max_new_tokens=1024)


class OnPolicySettings(StageConfig):
    """How the student samples and where the teacher that grades its tokens runs.

    The teacher is in process when ``teacher_endpoint`` is unset (``kd.teacher``, an HF
    folder), else an OpenAI-compatible server that scores token sequences (vLLM
    ``/v1/completions`` with ``prompt_logprobs``); ``kd.teacher`` then optionally names the
    served model's tokenizer (folder or hub id) for the full vocabulary check.
    """

    teacher_endpoint: EndpointConfig | None = Field(
        None, description="served teacher (vLLM) instead of loading kd.teacher in process")
    sampling: Sampling = Field(
        default_factory=_default_sampling,
        description="student sampling; unset temperature/top_p/top_k take Qwen3's thinking-mode values")
    sft_mix: float = Field(
        0.0, ge=0, le=1,
        description="loss = (1-sft_mix) * KD on the student's samples + sft_mix * CE on the dataset chains")
