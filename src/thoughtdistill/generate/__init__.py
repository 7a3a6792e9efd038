"""``thoughtdistill generate``: chains of thought from one or more teachers."""

from .core import GenerateConfig, GenerateResult, TeacherEstimate, make_chain, run_generate
from .prompts import PRESETS, PromptBuilder

__all__ = ["GenerateConfig", "GenerateResult", "PRESETS", "PromptBuilder", "TeacherEstimate",
           "make_chain", "run_generate"]
