"""The canonical record: one question with many reasoning chains.

A superset of the OmniThought / OmniThought-0528 row: every field those files carry is
kept (unknown fields ride along through ``extra="allow"``) and written back unchanged, so
reading and writing an OmniThought file loses nothing. Their per-chain correctness label
(``thought_correctness_verify``) is also read as the chain's ``correctness`` (by
``"omnithought"``), so stages that need a verdict find one.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LEVEL_MIN, LEVEL_MAX = 0, 9
FinishReason = Literal["stop", "length", "error"]
# OmniThought / OmniThought-0528 chains carry their correctness label under this name.
OMNITHOUGHT_VERDICT = "thought_correctness_verify"
OMNITHOUGHT_BY = "omnithought"


def omnithought_correctness(chain: dict[str, Any]) -> dict[str, Any] | None:
    """The ``correctness`` an OmniThought chain's ``thought_correctness_verify`` label gives
    (``{verdict, by: "omnithought", detail}``), or None when the chain has no such label."""
    label = chain.get(OMNITHOUGHT_VERDICT)
    if not isinstance(label, bool):
        return None
    return {"verdict": label, "by": OMNITHOUGHT_BY, "detail": OMNITHOUGHT_VERDICT}


def adopt_published_fields(chain: Any) -> Any:
    """A chain dict with its published labels mapped to canonical fields: OmniThought's
    ``thought_correctness_verify`` becomes ``correctness`` unless one is already there.
    The original field stays, so writing back gives the published layout again."""
    if isinstance(chain, dict) and chain.get("correctness") is None:
        derived = omnithought_correctness(chain)
        if derived is not None:
            return {**chain, "correctness": derived}
    return chain


def is_published_correctness(chain: dict[str, Any]) -> bool:
    """Whether a chain's ``correctness`` is exactly the one its OmniThought label gives."""
    derived = omnithought_correctness(chain)
    return derived is not None and chain.get("correctness") == derived


class _Open(BaseModel):
    """Base for schema parts: unknown fields are kept, not dropped."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        """The fields that were set, in JSON form: what a round trip must preserve."""
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)


class Annotation(_Open):
    """An OmniThought-style score: ``{"judge": "QwQ-32B", "level": 6}``."""

    judge: str | None = None
    level: int = Field(ge=LEVEL_MIN, le=LEVEL_MAX)


class Correctness(_Open):
    """Whether a chain is right, and who decided: a rule verifier or an LLM judge."""

    verdict: bool | None = None  # None: undecided (e.g. no checkable answer, judge unparsable)
    by: str = Field(description="the verifier or judge that decided, e.g. 'math-verify'")
    detail: str | None = None


class Judgment(_Open):
    """One judge's raw answer for one metric, kept for provenance and agreement."""

    judge: str
    metric: Literal["Reasoning_Verbosity", "Cognitive_Difficulty", "correctness"]
    level: int | None = Field(default=None, ge=LEVEL_MIN, le=LEVEL_MAX)
    verdict: bool | None = None
    raw: str | None = None
    ok: bool = True  # False: the answer could not be parsed; ``raw`` holds it


class Usage(_Open):
    prompt_tokens: int | None = Field(default=None, ge=0)
    completion_tokens: int | None = Field(default=None, ge=0)


class Chain(_Open):
    teacher: str | None = None
    thought: str | None = None
    solution: str | None = None
    full_response: str | None = None
    finish_reason: FinishReason | None = None
    truncated: bool | None = None
    usage: Usage | None = None
    Cognitive_Difficulty: Annotation | None = None
    Reasoning_Verbosity: Annotation | None = None
    correctness: Correctness | None = None
    judgments: list[Judgment] | None = None
    error: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _published_labels(cls, data: Any) -> Any:
        return adopt_published_fields(data)

    @model_validator(mode="after")
    def _has_text(self) -> "Chain":
        if self.finish_reason != "error" and not (self.full_response or self.thought or self.solution):
            raise ValueError("a chain needs full_response, thought or solution text")
        return self

    @property
    def text(self) -> str:
        """The chain as one text, for lengths and n-gram checks."""
        if self.full_response:
            return self.full_response
        return "\n".join(part for part in (self.thought, self.solution) if part)


def content_id(question: str) -> str:
    """Stable id from the question text (NFC-normalised, surrounding whitespace ignored)."""
    norm = unicodedata.normalize("NFC", question.strip())
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:16]


class Record(_Open):
    id: str = ""
    question: str = Field(min_length=1)
    answer: str | None = None
    domain: str | None = None
    source: str | None = None
    meta: dict[str, Any] | None = None
    reasoning: list[Chain] = Field(default_factory=list)

    @field_validator("answer", mode="before")
    @classmethod
    def _answer_to_text(cls, value: Any) -> Any:
        # Reference answers arrive as ints (AIME) or floats; they are compared as text.
        if isinstance(value, bool):
            raise ValueError("answer must be text or a number, not a boolean")
        return str(value) if isinstance(value, (int, float)) else value

    @field_validator("question")
    @classmethod
    def _question_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is blank")
        return value

    @model_validator(mode="after")
    def _fill_id(self) -> "Record":
        if not self.id:
            self.id = content_id(self.question)
        return self


def validation_field(exc: Exception) -> tuple[str | None, str]:
    """(dotted field path, message) of the first problem in a pydantic ValidationError."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return None, str(exc)
    first = errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return (loc or None), first.get("msg", str(exc))
