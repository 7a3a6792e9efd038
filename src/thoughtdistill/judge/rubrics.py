"""Rubric prompts for the LLM judge: Reasoning Verbosity, Cognitive Difficulty, correctness.

Presets:

- ``thoughtdistill`` (default): our rubric, with what each level band means and an anchored
  example per band, the reference answer shown to the correctness judge when the record
  has one, and one fixed output format (``<score>N</score>`` at the end).
- ``easydistill``: the EasyDistill ``cot_eval_api`` prompts (EasyDistill
  ``configs/prompts/default_cot_eval_prompts.yaml``, Apache-2.0, © Alibaba Group), verbatim,
  for scores comparable with OmniThought's.

A custom rubric is a YAML/JSON mapping ``{Reasoning_Verbosity: ..., Cognitive_Difficulty:
..., correctness: ...}`` of templates with ``{question}``, ``{chain}`` and (optional)
``{reference}`` placeholders.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Literal

from ..config import read_config_file
from ..errors import ConfigError

Metric = Literal["Reasoning_Verbosity", "Cognitive_Difficulty", "correctness"]
METRICS: tuple[str, ...] = ("Reasoning_Verbosity", "Cognitive_Difficulty", "correctness")
_PLACEHOLDER = re.compile(r"\{(question|chain|reference)\}")
SHORT = {"Reasoning_Verbosity": "rv", "Cognitive_Difficulty": "cd", "correctness": "correct"}

_OUTPUT_LEVEL = (
    "First write at most a few sentences of analysis. Then end your reply with the score in "
    "score tags: <score>N</score>, where N is a single integer from 0 to 9."
)
_OUTPUT_BOOL = (
    "First write at most a few sentences of analysis. Then end your reply with your verdict in "
    "score tags: <score>N</score>, where N is 1 if the reasoning is valid and the final answer "
    "is correct, and 0 otherwise."
)

OURS = {
    "Reasoning_Verbosity": """You are grading the Reasoning Verbosity (RV) of a chain of thought: how much \
re-checking, exploration and elaboration the chain does relative to what the problem needs. \
Judge the chain's behaviour, not the problem's difficulty and not whether the answer is right.

Bands (pick the band first, then the lower or upper number within it):
0-1 Direct. The result with one or two steps and no checking.
    Anchor: "What is 7 x 8?" answered "7 x 8 = 56."
2-3 Concise. Each needed step once, short justifications, at most one quick check.
    Anchor: a two-step linear equation solved line by line, then substituted back once.
4-5 Moderate. Steps explained in full, the result checked, perhaps one alternative considered.
    Anchor: a probability question solved directly, then confirmed by counting the complement.
6-7 Extensive. Several approaches or a long case analysis, repeated verification, some \
backtracking ("wait, let me re-check").
    Anchor: a geometry problem tried with coordinates, abandoned, redone with similar \
triangles, then verified numerically.
8-9 Exhaustive. Many restarts and long loops of doubt and re-verification, far beyond what \
the problem needs.
    Anchor: the answer is found early, then re-derived and re-checked five or more times.

Problem:
{question}

Chain of thought and answer:
{chain}

""" + _OUTPUT_LEVEL,
    "Cognitive_Difficulty": """You are grading the Cognitive Difficulty (CD) of a chain of thought: how \
advanced the knowledge and techniques are that the chain uses, i.e. what competence a model \
needs to follow and reproduce it. Judge the reasoning actually used, not its length.

Bands (pick the band first, then the lower or upper number within it):
0-1 Elementary facts or one trivial operation.
    Anchor: recalling a capital city; adding two small numbers.
2-3 Multi-step arithmetic, explicit enumeration, basic rule chaining.
    Anchor: a grade-school word problem (rates, change, unit prices) in three or four steps.
4-5 High-school or early-undergraduate algebra, geometry or logic with one non-obvious insight.
    Anchor: a competition problem solved with Vieta's formulas or a clever substitution.
6-7 Advanced undergraduate techniques, several ideas combined.
    Anchor: an AIME-level counting problem with generating functions; a dynamic programme \
over subsets; reasoning about code across several layers of calls.
8-9 Graduate-level abstraction or olympiad depth: nested proofs, intricate algorithmic analysis.
    Anchor: an IMO-style inequality proof; proving an amortised complexity bound.

Problem:
{question}

Chain of thought and answer:
{chain}

""" + _OUTPUT_LEVEL,
    "correctness": """You are checking a chain of thought for correctness. Decide whether its reasoning \
is logically valid (no contradictions, no unsupported leaps, the problem's constraints \
respected) and whether its final answer is correct.{reference}

Problem:
{question}

Chain of thought and answer:
{chain}

""" + _OUTPUT_BOOL,
}

# EasyDistill cot_eval_api prompts (Apache-2.0), placeholders renamed {instruction}->{question},
# {output}->{chain}; text otherwise unchanged.
EASYDISTILL = {
    "Reasoning_Verbosity": """You are an expert judge tasked with evaluating the Reasoning Verbosity of a Chain-of-Thought (CoT) for a given problem and its answer. Reasoning Verbosity Evaluation Focus: Assess how well the CoT's length and step complexity match the problem's inherent difficulty. An optimal chain is neither missing essential steps nor padded with needless digressions. A simple question should be solved with a brief, direct chain; a challenging one may justifiably require a longer path with reflection and error-checking. Scoring Guidelines (0-9):
0-1 Minimal verbosity, straightforward expression with little to no elaboration.
2-3 Clear and concise reasoning with necessary explanations.
4-5 Moderate verbosity with detailed explanations and thorough reasoning.
6-7 Extensive verbosity with comprehensive justification and exploration of complex connections.
8-9 High verbosity with deep, exhaustive exploration of reasoning; involves extensive elaboration, nested justifications, and consideration of counterarguments or alternative perspectives.
Given Problem, Answer with Chain-of-Thought, you will:
1. Analyze the Reasoning Verbosity
2. Determine score using the above criteria
3. Output ONLY the integer score (0-9), place your score in <score></score>
Problem: {question}
Answer with Chain-of-Thought: {chain}
""",
    "Cognitive_Difficulty": """You are an expert judge assessing the Cognitive Difficulty of a Chain-of-Thought (CoT) for a given problem and its answer. Cognitive Difficulty Evaluation Focus: The level of reasoning competence required for a model to follow and reproduce the chain faithfully. Judge the reasoning approach, techniques, and overall difficulty. Higher scores correspond to more advanced concepts, abstractions, or multi-layer reasoning patterns. Scoring Guidelines (0-9):
0-1 Elementary facts or a single trivial operation.
2-3 Multi-step arithmetic, explicit enumeration, basic rule chaining.
4-5 Early-undergraduate logic/algebra; one non-obvious insight.
6-7 Advanced undergraduate techniques (determinants, dynamic programming, layered code reasoning, etc).
8-9 Graduate-level abstraction, nested proofs, intricate algorithmic analysis.
Given Problem, Answer with Chain-of-Thought, you will:
1. Analyze the Cognitive Difficulty
2. Determine a score using the above criteria
3. Output ONLY the integer score (0-9), place your score in <score></score>
Problem: {question}
Answer with Chain-of-Thought: {chain}
""",
    "correctness": """You are a rigorous logical validator analyzing problem-solving components. Your task is to separately assess the validity of the reasoning process and final solution. Given Problem, Answer with Chain-of-Thought, you will:
1. Verify stepwise logical coherence and soundness
2. Confirm all critical problem constraints are properly addressed
3. Check for self-contradictions or unsupported leaps in logic
4. Verify the process can actually derive the proposed solution
5. Output ONLY the 1/0 answer (1 for true, 0 for false) for logical correctness, place your answer in <score></score>
Problem: {question}
Answer with Chain-of-Thought: {chain}
""",
}

PRESETS = {"thoughtdistill": OURS, "easydistill": EASYDISTILL}

STRICT_LEVEL = (
    "Your reply above could not be read as a score. Reply again with nothing but the score "
    "in score tags, <score>N</score>, where N is one integer from 0 to 9. No other text."
)
STRICT_BOOL = (
    "Your reply above could not be read as a verdict. Reply again with nothing but the verdict "
    "in score tags, <score>N</score>, where N is 1 (correct) or 0 (incorrect). No other text."
)


def kind_of(metric: str) -> str:
    return "bool" if metric == "correctness" else "level"


def strict_instruction(metric: str) -> str:
    return STRICT_BOOL if metric == "correctness" else STRICT_LEVEL


class Rubric:
    """Templates for each metric; ``name`` and ``fingerprint`` identify it in provenance."""

    def __init__(self, name: str, templates: dict[str, str]):
        self.name = name
        self.templates = dict(templates)
        blob = "\x00".join(f"{m}={self.templates.get(m, '')}" for m in METRICS)
        self.fingerprint = hashlib.sha256(blob.encode()).hexdigest()[:10]

    def render(self, metric: str, question: str, chain: str, reference: str | None = None) -> str:
        if metric not in self.templates:
            raise ConfigError(f"rubric {self.name!r} has no template for {metric}")
        ref = f"\n\nA reference answer is known: {reference}" if reference else ""
        values = {"question": question, "chain": chain, "reference": ref}
        # one pass, so a "{chain}" inside the question text is left alone
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.templates[metric])


def load_rubric(preset: str = "thoughtdistill", path: str | Path | None = None) -> Rubric:
    """A preset, or a YAML/JSON file of templates (missing metrics fall back to the preset)."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown rubric preset {preset!r}; choose one of {sorted(PRESETS)}")
    templates = dict(PRESETS[preset])
    name = preset
    if path is not None:
        data = read_config_file(path)
        unknown = set(data) - set(METRICS)
        if unknown:
            raise ConfigError(f"{path}: unknown metrics {sorted(unknown)}; use {list(METRICS)}")
        for metric, text in data.items():
            if not isinstance(text, str) or "{chain}" not in text:
                raise ConfigError(f"{path}: field '{metric}': must be a template with a {{chain}} "
                                  "placeholder (where the chain goes)")
            templates[metric] = text
        name = f"{Path(path).stem}"
    return Rubric(name, templates)
