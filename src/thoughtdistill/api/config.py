"""Endpoint (teacher/judge/student server) configuration."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from ..config import StageConfig, secret_from_env
from ..stage_io import EnvName

# Sent when an endpoint needs no key (local vLLM, llama.cpp, llm-katan): llm-katan only
# checks that an Authorization header is present. Not a secret.
NO_KEY_BEARER = "no-key"


class EndpointConfig(StageConfig):
    """One OpenAI-compatible endpoint: where it is, how hard to push it, how to sample.

    The key is never stored here: ``api_key_env`` names the environment variable holding it
    (``None`` for local servers that need no key).
    """

    name: str = Field(min_length=1, description="endpoint name; also the chain's teacher unless `teacher` is set")
    base_url: str = Field(description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    model: str = Field(min_length=1, description="model name the endpoint serves")
    teacher: str | None = Field(default=None, description="label written into chains (default: name)")
    api_key_env: EnvName[str | None] = Field(default=None, description="environment variable holding the key")
    headers: dict[str, str] = Field(default_factory=dict, description="extra non-secret headers")
    # rate control
    concurrency: int = Field(default=16, ge=1, le=4096, description="requests in flight")
    pacing: Literal["auto"] | float = Field(
        default="auto",
        description="least seconds between two request starts; 'auto': half a mean latency "
                    "divided by concurrency (twice the rate concurrency allows, so never the "
                    "limit, but no bursts); 0: off")
    rpm: float | None = Field(default=None, gt=0, description="requests per minute")
    tpm: float | None = Field(default=None, gt=0, description="tokens (prompt+completion) per minute")
    max_retries: int = Field(default=8, ge=0, description="retries of a retryable failure (rate "
                             "limits, server errors, timeouts)")
    backoff_base_s: float = Field(default=0.5, ge=0, description="retry wait: up to base x 2^(attempt-1), "
                                   "jittered, at most backoff_max_s")
    backoff_max_s: float = Field(default=60.0, gt=0, description="longest retry wait")
    timeout_s: float = Field(default=600.0, gt=0, description="whole-request timeout")
    connect_timeout_s: float = Field(default=10.0, gt=0, description="connection timeout")
    stream: bool = Field(default=False, description="stream responses")
    supports_n: Literal["auto"] | bool = Field(default="auto", description="whether the server honours n "
                                               "(auto: probed)")
    # default sampling (None: not sent, the server's default applies)
    temperature: float | None = Field(default=None, ge=0, description="sampling temperature")
    top_p: float | None = Field(default=None, gt=0, le=1, description="nucleus sampling mass")
    max_tokens: int | None = Field(default=None, ge=1, description="completion budget")
    seed: int | None = Field(default=None, description="sampling seed")
    extra_body: dict[str, Any] = Field(default_factory=dict, description="extra JSON fields sent as-is")
    # cost and share
    price_per_1m_prompt: float = Field(default=0.0, ge=0, description="price per million prompt tokens")
    price_per_1m_completion: float = Field(default=0.0, ge=0, description="price per million completion tokens")
    weight: float = Field(default=1.0, gt=0, description="share of the questions under assign: split")
    quota: int | None = Field(default=None, ge=0, description="most questions this endpoint answers")

    @field_validator("pacing")
    @classmethod
    def _pacing(cls, value: str | float) -> str | float:
        if value != "auto" and value < 0:
            raise ValueError("pacing must be 'auto' or seconds >= 0")
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    @property
    def label(self) -> str:
        return self.teacher or self.name

    def api_key(self) -> str:
        """The key from the environment (or the dummy bearer for key-less local servers)."""
        return secret_from_env(self.api_key_env, purpose=f"endpoint '{self.name}'") or NO_KEY_BEARER

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.price_per_1m_prompt + completion_tokens * self.price_per_1m_completion) / 1e6
