"""Rubric prompts for the LLM judge: Reasoning Verbosity, Cognitive Difficulty, correctness.

Presets:

- ``thoughtdistill`` (default): our rubric, with what each level band means and an anchored
  example per band, the reference answer shown to the correctness judge when the record
  has one, and one fixed output format (``<score>N</score>`` at the end).
- ``easydistill``: EasyDistill's own ``cot_eval`` judge prompts, read from the user's
  EasyDistill copy (its folder, or ``configs/prompts/default_cot_eval_prompts.yaml`` given as
  ``rubric_file``), for scores comparable with OmniThought's. thoughtdistill ships none of
  that text; without the file the preset is an error that says what to point at.

A custom rubric is a YAML/JSON mapping ``{Reasoning_Verbosity: ..., Cognitive_Difficulty:
..., correctness: ...}`` of templates with ``{question}``, ``{chain}`` and (optional)
``{reference}`` placeholders; a file in EasyDistill's layout (``reasoning_verbosity``,
``cognitive_difficulty``, ``logical_correctness`` with ``{instruction}``/``{output}``) is read
as EasyDistill's prompts.
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

# The easydistill preset reads EasyDistill's own judge prompts from the user's EasyDistill copy
# (EasyDistill 2's file: metric -> prompt, placeholders {instruction} and {output}).
EASYDISTILL_PROMPTS_FILE = Path("configs/prompts/default_cot_eval_prompts.yaml")
EASYDISTILL_METRICS = {"reasoning_verbosity": "Reasoning_Verbosity", "cognitive_difficulty": "Cognitive_Difficulty",
                       "logical_correctness": "correctness"}
_EASYDISTILL_PLACEHOLDER = re.compile(r"\{(instruction|output)\}")
_EASYDISTILL_RENAMED = {"instruction": "{question}", "output": "{chain}"}
NEED_EASYDISTILL = (
    "the easydistill rubric reads EasyDistill's own judge prompts: set rubric_file (--rubric-file) to your "
    f"EasyDistill folder or its {EASYDISTILL_PROMPTS_FILE}"
)

PRESETS = ("thoughtdistill", "easydistill")

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
    """A preset, with ``path`` overriding it: a YAML/JSON file of templates per metric (missing
    metrics keep the preset's), or EasyDistill's judge prompts (its folder or prompts file),
    which the ``easydistill`` preset requires."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown rubric preset {preset!r}; choose one of {sorted(PRESETS)}")
    if path is None:
        if preset == "easydistill":
            raise ConfigError(NEED_EASYDISTILL)
        return Rubric(preset, OURS)
    if preset == "easydistill" or is_easydistill_prompts(path):
        return Rubric("easydistill", read_easydistill_prompts(path))
    return Rubric(Path(path).stem, {**OURS, **read_template_file(path)})


def read_template_file(path: str | Path) -> dict[str, str]:
    """Templates per metric from a YAML/JSON mapping ``{metric: template}`` (our metric names)."""
    data = read_config_file(path)
    unknown = set(data) - set(METRICS)
    if unknown:
        raise ConfigError(f"{path}: unknown metrics {sorted(unknown)}; use {list(METRICS)} "
                          f"(or EasyDistill's {list(EASYDISTILL_METRICS)})")
    for metric, text in data.items():
        _check_template(path, metric, text, "{chain}")
    return dict(data)


def easydistill_prompts_path(path: str | Path) -> Path:
    """EasyDistill's prompts file: ``path`` itself, or the one inside an EasyDistill folder."""
    path = Path(path).expanduser()
    if path.is_dir():
        inside = path / EASYDISTILL_PROMPTS_FILE
        if not inside.is_file():
            raise ConfigError(f"{path}: no {EASYDISTILL_PROMPTS_FILE} in this folder; {NEED_EASYDISTILL}")
        return inside
    if not path.is_file():
        raise ConfigError(f"{path}: not found; {NEED_EASYDISTILL}")
    return path


def is_easydistill_prompts(path: str | Path) -> bool:
    path = Path(path).expanduser()
    if path.is_dir():
        return True
    return path.is_file() and bool(set(read_config_file(path)) & set(EASYDISTILL_METRICS))


def read_easydistill_prompts(path: str | Path) -> dict[str, str]:
    """EasyDistill's judge prompts as templates per metric, placeholders renamed to ours."""
    path = easydistill_prompts_path(path)
    data = read_config_file(path)
    missing = [key for key in EASYDISTILL_METRICS if key not in data]
    if missing:
        raise ConfigError(f"{path}: not EasyDistill's CoT judge prompts (no {', '.join(missing)}); "
                          f"{NEED_EASYDISTILL}")
    templates = {}
    for key, metric in EASYDISTILL_METRICS.items():
        _check_template(path, key, data[key], "{output}")
        templates[metric] = _EASYDISTILL_PLACEHOLDER.sub(lambda m: _EASYDISTILL_RENAMED[m.group(1)], data[key])
    return templates


def _check_template(path: str | Path, field: str, text: object, chain_placeholder: str) -> None:
    if not isinstance(text, str) or chain_placeholder not in text:
        raise ConfigError(f"{path}: field '{field}': must be a template with a {chain_placeholder} "
                          "placeholder (where the chain goes)")
