"""The outcome of one rule-based check, convertible to the record's ``correctness``."""

from __future__ import annotations

from dataclasses import dataclass

from ..records import Correctness


@dataclass(frozen=True)
class VerifyResult:
    """``verdict``: True/False, or None when the check could not decide (no gold answer,
    nothing to run, an internal failure). ``by`` names the verifier, ``detail`` says why."""

    verdict: bool | None
    by: str
    detail: str = ""

    def to_correctness(self) -> Correctness:
        return Correctness(verdict=self.verdict, by=self.by, detail=self.detail or None)

    def __bool__(self) -> bool:  # truthy only when verified correct
        return self.verdict is True
